package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
)

// BucketLeases holds the leases that make work the hubs sharing a store
// must not all do (credential renewal, alert publishing) run on one of
// them, and one entry per running hub ("hub.<id>"). Entries expire
// Options.LeaseTTL after they were last written (the bucket's age limit,
// kept by the NATS servers' clock), so a dead holder's lease lapses by
// itself.
const BucketLeases = "certfleet_leases"

// DefaultLeaseTTL is how long a lease outlives its holder's last renewal;
// the holder renews it well within (every third of it).
const DefaultLeaseTTL = 30 * time.Second

// LeaseHousekeeping is the lease of the hub that renews agent credentials
// and publishes alerts.
const LeaseHousekeeping = "housekeeping"

var leaseNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// lease is a lease's value.
type lease struct {
	Holder string    `json:"holder"`
	Since  time.Time `json:"since"`
}

// HoldLease takes the lease name for holder when nobody holds it, or
// renews it when holder does, and reports whether holder has it now. A
// lease held by another is not touched: it lapses Options.LeaseTTL after
// its holder's last renewal.
func (s *Store) HoldLease(ctx context.Context, name, holder string) (bool, error) {
	if !leaseNameRe.MatchString(name) || holder == "" {
		return false, fmt.Errorf("hold lease %q for %q: bad name or holder", name, holder)
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	e, err := s.leases.Get(cctx, name)
	switch {
	case isMissing(err):
		b, err := json.Marshal(lease{Holder: holder, Since: time.Now().UTC()})
		if err != nil {
			return false, err
		}
		_, err = s.leases.Create(cctx, name, b)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil // another hub took it first
		}
		if err != nil {
			return false, fmt.Errorf("take lease %s: %w", name, err)
		}
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read lease %s: %w", name, err)
	}
	var cur lease
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return false, fmt.Errorf("read lease %s: decode revision %d: %w", name, e.Revision(), err)
	}
	if cur.Holder != holder {
		return false, nil
	}
	// Rewriting the entry restarts its age: the renewal.
	if _, err := s.leases.Update(cctx, name, e.Value(), e.Revision()); err != nil {
		if isRevisionConflict(err) {
			return false, nil
		}
		return false, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return true, nil
}

// LeaseHolder returns who holds the lease name ("" when nobody does).
func (s *Store) LeaseHolder(ctx context.Context, name string) (string, error) {
	l, _, err := getValue[lease](ctx, s, s.leases, name)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read lease %s: %w", name, err)
	}
	return l.Holder, nil
}

// HubEntry says that a hub is running; every hub rewrites its own entry
// in the leases bucket well within Options.LeaseTTL, so the entries of
// stopped or dead hubs lapse by themselves.
type HubEntry struct {
	ID      string    `json:"id"`
	Version string    `json:"version,omitempty"`
	Started time.Time `json:"started"`
}

// hubEntryKey is the leases bucket key of hub id's entry.
func hubEntryKey(id string) (string, error) {
	if !leaseNameRe.MatchString(id) {
		return "", fmt.Errorf("hub id %q: want 1-64 of [a-z0-9_-]", id)
	}
	return "hub." + id, nil
}

// AnnounceHub writes (or renews) e's entry.
func (s *Store) AnnounceHub(ctx context.Context, e HubEntry) error {
	key, err := hubEntryKey(e.ID)
	if err != nil {
		return fmt.Errorf("announce hub: %w", err)
	}
	if err := putValue(ctx, s, s.leases, key, e); err != nil {
		return fmt.Errorf("announce hub %s: %w", e.ID, err)
	}
	return nil
}

// RunningHubs returns the entries of the hubs that announced themselves
// within Options.LeaseTTL, and those that could not be read.
func (s *Store) RunningHubs(ctx context.Context) ([]HubEntry, []hub.Damaged, error) {
	out, bad, err := listValues(ctx, s, s.leases, "hub.*", func(key string, e HubEntry) error {
		return belongs("a hub entry", func() (string, error) { return hubEntryKey(e.ID) }, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("running hubs: %w", err)
	}
	return out, bad, nil
}
