package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// TestLeaseOneHolder: one holder at a time; the holder renews, the other
// waits until the lease lapses, which happens LeaseTTL after the last
// renewal.
func TestLeaseOneHolder(t *testing.T) {
	ts := startServer(t)
	_, js := ts.connect(t)
	opts := testOptions()
	opts.LeaseTTL = time.Second
	s := openStore(t, js, opts)
	ctx := testCtx(t)
	hold := func(holder string) bool {
		t.Helper()
		ok, err := s.HoldLease(ctx, LeaseHousekeeping, holder)
		must(t, err)
		return ok
	}
	steps := []struct {
		name   string
		holder string
		want   bool
	}{
		{"first taker gets it", "hub-a", true},
		{"another does not", "hub-b", false},
		{"the holder renews", "hub-a", true},
		{"still not the other", "hub-b", false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if got := hold(st.holder); got != st.want {
				t.Fatalf("HoldLease(%s) = %v, want %v", st.holder, got, st.want)
			}
		})
	}
	if h, err := s.LeaseHolder(ctx, LeaseHousekeeping); err != nil || h != "hub-a" {
		t.Fatalf("LeaseHolder = %q, %v; want hub-a", h, err)
	}
	// hub-a stops renewing: hub-b gets it once it lapsed, not before.
	renewed := time.Now()
	eventually(t, 10*time.Second, "the lease to lapse for hub-b", func() bool { return hold("hub-b") })
	if el := time.Since(renewed); el < opts.LeaseTTL/2 {
		t.Fatalf("hub-b took the lease %v after hub-a's renewal, before it could lapse (%v)", el, opts.LeaseTTL)
	}
	if hold("hub-a") {
		t.Fatal("hub-a holds the lease again while hub-b holds it")
	}
	if _, err := s.HoldLease(ctx, "bad name", "hub-a"); err == nil {
		t.Fatal("a lease name that is no key accepted")
	}
}

// TestRunningHubs: each hub's entry is listed while it renews it and
// lapses when it stops.
func TestRunningHubs(t *testing.T) {
	ts := startServer(t)
	_, js := ts.connect(t)
	opts := testOptions()
	opts.LeaseTTL = time.Second
	s := openStore(t, js, opts)
	ctx := testCtx(t)
	ids := func() []string {
		t.Helper()
		hubs, bad, err := s.RunningHubs(ctx)
		must(t, err)
		if len(bad) != 0 {
			t.Fatalf("damaged entries %v", bad)
		}
		var out []string
		for _, e := range hubs {
			out = append(out, e.ID)
		}
		slices.Sort(out)
		return out
	}
	now := time.Now().UTC()
	must(t, s.AnnounceHub(ctx, HubEntry{ID: "hub-a", Started: now}))
	must(t, s.AnnounceHub(ctx, HubEntry{ID: "hub-b", Started: now}))
	// A lease is not a hub.
	if _, err := s.HoldLease(ctx, LeaseHousekeeping, "hub-a"); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !slices.Equal(got, []string{"hub-a", "hub-b"}) {
		t.Fatalf("running hubs %v, want hub-a and hub-b", got)
	}
	// Only hub-a keeps announcing itself.
	eventually(t, 10*time.Second, "hub-b's entry to lapse", func() bool {
		must(t, s.AnnounceHub(ctx, HubEntry{ID: "hub-a", Started: now}))
		return slices.Equal(ids(), []string{"hub-a"})
	})
	if err := s.AnnounceHub(ctx, HubEntry{ID: "Bad.Id"}); err == nil {
		t.Fatal("a hub id that is no key accepted")
	}
}

// TestPutRequestAt: a revision-checked write succeeds only at the revision
// last seen; 0 creates.
func TestPutRequestAt(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	id := shared.NewRequestID()
	st := hub.RequestState{AgentID: "web1", RequestID: id, CertName: "web", State: "ordering", Hub: "hub-a"}
	if rev, err := s.RequestRevision(ctx, "web1", id); err != nil || rev != 0 {
		t.Fatalf("revision of a missing request = %d, %v; want 0", rev, err)
	}
	r1, err := s.PutRequestAt(ctx, st, 0)
	must(t, err)
	if _, err := s.PutRequestAt(ctx, st, 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("create over an existing state: %v, want ErrConflict", err)
	}
	st.Hub = "hub-b"
	r2, err := s.PutRequestAt(ctx, st, r1)
	must(t, err)
	st.Hub = "hub-a"
	if _, err := s.PutRequestAt(ctx, st, r1); !errors.Is(err, ErrConflict) {
		t.Fatalf("write at a stale revision: %v, want ErrConflict", err)
	}
	got, rev, err := s.GetRequestAt(ctx, "web1", id)
	must(t, err)
	if rev != r2 || got.Hub != "hub-b" {
		t.Fatalf("state %+v at %d; want hub-b's write at %d", got, rev, r2)
	}
	if cur, err := s.RequestRevision(ctx, "web1", id); err != nil || cur != r2 {
		t.Fatalf("RequestRevision = %d, %v; want %d", cur, err, r2)
	}
}
