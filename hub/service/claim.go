package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
)

// Several hubs share one request queue. Exactly one of them drives a
// request's ACME order, and when that hub dies another resumes it within a
// bounded time (see README, "Several hubs on a NATS cluster"):
//
//   - The hub handling a request writes its state ("ordering", hub id) with
//     a revision check and from then on writes it only at the revision it
//     wrote last. A write that finds another revision means another hub took
//     the request over: this hub stops and leaves the message alone (no ack,
//     no nak), so the order has one driver and the queue keeps the request
//     until the new holder finishes it.
//   - While the order runs, the holder tells JetStream every AckWait/3 that
//     the message is in progress and rewrites the state (a heartbeat: a new
//     revision). A holder that cannot confirm its claim for a whole AckWait
//     (cut off from NATS) stops as if it had died.
//   - JetStream hands the message to another hub once AckWait passes without
//     progress. That hub takes the request over only after the state has not
//     changed for two heartbeats (takeoverQuiet), so a holder that is alive
//     but lost its delivery (a consumer leader moved) keeps its order.
//
// A hub restarted on the same data dir has the same id: the requests it
// held when it died are its own again at once, without the quiet wait.

// errLost: another hub took the request over; this hub leaves it alone.
var errLost = errors.New("another hub took the request over")

// requestClaim is this hub's hold on one request while it handles it. Its
// methods are nil-safe: a nil claim writes unconditionally (a request
// whose handling panicked, where no claim survives).
type requestClaim struct {
	h   *Hub
	ttl time.Duration // a claim not confirmed for this long is given up

	mu   sync.Mutex
	st   hub.RequestState // as last written (or read, before the first write)
	rev  uint64           // its revision; 0 = no state stored yet
	lost bool
	okAt time.Time // when the claim was last confirmed
	// failed is a write whose outcome is unknown (a timeout): if the store
	// holds exactly it, the write went through and the claim is intact.
	failed []byte
	// fence stops the order this claim drives, once one runs.
	fence context.CancelCauseFunc
}

func (h *Hub) newClaim(st hub.RequestState, rev uint64) *requestClaim {
	return &requestClaim{h: h, ttl: h.store.Options().AckWait, st: st, rev: rev, okAt: time.Now()}
}

// save writes st if the stored state is still the one this hub last wrote
// or read; errLost when another hub wrote in between.
func (c *requestClaim) save(ctx context.Context, st *hub.RequestState) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.saveLocked(ctx, *st)
}

func (c *requestClaim) saveLocked(ctx context.Context, st hub.RequestState) error {
	if c.lost {
		return errLost
	}
	attempt, err := json.Marshal(st)
	if err != nil {
		return err
	}
	rev, err := c.h.store.PutRequestAt(ctx, st, c.rev)
	if errors.Is(err, store.ErrConflict) {
		// A try that timed out may have been stored after all: this one
		// (retried inside the store) or the last that failed.
		switch _, stored, srev, ok := c.stored(ctx); {
		case ok && bytes.Equal(stored, attempt):
			rev, err = srev, nil
		case ok && c.failed != nil && bytes.Equal(stored, c.failed):
			c.rev = srev
			rev, err = c.h.store.PutRequestAt(ctx, st, c.rev)
		}
	}
	switch {
	case errors.Is(err, store.ErrConflict):
		c.loseLocked()
		return errLost
	case err != nil:
		c.failed = attempt
		return err
	}
	c.st, c.rev, c.okAt, c.failed = st, rev, time.Now(), nil
	return nil
}

// stored returns the state as the store holds it, encoded too, and its
// revision.
func (c *requestClaim) stored(ctx context.Context) (hub.RequestState, []byte, uint64, bool) {
	cur, rev, err := c.h.store.GetRequestAt(ctx, c.st.AgentID, c.st.RequestID)
	if err != nil {
		return cur, nil, 0, false
	}
	b, err := json.Marshal(cur)
	return cur, b, rev, err == nil
}

