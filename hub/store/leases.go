package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// BucketLeases holds the leases that make work the hubs sharing a store
// must not all do (credential renewal, alert publishing) run on one of
// them. Entries expire LeaseTTL after they were last written (the
// bucket's age limit, kept by the NATS servers' clock), so a dead holder's
// lease lapses by itself.
const BucketLeases = "certfleet_leases"

// LeaseTTL is how long a lease outlives its holder's last renewal; the
// holder renews it well within (every LeaseTTL/3).
const LeaseTTL = 30 * time.Second

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
// lease held by another is not touched: it lapses LeaseTTL after its
// holder's last renewal.
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
