package store

import (
	"context"
	"fmt"
	"regexp"
	"time"
)

// ACMEAccount is a hub's ACME account at one CA: the account key (PEM)
// and the registration, as the issuer keeps them in its account
// directory. Several hubs on one NATS deployment share it through the
// store, so they order as one account and any of them can resume an order
// another placed. It lives in the hub's account, which no agent reaches.
type ACMEAccount struct {
	CA           string    `json:"ca"`
	Key          []byte    `json:"key"`
	Registration []byte    `json:"registration"`
	Updated      time.Time `json:"updated"`
}

var caNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func acmeKey(ca string) (string, error) {
	if !caNameRe.MatchString(ca) {
		return "", fmt.Errorf("ca name %q: want 1-64 characters of [A-Za-z0-9_-]", ca)
	}
	return ca, nil
}

// GetACMEAccount returns the shared account at ca, or ErrNotFound.
func (s *Store) GetACMEAccount(ctx context.Context, ca string) (ACMEAccount, error) {
	key, err := acmeKey(ca)
	if err != nil {
		return ACMEAccount{}, fmt.Errorf("get acme account: %w", err)
	}
	a, _, err := getValue[ACMEAccount](ctx, s, s.acme, key)
	if err != nil {
		return ACMEAccount{}, fmt.Errorf("get acme account %s: %w", ca, err)
	}
	return a, nil
}

// CreateACMEAccount stores a only if no account at a.CA is stored yet
// (ErrExists): the first hub to register wins, the others take its
// account.
func (s *Store) CreateACMEAccount(ctx context.Context, a ACMEAccount) error {
	key, err := acmeKey(a.CA)
	if err != nil {
		return fmt.Errorf("create acme account: %w", err)
	}
	if err := createValue(ctx, s, s.acme, key, a, 0); err != nil {
		return fmt.Errorf("create acme account %s: %w", a.CA, err)
	}
	return nil
}
