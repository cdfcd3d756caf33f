package store

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
)

type watchEvent[T any] struct {
	put bool
	key string
	v   T
}

// recorder collects watch callbacks safely.
type recorder[T any] struct {
	mu     sync.Mutex
	events []watchEvent[T]
}

func (r *recorder[T]) fn(put bool, key string, v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, watchEvent[T]{put, key, v})
}

func (r *recorder[T]) snapshot() []watchEvent[T] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]watchEvent[T](nil), r.events...)
}

func (r *recorder[T]) waitFor(t *testing.T, n int) []watchEvent[T] {
	t.Helper()
	eventually(t, 5*time.Second, "watch events", func() bool { return len(r.snapshot()) >= n })
	return r.snapshot()
}

func challenge(fqdn, value string) hub.Challenge {
	return hub.Challenge{FQDN: fqdn, Value: value, Created: t0}
}

func TestChallenges(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	c := challenge("_acme-challenge.www.example.org.", "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0")
	_, err := s.GetChallenge(ctx, "k1")
	mustNotFound(t, err)
	must(t, s.PutChallenge(ctx, "k1", c))
	got, err := s.GetChallenge(ctx, "k1")
	must(t, err)
	if got != c {
		t.Fatalf("GetChallenge = %+v", got)
	}
	// Putting again (same authorization after a restart) is fine.
	must(t, s.PutChallenge(ctx, "k1", c))
	list, _, err := s.ListChallenges(ctx)
	must(t, err)
	if len(list) != 1 || list[0] != c {
		t.Fatalf("ListChallenges = %+v", list)
	}
	must(t, s.DeleteChallenge(ctx, "k1"))
	_, err = s.GetChallenge(ctx, "k1")
	mustNotFound(t, err)
	// Deleting again is not an error: CleanUp may run after expiry.
	must(t, s.DeleteChallenge(ctx, "k1"))
	if err := s.PutChallenge(ctx, "k2", hub.Challenge{FQDN: "x."}); err == nil {
		t.Fatal("challenge without a value accepted")
	}
}

func TestChallengeTTL(t *testing.T) {
	ts := startServer(t)
	_, js := ts.connect(t)
	opts := testOptions()
	opts.ChallengeTTL = time.Second
	s := openStore(t, js, opts)
	ctx := testCtx(t)

	var rec recorder[hub.Challenge]
	w, err := s.WatchChallenges(ctx, rec.fn)
	must(t, err)
	defer w.Stop()

	c := challenge("_acme-challenge.a.example.org.", "v1")
	must(t, s.PutChallenge(ctx, "exp", c))
	start := time.Now()
	eventually(t, 10*time.Second, "challenge to expire", func() bool {
		_, err := s.GetChallenge(ctx, "exp")
		return err != nil
	})
	_, err = s.GetChallenge(ctx, "exp")
	mustNotFound(t, err)
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Fatalf("challenge gone after %v, before its 1s TTL", el)
	}
	// The watcher hears of the expiry, with the challenge it had seen.
	ev := rec.waitFor(t, 2)
	if !ev[0].put || ev[1].put || ev[1].key != "exp" || ev[1].v != c {
		t.Fatalf("watch events = %+v, want put then removal of %+v", ev, c)
	}
	// Re-putting an expired key works and gets a fresh TTL.
	must(t, s.PutChallenge(ctx, "exp", c))
	if _, err := s.GetChallenge(ctx, "exp"); err != nil {
		t.Fatalf("re-put after expiry: %v", err)
	}
}

func TestWatchChallenges(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	a := challenge("_acme-challenge.a.example.org.", "va")
	b := challenge("_acme-challenge.b.example.org.", "vb")
	gone := challenge("_acme-challenge.gone.example.org.", "vg")
	must(t, s.PutChallenge(ctx, "a", a))
	must(t, s.PutChallenge(ctx, "gone", gone))
	must(t, s.DeleteChallenge(ctx, "gone"))

	var rec recorder[hub.Challenge]
	w, err := s.WatchChallenges(ctx, rec.fn)
	must(t, err)
	// Current entries are delivered before WatchChallenges returns; the
	// removed one is not reported at all.
	if ev := rec.snapshot(); len(ev) != 1 || !ev[0].put || ev[0].key != "a" || ev[0].v != a {
		t.Fatalf("initial events = %+v, want just a", ev)
	}
	must(t, s.PutChallenge(ctx, "b", b))
	must(t, s.DeleteChallenge(ctx, "a"))
	ev := rec.waitFor(t, 3)
	if !ev[1].put || ev[1].v != b || ev[2].put || ev[2].key != "a" || ev[2].v != a {
		t.Fatalf("events = %+v", ev)
	}
	w.Stop()
	if w.Err() != nil {
		t.Fatalf("Err after Stop = %v", w.Err())
	}
	// Stop returned only once the callback goroutine ended: no more calls.
	select {
	case <-w.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
	must(t, s.PutChallenge(ctx, "c", a))
	if n := len(rec.snapshot()); n != 3 {
		t.Fatalf("%d events after Stop, want 3", n)
	}
}

func TestWatchDomains(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	must(t, s.PutDomain(ctx, hub.Domain{Name: "corp.example.org", Mode: hub.ModeZone}))

	wctx, cancel := context.WithCancel(ctx)
	var rec recorder[hub.Domain]
	w, err := s.WatchDomains(wctx, rec.fn)
	must(t, err)
	if ev := rec.snapshot(); len(ev) != 1 || ev[0].key != "corp.example.org" {
		t.Fatalf("initial = %+v", ev)
	}
	must(t, s.PutDomain(ctx, hub.Domain{Name: "lab.example.org", Mode: hub.ModeZone}))
	must(t, s.DeleteDomain(ctx, "corp.example.org"))
	ev := rec.waitFor(t, 3)
	if !ev[1].put || ev[1].v.Name != "lab.example.org" || ev[2].put || ev[2].v.Mode != hub.ModeZone {
		t.Fatalf("events = %+v", ev)
	}
	// Cancelling the context ends the watch cleanly.
	cancel()
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("watch did not end with its context")
	}
	if w.Err() != nil {
		t.Fatalf("Err = %v, want nil after cancel", w.Err())
	}
}

func TestWatchEndsOnUndecodableValue(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	var rec recorder[hub.Domain]
	w, err := s.WatchDomains(ctx, rec.fn)
	must(t, err)
	defer w.Stop()
	// Someone else writes garbage into the bucket.
	_, err = s.domains.Put(ctx, "bad.example.org", []byte("{not json"))
	must(t, err)
	select {
	case <-w.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("watch kept running past an undecodable value")
	}
	if err := w.Err(); err == nil || !strings.Contains(err.Error(), "bad.example.org") {
		t.Fatalf("Err = %v, want one naming the key", err)
	}
	// And a fresh watch refuses to start on it.
	if _, err := s.WatchDomains(ctx, rec.fn); err == nil || !strings.Contains(err.Error(), "bad.example.org") {
		t.Fatalf("WatchDomains over garbage = %v", err)
	}
	// A listing shows it as damaged and goes on.
	if _, bad, err := s.ListDomains(ctx); err != nil || len(bad) != 1 || bad[0].Key != "bad.example.org" {
		t.Fatalf("ListDomains over garbage = %v, %v", bad, err)
	}
}
