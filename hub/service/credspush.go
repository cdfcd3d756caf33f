package service

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// credsAckWait bounds the wait for an agent to take renewed credentials.
const credsAckWait = 10 * time.Second

// ackWaiters pairs agents' acks with the hub requests they answer. An ack
// counts only when it comes from the agent the request went to and
// carries the request's correlation id.
type ackWaiters struct {
	mu sync.Mutex
	m  map[string]ackWaiter
}

type ackWaiter struct {
	agent string
	ch    chan []byte
}

func (w *ackWaiters) add(agent, corr string) chan []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]ackWaiter{}
	}
	ch := make(chan []byte, 1)
	w.m[corr] = ackWaiter{agent: agent, ch: ch}
	return ch
}

func (w *ackWaiters) remove(corr string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.m, corr)
}

// deliver hands data to the waiter of corr if agent is the one it waits
// for; it reports whether someone took it.
func (w *ackWaiters) deliver(agent, corr string, data []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	wt, ok := w.m[corr]
	if !ok || wt.agent != agent {
		return false
	}
	delete(w.m, corr)
	wt.ch <- data
	return true
}

// onAck takes an agent's answer to a hub request. Acks are admitted like
// requests (subject, no reply subject, correlation id, rate budget).
func (h *Hub) onAck(m *nats.Msg) {
	now := time.Now()
	id, corr, reason := admission(m)
	if reason == "" && !h.msgLimit.allow(id, now) {
		reason = dropRate
	}
	if reason == "" && !h.acks.deliver(id, corr, m.Data) {
		// With several hubs every hub sees every ack; only one waits.
		h.log.Debug("ack not for this hub", "agent", id)
		return
	}
	if reason != "" {
		h.drops.add(id, reason, m.Subject, now)
	}
}

// sendCreds signs a fresh JWT for the agent's existing key, in the agents'
// account, and pushes it. An agent that misses it (offline) gets another
// on its next hello; one offline past expiry must be enrolled again.
func (h *Hub) sendCreds(ctx context.Context, a hub.Agent) {
	// The record is what every hub sees: a key revoked through another hub
	// (or before a restart) is not renewed here either. On an external NATS
	// that is all that ends a revoked agent's access.
	if rec, err := h.store.GetAgentKey(ctx, a.NKey); err == nil && !rec.Revoked.IsZero() {
		h.log.Warn("not renewing revoked agent credentials", "agent", a.ID, "key", a.NKey, "revoked", rec.Revoked)
		return
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.Warn("read agent key record; not renewing its credentials this round", "agent", a.ID, "err", err)
		return
	}
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
	corr := newCorrelation()
	ch := h.acks.add(a.ID, corr)
	defer h.acks.remove(corr)
	h.sendDown(a.ID, shared.VerbCreds, corr, b)
	t := time.NewTimer(credsAckWait)
	defer t.Stop()
	select {
	case data := <-ch:
		err = shared.DecodeReply(data, &shared.Ack{})
	case <-t.C:
		err = context.DeadlineExceeded
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		// Not taken: keep the old expiry so we try again next round.
		h.log.Info("agent did not take renewed credentials", "agent", a.ID, "err", err)
		return
	}
	account := h.auth.AgentsAccountPublicKey()
	_, err = h.store.UpdateAgent(ctx, a.ID, func(cur *hub.Agent) error {
		if cur.NKey == a.NKey {
			cur.CredsExpire, cur.Account = exp, account
		}
		return nil
	})
	if err != nil {
		h.log.Warn("record credential expiry", "agent", a.ID, "err", err)
	}
	if err := h.recordKey(ctx, a.ID, a.NKey, exp); err != nil {
		h.log.Warn("record agent key", "agent", a.ID, "err", err)
	}
	h.log.Info("agent credentials renewed", "agent", a.ID, "expires", exp)
}
