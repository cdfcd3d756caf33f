package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/certfleet/certfleet/hub"
)

// tsigNameRe: a TSIG key name is a DNS name (one label is fine, e.g.
// "certbot-key") of LDH labels and underscores, all valid KV key
// characters.
var tsigNameRe = regexp.MustCompile(`^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$`)

// TSIGName normalizes and checks a TSIG key name.
func TSIGName(name string) (string, error) {
	n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	if len(n) > 253 || !tsigNameRe.MatchString(n) {
		return "", fmt.Errorf("tsig key name %q: want a DNS name of letters, digits, '-' and '_'", name)
	}
	return n, nil
}

func tsigKey(name string) (string, error) { return TSIGName(name) }

// CreateTSIG stores a new TSIG key; ErrExists if the name is taken.
func (s *Store) CreateTSIG(ctx context.Context, k hub.TSIGKey) error {
	key, err := tsigKey(k.Name)
	if err != nil {
		return fmt.Errorf("create tsig key: %w", err)
	}
	k.Name = key
	if k.Secret == "" || k.Algorithm == "" {
		return fmt.Errorf("create tsig key %s: want an algorithm and a secret", key)
	}
	if err := createValue(ctx, s, s.tsig, key, k, 0); err != nil {
		return fmt.Errorf("create tsig key %s: %w", key, err)
	}
	return nil
}

// GetTSIG returns the key called name, or ErrNotFound.
func (s *Store) GetTSIG(ctx context.Context, name string) (hub.TSIGKey, error) {
	key, err := tsigKey(name)
	if err != nil {
		return hub.TSIGKey{}, fmt.Errorf("get tsig key: %w: %w", ErrNotFound, err)
	}
	k, _, err := getValue[hub.TSIGKey](ctx, s, s.tsig, key)
	if err != nil {
		return hub.TSIGKey{}, fmt.Errorf("get tsig key %s: %w", key, err)
	}
	return k, nil
}

// DeleteTSIG removes the key called name (ErrNotFound if absent).
func (s *Store) DeleteTSIG(ctx context.Context, name string) error {
	key, err := tsigKey(name)
	if err != nil {
		return fmt.Errorf("delete tsig key: %w: %w", ErrNotFound, err)
	}
	if err := deleteValue(ctx, s, s.tsig, key); err != nil {
		return fmt.Errorf("delete tsig key %s: %w", key, err)
	}
	return nil
}

// ListTSIG returns every key, by name.
func (s *Store) ListTSIG(ctx context.Context) ([]hub.TSIGKey, []hub.Damaged, error) {
	out, bad, err := listValues[hub.TSIGKey](ctx, s, s.tsig, "", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("list tsig keys: %w", err)
	}
	return out, bad, nil
}
