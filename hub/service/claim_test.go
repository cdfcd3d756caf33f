package service

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

func orderingState(id, holder string) hub.RequestState {
	return hub.RequestState{AgentID: "web1", RequestID: id, CertName: "web", State: stateOrdering, Hub: holder, Attempts: 1}
}

// TestClaimFencesTheLoser: once another hub wrote the state, the first
// hub's writes, confirmations and heartbeats fail with errLost and its
// order is stopped; the new holder goes on.
func TestClaimFencesTheLoser(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	a, b := th.peer("hub-a"), th.peer("hub-b")
	id := shared.NewRequestID()

	st := orderingState(id, a.id)
	ca := a.newClaim(hub.RequestState{AgentID: "web1", RequestID: id, CertName: "web", State: stateQueued}, 0)
	if err := ca.save(ctx, &st); err != nil {
		t.Fatalf("first claim: %v", err)
	}
	orderCtx, fence := context.WithCancelCause(ctx)
	ca.setFence(fence)

	// hub-b takes over at the revision it read.
	cur, rev, err := th.store.GetRequestAt(ctx, "web1", id)
	if err != nil {
		t.Fatal(err)
	}
	cb := b.newClaim(cur, rev)
	stB := orderingState(id, b.id)
	if err := cb.save(ctx, &stB); err != nil {
		t.Fatalf("takeover: %v", err)
	}

	steps := []struct {
		name string
		do   func() error
	}{
		{"save", func() error { st.OrderURL = "https://ca.example/order/1"; return ca.save(ctx, &st) }},
		{"confirm", func() error { return ca.confirm(ctx) }},
		{"final put", func() error { st.State = stateIssued; return ca.put(ctx, a, &st) }},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); !errors.Is(err, errLost) {
				t.Fatalf("%s by the hub that lost the request: %v, want errLost", s.name, err)
			}
		})
	}
	if !ca.isLost() || !errors.Is(context.Cause(orderCtx), errLost) {
		t.Fatalf("lost claim: isLost %v, order context cause %v", ca.isLost(), context.Cause(orderCtx))
	}
	ca.beat(ctx) // a heartbeat of a lost claim writes nothing
	if err := cb.confirm(ctx); err != nil {
		t.Fatalf("the new holder's claim: %v", err)
	}
	got, _, err := th.store.GetRequestAt(ctx, "web1", id)
	if err != nil || got.Hub != b.id || got.OrderURL != "" {
		t.Fatalf("state %+v, %v; want hub-b's write untouched", got, err)
	}
}

// TestClaimAdoptsItsOwnWrite: a write whose answer was lost but which was
// stored is not taken for another hub's.
func TestClaimAdoptsItsOwnWrite(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	cases := []struct {
		name string
		// land stores what the claim tried to write, behind its back.
		land func(c *requestClaim, failed, next hub.RequestState)
	}{
		{"an earlier write that failed", func(c *requestClaim, failed, _ hub.RequestState) {
			b, _ := json.Marshal(failed)
			c.failed = b
			if _, err := th.store.PutRequestAt(ctx, failed, c.rev); err != nil {
				t.Fatal(err)
			}
		}},
		{"this write, stored by a try that timed out", func(c *requestClaim, _, next hub.RequestState) {
			if _, err := th.store.PutRequestAt(ctx, next, c.rev); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := shared.NewRequestID()
			st := orderingState(id, th.id)
			c := th.newClaim(hub.RequestState{}, 0)
			if err := c.save(ctx, &st); err != nil {
				t.Fatal(err)
			}
			failed := st
			failed.Held = time.Now().UTC()
			next := failed
			next.OrderURL = "https://ca.example/order/2"
			tc.land(c, failed, next)
			if err := c.save(ctx, &next); err != nil {
				t.Fatalf("save after its own write landed: %v", err)
			}
			if err := c.confirm(ctx); err != nil {
				t.Fatalf("confirm: %v", err)
			}
			got, _, err := th.store.GetRequestAt(ctx, "web1", id)
			if err != nil || got.OrderURL != next.OrderURL {
				t.Fatalf("state %+v, %v; want the last write", got, err)
			}
		})
	}
}

// TestHolderSilent: a hub that finds a request held by another takes it
// only once the holder's heartbeat has stopped for two heartbeats.
func TestHolderSilent(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	b := th.peer("hub-b")
	quiet := 2 * th.store.Options().AckWait / 3
	cases := []struct {
		name   string
		beats  bool
		silent bool
	}{
		{"holder alive", true, false},
		{"holder dead", false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := shared.NewRequestID()
			holder := th.newClaim(hub.RequestState{}, 0)
			st := orderingState(id, th.id)
			if err := holder.save(ctx, &st); err != nil {
				t.Fatal(err)
			}
			msg := queuedMsg(t, th, id)
			_, rev, err := th.store.GetRequestAt(ctx, "web1", id)
			if err != nil {
				t.Fatal(err)
			}
			bctx, stop := context.WithCancel(ctx)
			defer stop()
			if tc.beats {
				go func() {
					tick := time.NewTicker(quiet / 4)
					defer tick.Stop()
					for {
						select {
						case <-bctx.Done():
							return
						case <-tick.C:
							holder.beat(bctx)
						}
					}
				}()
			}
			start := time.Now()
			got := b.holderSilent(ctx, msg, "web1", id, rev)
			took := time.Since(start)
			stop()
			if got != tc.silent {
				t.Fatalf("holderSilent = %v, want %v", got, tc.silent)
			}
			if got && took < quiet {
				t.Fatalf("took over after %v, before the holder was quiet for %v", took, quiet)
			}
			_ = msg.Ack()
		})
	}
}

// TestBeatGivesUpUnconfirmedClaim: a holder that cannot confirm its claim
// for a whole AckWait (cut off from NATS) stops its order, as if it had
// died, rather than race the hub that takes the request over.
func TestBeatGivesUpUnconfirmedClaim(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	id := shared.NewRequestID()
	c := th.newClaim(hub.RequestState{}, 0)
	st := orderingState(id, th.id)
	if err := c.save(ctx, &st); err != nil {
		t.Fatal(err)
	}
	orderCtx, fence := context.WithCancelCause(ctx)
	c.setFence(fence)
	c.ttl = time.Minute // the first failed heartbeat is well within it
	th.srv.Shutdown()
	th.srv.WaitForShutdown()
	c.beat(ctx) // fails, but the claim was confirmed a moment ago
	if c.isLost() {
		t.Fatal("claim given up at the first failed heartbeat")
	}
	c.mu.Lock()
	c.okAt = time.Now().Add(-2 * c.ttl)
	c.mu.Unlock()
	c.beat(ctx)
	if !c.isLost() || !errors.Is(context.Cause(orderCtx), errLost) {
		t.Fatalf("claim unconfirmed for longer than the ack wait: isLost %v, order cause %v", c.isLost(), context.Cause(orderCtx))
	}
}

// queuedMsg queues a request of agent web1 and returns its delivery.
func queuedMsg(t *testing.T, th *testHub, id string) jetstream.Msg {
	t.Helper()
	ctx := testCtx(t)
	b, err := shared.Encode(&shared.CertRequest{RequestID: id, CertName: "web", CSR: "x", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := th.store.Enqueue(ctx, "web1", id, b); err != nil {
		t.Fatal(err)
	}
	batch, err := th.store.RequestConsumer().Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		return m
	}
	t.Fatal("no delivery of the queued request")
	return nil
}
