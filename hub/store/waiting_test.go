package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
)

// TestWaitingClaims: a parking is claimed by one hub at a time, a claim
// runs out, and a later parking of the request is never touched through
// an earlier one.
func TestWaitingClaims(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	w := hub.WaitingRequest{AgentID: "web1", RequestID: "req0000001", Request: []byte(`{}`), CA: "le",
		Names: []string{"www.example.org"}, Kind: hub.WaitBudget, NotBefore: now, Reason: "budget", Parked: now, Since: now}
	must(t, s.PutWaiting(ctx, w))

	if _, err := s.ClaimWaiting(ctx, "web1", "req0000001", now, "hub-a", now, now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ClaimWaiting(ctx, "web1", "req0000001", now, "hub-b", now, now.Add(time.Minute)); !errors.Is(err, ErrClaimed) {
		t.Fatalf("second hub's claim: %v, want ErrClaimed", err)
	}
	if err := s.Reschedule(ctx, "web1", "req0000001", now, "hub-b", now, now.Add(time.Hour), "x"); !errors.Is(err, ErrClaimed) {
		t.Fatalf("reschedule under another hub's claim: %v, want ErrClaimed", err)
	}
	later := now.Add(2 * time.Minute)
	if _, err := s.ClaimWaiting(ctx, "web1", "req0000001", now, "hub-b", later, later.Add(time.Minute)); err != nil {
		t.Fatalf("claim after the first ran out: %v", err)
	}
	must(t, s.Reschedule(ctx, "web1", "req0000001", now, "hub-b", later, now.Add(time.Hour), "later"))

	// Parked again (by a redelivered copy): the old parking is gone.
	again := w
	again.Parked = now.Add(time.Second)
	must(t, s.PutWaiting(ctx, again))
	if _, err := s.ClaimWaiting(ctx, "web1", "req0000001", now, "hub-a", later, later.Add(time.Minute)); !errors.Is(err, ErrStale) {
		t.Fatalf("claim of the earlier parking: %v, want ErrStale", err)
	}
	if err := s.DeleteWaiting(ctx, "web1", "req0000001", now); !errors.Is(err, ErrStale) {
		t.Fatalf("delete of the earlier parking: %v, want ErrStale", err)
	}
	must(t, s.DeleteWaiting(ctx, "web1", "req0000001", again.Parked))
	if _, err := s.ClaimWaiting(ctx, "web1", "req0000001", again.Parked, "hub-a", later, later.Add(time.Minute)); !errors.Is(err, ErrNotFound) {
		t.Fatalf("claim after delete: %v, want ErrNotFound", err)
	}
	must(t, s.DeleteWaiting(ctx, "web1", "req0000001", again.Parked)) // gone already: fine
	if err := s.PutWaiting(ctx, hub.WaitingRequest{AgentID: "web1", RequestID: "bad id"}); err == nil {
		t.Fatal("a parking with a bad request id was stored")
	}
}

// TestWatchWaiting: the watch replays parkings and reports releases.
func TestWatchWaiting(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	now := time.Now().UTC()
	w := hub.WaitingRequest{AgentID: "web1", RequestID: "req0000001", Kind: hub.WaitRetry, NotBefore: now, Parked: now}
	must(t, s.PutWaiting(ctx, w))
	var mu sync.Mutex
	seen := map[string]bool{}
	watch, err := s.WatchWaiting(ctx, func(put bool, w hub.WaitingRequest) {
		mu.Lock()
		defer mu.Unlock()
		seen[w.RequestID] = put
	})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Stop()
	mu.Lock()
	replayed := seen["req0000001"]
	mu.Unlock()
	if !replayed {
		t.Fatal("the parking was not replayed")
	}
	must(t, s.DeleteWaiting(ctx, "web1", "req0000001", now))
	eventually(t, 5*time.Second, "the release reported", func() bool {
		mu.Lock()
		defer mu.Unlock()
		put, ok := seen["req0000001"]
		return ok && !put
	})
}

func TestRequeueID(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	parked := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	id := RequeueID("web1", "req0000001", parked)
	if id != RequeueID("web1", "req0000001", parked) || id == RequeueID("web1", "req0000001", parked.Add(time.Nanosecond)) {
		t.Fatalf("requeue ids are not one per parking: %s", id)
	}
	for range 2 {
		if _, err := s.Requeue(ctx, "web1", "req0000001", id, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if dup, err := s.Requeue(ctx, "web1", "req0000001", id, []byte(`{}`)); err != nil || !dup {
		t.Fatalf("a second release of one parking: duplicate %v, %v; want the stream to keep one copy", dup, err)
	}
	if _, err := s.Requeue(ctx, "web1", "req0000001", "web2.req0000001/wx", []byte(`{}`)); err == nil {
		t.Fatal("requeued under another request's message id")
	}
}
