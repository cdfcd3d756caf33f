package store

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/certfleet/certfleet/hub"
)

// acmednsKeyRe: registrations are keyed by their username, a UUID in its
// canonical lower-case form.
var acmednsKeyRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func acmednsKey(username string) (string, error) {
	if !acmednsKeyRe.MatchString(username) {
		return "", fmt.Errorf("acme-dns username %q: want a lower-case UUID", username)
	}
	return username, nil
}

// CreateACMEDNS stores a new registration; ErrExists if its username is
// taken.
func (s *Store) CreateACMEDNS(ctx context.Context, r hub.ACMEDNSRegistration) error {
	k, err := acmednsKey(r.Username)
	if err != nil {
		return fmt.Errorf("create acme-dns registration: %w", err)
	}
	if r.PasswordHash == "" || r.Subdomain == "" {
		return fmt.Errorf("create acme-dns registration %s: want a password hash and a subdomain", k)
	}
	if err := createValue(ctx, s, s.acmedns, k, r, 0); err != nil {
		return fmt.Errorf("create acme-dns registration %s: %w", k, err)
	}
	return nil
}

// GetACMEDNS returns the registration of username, or ErrNotFound.
func (s *Store) GetACMEDNS(ctx context.Context, username string) (hub.ACMEDNSRegistration, error) {
	k, err := acmednsKey(username)
	if err != nil {
		return hub.ACMEDNSRegistration{}, fmt.Errorf("get acme-dns registration: %w: %w", ErrNotFound, err)
	}
	r, _, err := getValue[hub.ACMEDNSRegistration](ctx, s, s.acmedns, k)
	if err != nil {
		return hub.ACMEDNSRegistration{}, fmt.Errorf("get acme-dns registration %s: %w", k, err)
	}
	return r, nil
}

// SetACMEDNSTXT adds value as the newest TXT value of username's
// registration and drops all but the hub.ACMEDNSKeep latest, as acme-dns
// does. The write is revision-checked, so two concurrent updates (apex
// and wildcard of one order) both land.
func (s *Store) SetACMEDNSTXT(ctx context.Context, username, value string, now time.Time) (hub.ACMEDNSRegistration, error) {
	k, err := acmednsKey(username)
	if err != nil {
		return hub.ACMEDNSRegistration{}, fmt.Errorf("set acme-dns txt: %w", err)
	}
	if value == "" || len(value) > 255 {
		return hub.ACMEDNSRegistration{}, fmt.Errorf("set acme-dns txt %s: want a value of 1-255 bytes", k)
	}
	r, err := updateValue(ctx, s, s.acmedns, k, false, func(r *hub.ACMEDNSRegistration) error {
		r.TXT = append(r.TXT, hub.ACMEDNSTXT{Value: value, Updated: now.UTC()})
		if n := len(r.TXT) - hub.ACMEDNSKeep; n > 0 {
			r.TXT = append([]hub.ACMEDNSTXT(nil), r.TXT[n:]...)
		}
		return nil
	})
	if err != nil {
		return hub.ACMEDNSRegistration{}, fmt.Errorf("set acme-dns txt %s: %w", k, err)
	}
	return r, nil
}

// DeleteACMEDNS removes username's registration (ErrNotFound if absent);
// its TXT records stop being served.
func (s *Store) DeleteACMEDNS(ctx context.Context, username string) error {
	k, err := acmednsKey(username)
	if err != nil {
		return fmt.Errorf("delete acme-dns registration: %w: %w", ErrNotFound, err)
	}
	if err := deleteValue(ctx, s, s.acmedns, k); err != nil {
		return fmt.Errorf("delete acme-dns registration %s: %w", k, err)
	}
	return nil
}

// ListACMEDNS returns every registration, by username.
func (s *Store) ListACMEDNS(ctx context.Context) ([]hub.ACMEDNSRegistration, []hub.Damaged, error) {
	out, bad, err := listValues[hub.ACMEDNSRegistration](ctx, s, s.acmedns, "", nil)
	if err != nil {
		return nil, nil, fmt.Errorf("list acme-dns registrations: %w", err)
	}
	return out, bad, nil
}

// WatchACMEDNS calls fn for every registration, returns once it has, then
// for every change until ctx ends or the Watch is stopped (put=false when
// one is removed, with the registration as last seen).
func (s *Store) WatchACMEDNS(ctx context.Context, fn func(put bool, username string, r hub.ACMEDNSRegistration)) (*Watch, error) {
	w, err := watchBucket(ctx, s, s.acmedns, fn)
	if err != nil {
		return nil, fmt.Errorf("watch acme-dns registrations: %w", err)
	}
	return w, nil
}