// put is save for the final state of a request. Without a claim it
// writes unconditionally.
func (c *requestClaim) put(ctx context.Context, h *Hub, st *hub.RequestState) error {
	if c == nil {
		return h.store.PutRequest(ctx, *st)
	}
	return c.save(ctx, st)
}

// beat rewrites the state as held now: the heartbeat other hubs watch.
// A claim found taken, or not confirmed for a whole AckWait, is given up
// and the order it drives stopped.
func (c *requestClaim) beat(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost || c.st.State != stateOrdering {
		return
	}
	st := c.st
	st.Held = time.Now().UTC()
	// Retried (through a leader election) only while the claim can still
	// be confirmed in time.
	bctx, cancel := context.WithDeadline(ctx, c.okAt.Add(c.ttl))
	err := c.saveLocked(bctx, st)
	cancel()
	if err == nil {
		return
	}
	log := c.h.log.With("agent", st.AgentID, "request", st.RequestID)
	switch {
	case errors.Is(err, errLost):
		log.Warn("another hub took over the request this hub was ordering; stopping here")
	case time.Since(c.okAt) > c.ttl:
		// Another hub may take the request over any moment now: stop, as
		// if this hub had died, and let the queue hand it on.
		log.Warn("request claim not confirmed for longer than the ack wait; stopping the order here", "since", c.okAt, "err", err)
		c.loseLocked()
	default:
		log.Debug("request heartbeat failed; trying again", "err", err)
	}
}

// confirm checks that nobody wrote the state since this hub did. It goes
// right before anything the agent or the audit sees (result, audit event),
// so a hub that lost the request does not publish an outcome.
func (c *requestClaim) confirm(ctx context.Context) error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost {
		return errLost
	}
	rev, err := c.h.store.RequestRevision(ctx, c.st.AgentID, c.st.RequestID)
	if err != nil {
		return err
	}
	if rev != c.rev {
		if cur, stored, srev, ok := c.stored(ctx); ok && c.failed != nil && bytes.Equal(stored, c.failed) {
			// The last write that failed was stored after all.
			c.st, c.rev, c.failed, c.okAt = cur, srev, nil, time.Now()
			return nil
		}
		c.loseLocked()
		return errLost
	}
	c.okAt = time.Now()
	return nil
}

// setFence makes a lost claim cancel ctx's order.
func (c *requestClaim) setFence(cancel context.CancelCauseFunc) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fence = cancel
	if c.lost {
		cancel(errLost)
	}
}

func (c *requestClaim) loseLocked() {
	c.lost = true
	if c.fence != nil {
		c.fence(errLost)
	}
}

// isLost reports whether the claim was given up.
func (c *requestClaim) isLost() bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lost
}

// holderSilent watches the state of a request another hub holds, keeping
// the message from moving on meanwhile. It reports true once the state has
// stayed at rev for takeoverQuiet (the holder is gone), false as soon as it
// changes (the holder is alive) or when the state cannot be read at the end
// of the wait (nothing is known; the queue will hand the request out again).
func (h *Hub) holderSilent(ctx context.Context, msg jetstream.Msg, agent, reqID string, rev uint64) bool {
	beat := h.store.Options().AckWait / 3
	quiet := 2 * beat
	release := h.store.HoldRequest(ctx, msg, nil)
	defer release()
	t := time.NewTicker(max(beat/10, 50*time.Millisecond))
	defer t.Stop()
	deadline := time.Now().Add(quiet)
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		cur, err := h.store.RequestRevision(ctx, agent, reqID)
		if err == nil && cur != rev {
			return false
		}
		if time.Now().After(deadline) {
			return err == nil
		}
	}
}

// handling is the set of requests this hub works on now. A request
// redelivered to the hub that still works on it (the queue moved its
// delivery, e.g. after a NATS node failed) is left to the first delivery.
type handling struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *handling) begin(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m[key] {
		return false
	}
	if s.m == nil {
		s.m = map[string]bool{}
	}
	s.m[key] = true
	return true
}

func (s *handling) end(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
}
