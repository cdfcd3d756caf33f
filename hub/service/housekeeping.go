package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// housekeepingEvery is how often credentials and alerts are looked at.
const housekeepingEvery = time.Minute

// housekeeping re-issues agent credentials before they expire and publishes
// alerts on NATS (on the hub holding the housekeeping lease, leader.go),
// and prunes this hub's per-agent limits, until ctx ends.
func (h *Hub) housekeeping(ctx context.Context) error {
	raised := map[string]bool{}
	// Short credential lifetimes need a tighter loop to renew in time.
	every := min(housekeepingEvery, h.cfg.Agents.CredsTTL.D()/6)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if h.leading() {
			h.renewCreds(ctx)
			h.publishAlerts(raised)
		} else {
			// Whoever leads publishes; should this hub lead again, it
			// publishes what is raised then, as after a restart.
			clear(raised)
		}
		now := time.Now()
		h.msgLimit.prune(now)
		h.reqLimit.prune(now)
		h.drops.prune(now)
		h.flushFlood(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// credsDue reports whether a's JWT is in the last third of its lifetime,
// or was issued in another account than the agents' (layout 1).
func (h *Hub) credsDue(a hub.Agent, now time.Time) bool {
	if a.NKey == "" {
		return false
	}
	if a.Account != h.auth.AgentsAccountPublicKey() {
		return true
	}
	if a.CredsExpire.IsZero() {
		return false
	}
	return a.CredsExpire.Sub(now) < h.cfg.Agents.CredsTTL.D()/3
}

func (h *Hub) renewCreds(ctx context.Context) {
	now := time.Now()
	for _, fa := range h.fleet.All() {
		a := fa.Record
		// Layout-1 agents are moved when they say hello.
		if h.credsDue(a, now) && a.CredsExpire.After(now) && a.Account == h.auth.AgentsAccountPublicKey() {
			h.sendCreds(ctx, a)
		}
	}
}

// publishAlerts publishes the alerts that appeared since the last call,
// derived from the fleet snapshot agent by agent.
func (h *Hub) publishAlerts(raised map[string]bool) {
	now := map[string]bool{}
	for _, a := range h.fleetAlerts(time.Now().UTC()) {
		key := a.Kind + "/" + a.Agent + "/" + a.CertName
		now[key] = true
		if raised[key] {
			continue
		}
		b, _ := json.Marshal(a)
		if err := h.nc.Publish(shared.SubjectAlerts+"."+a.Kind, b); err != nil {
			h.log.Warn("publish alert", "err", err)
		}
		h.log.Warn("alert", "kind", a.Kind, "agent", a.Agent, "cert", a.CertName, "message", a.Message)
	}
	for k := range raised {
		delete(raised, k)
	}
	for k := range now {
		raised[k] = true
	}
}
