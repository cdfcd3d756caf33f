package service

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/certfleet/certfleet/hub/store"
)

// Work that the hubs sharing a store must do once, not once per hub —
// renewing agent credentials (two hubs would each sign and push a JWT)
// and publishing alerts on NATS — runs on the hub holding the
// housekeeping lease. A hub that dies loses it the store's LeaseTTL (30 s)
// after its last renewal, and the next round of another hub's housekeeping
// does the work from then on.

// leaseEvery is how often the lease is renewed or tried: a third of its
// time to live.
func (h *Hub) leaseEvery() time.Duration { return h.store.Options().LeaseTTL / 3 }

// leadership says whether this hub holds the housekeeping lease.
type leadership struct{ held atomic.Bool }

// tryLead takes or renews the lease once and records the outcome.
func (h *Hub) tryLead(ctx context.Context) {
	ok, err := h.store.HoldLease(ctx, store.LeaseHousekeeping, h.id)
	if err != nil {
		// Unknown: keep what we believed until the lease would have lapsed
		// for the others (the next tries decide).
		h.log.Warn("renew the housekeeping lease", "err", err)
		if time.Since(h.leaseOK) < h.store.Options().LeaseTTL {
			return
		}
		ok = false
	} else if ok {
		h.leaseOK = time.Now()
	}
	if was := h.lead.held.Swap(ok); was != ok {
		if ok {
			h.log.Info("this hub does the housekeeping now (credential renewal, alerts)", "hub", h.id)
		} else {
			h.log.Info("another hub does the housekeeping now", "hub", h.id)
		}
	}
}

// leading reports whether this hub holds the housekeeping lease.
func (h *Hub) leading() bool { return h.lead.held.Load() }

// keepLease renews this hub's entry among the running hubs (peers.go) and
// renews or tries the lease every leaseEvery until ctx ends.
func (h *Hub) keepLease(ctx context.Context) error {
	t := time.NewTicker(h.leaseEvery())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			h.announce(ctx)
			h.tryLead(ctx)
		}
	}
}
