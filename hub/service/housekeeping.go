package service

import (
	"context"
	"encoding/json"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/shared"
)

// housekeepingEvery is how often credentials and alerts are looked at.
const housekeepingEvery = time.Minute

// housekeeping re-issues agent credentials before they expire and publishes
// alerts on NATS, until ctx ends.
func (h *Hub) housekeeping(ctx context.Context) error {
	raised := map[string]bool{}
	// Short credential lifetimes need a tighter loop to renew in time.
	every := min(housekeepingEvery, h.cfg.Agents.CredsTTL.D()/6)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		h.renewCreds(ctx)
		h.publishAlerts(ctx, raised)
		h.flushFlood(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// credsDue reports whether a's JWT is in the last third of its lifetime.
func (h *Hub) credsDue(a hub.Agent, now time.Time) bool {
	if a.NKey == "" || a.CredsExpire.IsZero() {
		return false
	}
	return a.CredsExpire.Sub(now) < h.cfg.Agents.CredsTTL.D()/3
}

func (h *Hub) renewCreds(ctx context.Context) {
	agents, bad, err := h.store.ListAgents(ctx)
	if err != nil {
		h.log.Warn("list agents for credential renewal", "err", err)
		return
	}
	h.logDamaged("agents for credential renewal", bad)
	now := time.Now()
	for _, a := range agents {
		if h.credsDue(a, now) && a.CredsExpire.After(now) {
			h.sendCreds(ctx, a)
		}
	}
}

// sendCreds signs a fresh JWT for the agent's existing key and pushes it. An
// agent that misses it (offline) gets another on its next hello; one
// offline past expiry must be enrolled again.
func (h *Hub) sendCreds(ctx context.Context, a hub.Agent) {
	jwt, exp, err := h.auth.RenewAgentJWT(a.ID, a.NKey, h.cfg.Agents.CredsTTL.D())
	if err != nil {
		h.log.Error("renew agent credentials", "agent", a.ID, "err", err)
		return
	}
	b, err := shared.Encode(&shared.CredsUpdate{JWT: jwt, Expires: exp})
	if err != nil {
		h.log.Error("encode credentials", "agent", a.ID, "err", err)
		return
	}
	resp, err := h.nc.Request(shared.Down(a.ID, shared.VerbCreds), b, 10*time.Second)
	if err == nil {
		err = shared.DecodeReply(resp.Data, &shared.Ack{})
	}
	if err != nil {
		// Not taken: keep the old expiry so we try again next round.
		h.log.Info("agent did not take renewed credentials", "agent", a.ID, "err", err)
		return
	}
	a.CredsExpire = exp
	if err := h.store.PutAgent(ctx, a); err != nil {
		h.log.Warn("record credential expiry", "agent", a.ID, "err", err)
	}
	h.log.Info("agent credentials renewed", "agent", a.ID, "expires", exp)
}

func (h *Hub) publishAlerts(ctx context.Context, raised map[string]bool) {
	r, err := h.adminStatus(ctx, nil)
	if err != nil {
		h.log.Warn("compute alerts", "err", err)
		return
	}
	now := map[string]bool{}
	for _, a := range r.(admin.StatusReply).Alerts {
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
