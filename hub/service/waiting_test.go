package service

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// budgetHub is a test hub whose one CA ("own", never contacted) allows
// ordersPer3h new orders and counts renewals; first issuances leave
// reserve of each budget to them.
func budgetHub(t *testing.T, ordersPer3h int, reserve float64) *testHub {
	t.Helper()
	th := newTestHub(t)
	exempt := false
	th.cfg.CA = []config.CAConfig{{Name: "own", Directory: "https://ca.invalid/directory", KeyType: "ec256",
		RateLimits: config.CALimits{NewOrdersPer3h: &ordersPer3h, RenewalsExempt: &exempt, RenewalReserve: &reserve}}}
	th.cfg.Issuance.CheckDelegation = false
	if err := th.store.PutDomain(testCtx(t), hub.Domain{Name: paceZone, Mode: hub.ModeZone, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return th
}

// spend takes n tokens from the "own" CA's order budget, as renewals do.
func spend(t *testing.T, th *testHub, n int) {
	t.Helper()
	for range n {
		v, err := th.budgets.Take(testCtx(t), th.spendsFor("own", []string{"x." + paceZone}, true))
		if err != nil || !v.OK {
			t.Fatalf("spend: %+v, %v", v, err)
		}
	}
}

// TestBudgetWaitOutsideQueue: requests that find the CA's budget used up
// wait outside the queue (nothing stays unacknowledged), each with the
// reason and a next try one token interval after the one before it.
func TestBudgetWaitOutsideQueue(t *testing.T) {
	th := budgetHub(t, 2, 0.5)
	// One at a time, so that each request sees the ones parked before it.
	th.cfg.Issuance.Concurrency, th.cfg.Issuance.MaxConcurrency = config.Fixed(1), 1
	if err := th.setupPacing(); err != nil {
		t.Fatal(err)
	}
	ih := &issuingHub{testHub: th}
	ctx := testCtx(t)
	spend(t, th, 1) // first issuances may use one of two: none left for them
	var ids []string
	for i := range 5 {
		agent, id := ih.request(t, fmt.Sprintf("w%d", i))
		ids = append(ids, agent+"/"+id)
	}
	th.consume(t)
	cons := th.store.RequestConsumer()
	eventually(t, 20*time.Second, "every request parked and acknowledged", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && th.waiting.size() == 5
	})
	reqs, _, err := th.store.ListRequests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 5 {
		t.Fatalf("%d request states, want 5", len(reqs))
	}
	var tries []time.Time
	for _, q := range reqs {
		if q.State != stateWaiting || q.NextTry.IsZero() {
			t.Fatalf("request %s: state %q, next try %v; want waiting with a next try", q.RequestID, q.State, q.NextTry)
		}
		if !strings.Contains(q.WaitReason, "CA own's new orders (2 per 3h)") {
			t.Fatalf("request %s waits for %q, want the reason to name the budget", q.RequestID, q.WaitReason)
		}
		tries = append(tries, q.NextTry)
	}
	// One token every 1h30m: the later a request came, the later its try.
	used := map[time.Duration]bool{}
	for _, nt := range tries {
		used[nt.Sub(tries[0]).Round(time.Hour/2)] = true
	}
	if len(used) < 3 {
		t.Fatalf("next tries %v: want them spread one token interval apart", tries)
	}
}

// TestWaitingReleasedByPriority: when the budget has room for three
// (one of which a first issuance could take), the three renewals whose
// certificates expire first go, before the renewal that expires last and
// before first issuances that waited longer; the rest are rescheduled
// with the reason. A stale copy of a released request is dropped, and a
// new first issuance queues behind everyone.
func TestWaitingReleasedByPriority(t *testing.T) {
	th := budgetHub(t, 5, 0.4)
	ctx := testCtx(t)
	spend(t, th, 2) // three of five left; first issuances may take one of them
	now := time.Now().UTC()
	park := func(host string, renewal bool, due time.Time, since time.Duration) hub.WaitingRequest {
		t.Helper()
		id := shared.NewRequestID()
		agent := "ag-" + host
		names := []string{host + "." + paceZone}
		w := hub.WaitingRequest{AgentID: agent, RequestID: id, Request: []byte(`{}`), CA: "own", Names: names,
			Kind: hub.WaitBudget, Renewal: renewal, Due: due, NotBefore: now, Reason: "test",
			Parked: now.Add(-since), Since: now.Add(-since)}
		if err := th.store.PutRequest(ctx, hub.RequestState{AgentID: agent, RequestID: id, CertName: "web", Names: names,
			State: stateWaiting, CA: "own", NextTry: now, Updated: now}); err != nil {
			t.Fatal(err)
		}
		if err := th.store.PutWaiting(ctx, w); err != nil {
			t.Fatal(err)
		}
		th.waiting.put(w, th.waitKeys(w))
		return w
	}
	var firsts []hub.WaitingRequest
	for i := range 3 {
		firsts = append(firsts, park(fmt.Sprintf("f%d", i), false, time.Time{}, time.Duration(10-i)*time.Hour))
	}
	latest := park("r-latest", true, now.Add(30*24*time.Hour), time.Minute)
	soon := park("r-soon", true, now.Add(24*time.Hour), time.Minute)
	later := park("r-later", true, now.Add(72*time.Hour), time.Minute)
	mid := park("r-mid", true, now.Add(48*time.Hour), time.Minute)

	th.releaseDue(ctx)

	state := func(w hub.WaitingRequest) hub.RequestState {
		t.Helper()
		st, err := th.store.GetRequest(ctx, w.AgentID, w.RequestID)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	for _, w := range []hub.WaitingRequest{soon, mid, later} {
		st := state(w)
		if st.State != stateQueued || st.PaidCA != "own" || st.QueueMsgID != store.RequeueID(w.AgentID, w.RequestID, w.Parked) {
			t.Fatalf("renewal due %v: state %+v, want queued again, paid, with its new message id", w.Due, st)
		}
		if th.waiting.parked(w.AgentID, w.RequestID) {
			t.Fatalf("renewal due %v still waits", w.Due)
		}
	}
	for _, w := range append([]hub.WaitingRequest{latest}, firsts...) {
		st := state(w)
		if st.State != stateWaiting || !st.NextTry.After(now) || !strings.Contains(st.WaitReason, "is used up") {
			t.Fatalf("%s (renewal %v): state %q, next try %v, reason %q; want waiting for later, saying why",
				w.AgentID, w.Renewal, st.State, st.NextTry, st.WaitReason)
		}
	}
	// First issuances stay in the order they came in.
	for i := 1; i < len(firsts); i++ {
		if a, b := state(firsts[i-1]).NextTry, state(firsts[i]).NextTry; !a.Before(b) {
			t.Fatalf("first issuance %d is tried at %v, not before %d at %v", i-1, a, i, b)
		}
	}
	info, err := th.store.RequestConsumer().Info(ctx)
	if err != nil || info.NumPending != 3 {
		t.Fatalf("queue: %v pending (%v), want the 3 released", info.NumPending, err)
	}

	// A copy of a released request under its first message id (left by
	// a crash) is dropped, and the request keeps its released message.
	if _, err := th.store.Enqueue(ctx, soon.AgentID, soon.RequestID, mustEncode(t, soon)); err != nil {
		t.Fatal(err)
	}
	handled := 0
	batch, err := th.store.RequestConsumer().Fetch(10, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for msg := range batch.Messages() {
		if store.MsgID(msg) != soon.AgentID+"."+soon.RequestID {
			_ = msg.Nak()
			continue
		}
		tok, err := th.limiter.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		th.handleRequest(ctx, msg, tok)
		tok.Release()
		handled++
	}
	if handled != 1 || !strings.Contains(th.logs.String(), "stale copy of a request dropped") {
		t.Fatalf("stale copy handled %d times; log:\n%s", handled, th.logs.String())
	}
	if st := state(soon); st.State != stateQueued || st.QueueMsgID != store.RequeueID(soon.AgentID, soon.RequestID, soon.Parked) {
		t.Fatalf("after the stale copy: %+v", st)
	}

	// A new first issuance waits behind the four still waiting.
	st := hub.RequestState{AgentID: "ag-new", RequestID: shared.NewRequestID(), CA: "own", Names: []string{"new." + paceZone}}
	ok, notBefore, reason, err := th.admitOrder(ctx, &st, false)
	if err != nil || ok || !strings.Contains(reason, "behind 4 waiting requests") || !notBefore.After(now) {
		t.Fatalf("admit a new first issuance: ok %v, until %v, %q, %v; want to wait behind 4", ok, notBefore, reason, err)
	}
}

func mustEncode(t *testing.T, w hub.WaitingRequest) []byte {
	t.Helper()
	b, err := shared.Encode(&shared.CertRequest{RequestID: w.RequestID, CertName: "web", CSR: "x", Created: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWaitingReleasedOnce: two hubs on one store release a waiting
// request once.
func TestWaitingReleasedOnce(t *testing.T) {
	a := budgetHub(t, 300, 0.5)
	ctx := testCtx(t)
	b := &Hub{cfg: a.cfg, log: a.log, store: a.store, inflight: map[string]int{}}
	if err := b.setupPacing(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	id := shared.NewRequestID()
	w := hub.WaitingRequest{AgentID: "ag-one", RequestID: id, Request: []byte(`{}`), CA: "own", Names: []string{"one." + paceZone},
		Kind: hub.WaitBudget, NotBefore: now, Reason: "test", Parked: now, Since: now}
	if err := a.store.PutRequest(ctx, hub.RequestState{AgentID: w.AgentID, RequestID: id, CertName: "web", Names: w.Names,
		State: stateWaiting, CA: "own", Updated: now}); err != nil {
		t.Fatal(err)
	}
	if err := a.store.PutWaiting(ctx, w); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Hub{a.Hub, b} {
		h.waiting.put(w, h.waitKeys(w))
	}
	done := make(chan struct{})
	go func() { defer close(done); b.releaseDue(context.Background()) }()
	a.releaseDue(ctx)
	<-done
	info, err := a.store.RequestConsumer().Info(ctx)
	if err != nil || info.NumPending != 1 {
		t.Fatalf("%v copies queued (%v), want 1", info.NumPending, err)
	}
	if n, err := a.budgets.Left(ctx, a.spendsFor("own", w.Names, false)[0]); err != nil || n != 149 {
		t.Fatalf("%d first-issuance tokens left (%v), want 149 of 150: one spend", n, err)
	}
}
