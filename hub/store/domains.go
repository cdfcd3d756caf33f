package store

import (
	"context"
	"fmt"
	"regexp"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

var labelRe = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkDomain normalizes d.Name and checks mode and label.
func checkDomain(d *hub.Domain) (string, error) {
	key, err := domainKey(d.Name)
	if err != nil {
		return "", err
	}
	d.Name = key
	switch d.Mode {
	case hub.ModeCNAME:
		if !labelRe.MatchString(d.Label) {
			return "", shared.Errorf(shared.CodeBadRequest, "domain %s: label %q: want one DNS label of [a-z0-9-]", key, d.Label)
		}
	case hub.ModeZone:
		if d.Label != "" {
			return "", shared.Errorf(shared.CodeBadRequest, "domain %s: a %s delegation has no label", key, hub.ModeZone)
		}
	default:
		return "", shared.Errorf(shared.CodeBadRequest, "domain %s: mode %q: want %q or %q", key, d.Mode, hub.ModeCNAME, hub.ModeZone)
	}
	return key, nil
}

// PutDomain writes d keyed by its normalized name (stored normalized).
func (s *Store) PutDomain(ctx context.Context, d hub.Domain) error {
	key, err := checkDomain(&d)
	if err != nil {
		return fmt.Errorf("put domain: %w", err)
	}
	if err := putValue(ctx, s, s.domains, key, d); err != nil {
		return fmt.Errorf("put domain %s: %w", key, err)
	}
	return nil
}

// CreateDomain writes d only if the name is not present (ErrExists).
func (s *Store) CreateDomain(ctx context.Context, d hub.Domain) error {
	key, err := checkDomain(&d)
	if err != nil {
		return fmt.Errorf("create domain: %w", err)
	}
	if err := createValue(ctx, s, s.domains, key, d, 0); err != nil {
		return fmt.Errorf("create domain %s: %w", key, err)
	}
	return nil
}

// GetDomain returns the delegation for name (any case, trailing dot
// allowed) or ErrNotFound.
func (s *Store) GetDomain(ctx context.Context, name string) (hub.Domain, error) {
	key, err := domainKey(name)
	if err != nil {
		return hub.Domain{}, fmt.Errorf("get domain: %w", err)
	}
	d, _, err := getValue[hub.Domain](ctx, s, s.domains, key)
	if err != nil {
		return hub.Domain{}, fmt.Errorf("get domain %s: %w", key, err)
	}
	return d, nil
}

// DeleteDomain removes the delegation for name (ErrNotFound if none).
func (s *Store) DeleteDomain(ctx context.Context, name string) error {
	key, err := domainKey(name)
	if err != nil {
		return fmt.Errorf("delete domain: %w", err)
	}
	if err := deleteValue(ctx, s, s.domains, key); err != nil {
		return fmt.Errorf("delete domain %s: %w", key, err)
	}
	return nil
}

// ListDomains returns every delegation, by name, and the entries that are
// not readable delegations.
func (s *Store) ListDomains(ctx context.Context) ([]hub.Domain, []hub.Damaged, error) {
	out, bad, err := listValues(ctx, s, s.domains, "", func(key string, d hub.Domain) error {
		return belongs("a domain", func() (string, error) { return domainKey(d.Name) }, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list domains: %w", err)
	}
	return out, bad, nil
}

// WatchDomains calls fn for every delegation now present, returns once it
// has, then calls fn for every change until ctx ends or the Watch is
// stopped (see Watch). The DNS server uses it for its zone list.
func (s *Store) WatchDomains(ctx context.Context, fn func(put bool, name string, d hub.Domain)) (*Watch, error) {
	w, err := watchBucket(ctx, s, s.domains, fn)
	if err != nil {
		return nil, fmt.Errorf("watch domains: %w", err)
	}
	return w, nil
}
