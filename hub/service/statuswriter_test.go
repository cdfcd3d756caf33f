package service

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// statusWrites counts the writes to the status bucket per agent, as any
// hub's watch sees them.
type statusWrites struct {
	mu   sync.Mutex
	n    map[string]int
	last map[string]hub.AgentStatus
}

func countStatusWrites(tb testing.TB, th *testHub) *statusWrites {
	tb.Helper()
	c := &statusWrites{n: map[string]int{}, last: map[string]hub.AgentStatus{}}
	w, err := th.store.WatchStatus(testCtx(tb), func(put bool, id string, st hub.AgentStatus) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if put {
			c.n[id]++
			c.last[id] = st
		}
	}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Stop)
	return c
}

// await waits until agent id has n writes and returns the last.
func (c *statusWrites) await(tb testing.TB, id string, n int) hub.AgentStatus {
	tb.Helper()
	var last hub.AgentStatus
	eventually(tb, 10*time.Second, fmt.Sprintf("%d status writes of %s", n, id), func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		last = c.last[id]
		return c.n[id] >= n
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[id] != n {
		tb.Fatalf("%d status writes of %s, want %d", c.n[id], id, n)
	}
	return last
}

// TestStatusReportsCoalesced: many reports of an agent cost one write per
// flush, the last report wins, a disconnect after them is kept, the
// answer to each report does not wait for a write, and Close writes what
// is left.
func TestStatusReportsCoalesced(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	for _, id := range []string{"web1", "web2"} {
		if err := th.store.PutAgent(ctx, hub.Agent{ID: id, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	th.awaitFleet(t, "both agents", func(s *fleet.Snapshot) bool { return s.Len() == 2 })
	writes := countStatusWrites(t, th)
	report := func(id string, i int) {
		t.Helper()
		body, err := shared.Encode(&shared.StatusReport{AgentVersion: fmt.Sprintf("v%d", i),
			Certificates: []shared.CertStatus{{Name: "web", LastResult: "ok"}}})
		if err != nil {
			t.Fatal(err)
		}
		ack, err := th.onStatus(ctx, id, body)
		if err != nil {
			t.Fatal(err)
		}
		var a shared.Ack
		if err := shared.Decode(ack, &a); err != nil {
			t.Fatal(err)
		}
	}

	for i := range 100 {
		report("web1", i)
		report("web2", 1000+i)
	}
	// Answered, not yet written.
	if _, err := th.store.GetStatus(ctx, "web1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status written before the flush: %v", err)
	}
	th.statusW.flush(ctx)
	if st := writes.await(t, "web1", 1); st.Report.AgentVersion != "v99" || !st.Connected || st.Reported.IsZero() {
		t.Fatalf("after 100 reports: %+v", st)
	}
	writes.await(t, "web2", 1)

	// Reports, then the agent disconnects: one write, disconnected, with
	// the last report.
	for i := 100; i < 150; i++ {
		report("web1", i)
	}
	th.statusW.record("web1", &statusPatch{seen: time.Now().UTC(), connected: false})
	th.statusW.flush(ctx)
	if st := writes.await(t, "web1", 2); st.Report.AgentVersion != "v149" || st.Connected {
		t.Fatalf("after reports and a disconnect: %+v", st)
	}

	// What is pending at Close is written; later events are written at
	// once.
	report("web1", 150)
	report("web1", 151)
	th.statusW.Close()
	if st := writes.await(t, "web1", 3); st.Report.AgentVersion != "v151" || !st.Connected {
		t.Fatalf("after Close: %+v", st)
	}
	th.statusW.record("web1", &statusPatch{seen: time.Now().UTC(), connected: false})
	if st := writes.await(t, "web1", 4); st.Connected {
		t.Fatalf("an event after Close: %+v", st)
	}
	writes.await(t, "web2", 1)
}

// TestStatusOfRemovedAgentDropped: a report buffered for an agent removed
// before the flush does not recreate its status.
func TestStatusOfRemovedAgentDropped(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	if err := th.store.PutAgent(ctx, hub.Agent{ID: "gone", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	th.awaitFleet(t, "the agent", func(s *fleet.Snapshot) bool { return s.Get("gone") != nil })
	body, _ := shared.Encode(&shared.StatusReport{AgentVersion: "1"})
	if _, err := th.onStatus(ctx, "gone", body); err != nil {
		t.Fatal(err)
	}
	if err := th.store.DeleteAgent(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	th.awaitFleet(t, "the agent removed", func(s *fleet.Snapshot) bool { return s.Get("gone") == nil })
	th.statusW.flush(ctx)
	if _, err := th.store.GetStatus(ctx, "gone"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("status of a removed agent written: %v", err)
	}
	if _, err := th.onStatus(ctx, "gone", body); shared.CodeOf(err) != shared.CodeUnknownAgent {
		t.Fatalf("report of a removed agent: %v", err)
	}
}

// TestStatusPatchMerge: patches merge by time, so that hubs writing the
// same agent's status (each its own buffer) never put an older report or
// connection state over a newer one.
func TestStatusPatchMerge(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	rep := func(v string) *shared.StatusReport {
		return &shared.StatusReport{AgentVersion: v, Hostname: "host-" + v}
	}
	stored := hub.AgentStatus{AgentID: "web1", Report: *rep("stored"), Reported: at(10), LastSeen: at(10), Connected: true}
	cases := []struct {
		name      string
		patches   []*statusPatch // merged in order, then applied
		version   string
		hostname  string
		seen      time.Time
		connected bool
	}{
		{"newer report replaces", []*statusPatch{{report: rep("new"), reported: at(20), seen: at(20), connected: true}},
			"new", "host-new", at(20), true},
		{"older report from another hub is ignored", []*statusPatch{{report: rep("old"), reported: at(5), seen: at(5), connected: false}},
			"stored", "host-stored", at(10), true},
		{"disconnect after a report", []*statusPatch{{report: rep("new"), reported: at(20), seen: at(20), connected: true}, {seen: at(21)}},
			"new", "host-new", at(21), false},
		{"reconnect after a disconnect", []*statusPatch{{seen: at(20)}, {seen: at(21), connected: true}},
			"stored", "host-stored", at(21), true},
		{"hello without a report keeps the report, sets the version", []*statusPatch{{hello: &helloInfo{version: "hello"}, seen: at(20), connected: true}},
			"hello", "host-stored", at(20), true},
		{"hello after a report folds into it", []*statusPatch{{report: rep("new"), reported: at(20), seen: at(20), connected: true},
			{hello: &helloInfo{version: "hello", hostname: "h2"}, seen: at(21), connected: true}},
			"hello", "h2", at(21), true},
		{"report after a hello replaces it", []*statusPatch{{hello: &helloInfo{version: "hello", hostname: "h2"}, seen: at(20), connected: true},
			{report: rep("new"), reported: at(21), seen: at(21), connected: true}},
			"new", "host-new", at(21), true},
		{"two hellos keep the last hostname sent", []*statusPatch{{hello: &helloInfo{version: "a", hostname: "h1"}, seen: at(20), connected: true},
			{hello: &helloInfo{version: "b"}, seen: at(21), connected: true}},
			"b", "h1", at(21), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.patches[0]
			for _, n := range tc.patches[1:] {
				p = p.then(n)
			}
			st := stored
			p.apply(&st)
			if st.Report.AgentVersion != tc.version || st.Report.Hostname != tc.hostname || !st.LastSeen.Equal(tc.seen) || st.Connected != tc.connected {
				t.Fatalf("got version %q hostname %q seen %s connected %v", st.Report.AgentVersion, st.Report.Hostname, st.LastSeen, st.Connected)
			}
		})
	}
}
