package service

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub/store"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestFloodGate(t *testing.T) {
	clk := newFakeClock()
	g := newFloodGate(10*time.Second, 3, clk.now)
	start := clk.now()
	for i := range 3 {
		if ok, sum := g.admit("flooder"); !ok || sum != nil {
			t.Fatalf("event %d within the burst: ok=%v sum=%v", i, ok, sum)
		}
	}
	for i := range 7 {
		if ok, _ := g.admit("flooder"); ok {
			t.Fatalf("event %d past the burst recorded", i+3)
		}
		clk.advance(time.Second) // 7s in all: no token yet
	}
	// Another agent is not affected.
	if ok, _ := g.admit("quiet"); !ok {
		t.Fatal("another agent's event suppressed")
	}
	clk.advance(3 * time.Second) // 10s: one token
	ok, sum := g.admit("flooder")
	if !ok || sum == nil || sum.Suppressed != 7 || !sum.Since.Equal(start) || sum.Agent != "flooder" {
		t.Fatalf("after refill: ok=%v sum=%+v", ok, sum)
	}
	if msg := sum.message("refused"); !strings.Contains(msg, "7 more refused from agent flooder") {
		t.Fatalf("summary = %q", msg)
	}
	if ok, sum := g.admit("flooder"); ok || sum != nil {
		t.Fatalf("bucket empty again: ok=%v sum=%v", ok, sum)
	}
}

func TestFloodGateFlush(t *testing.T) {
	clk := newFakeClock()
	g := newFloodGate(10*time.Second, 2, clk.now)
	for range 5 {
		g.admit("flooder")
	}
	if s := g.flush(); len(s) != 0 {
		t.Fatalf("flush before refill = %+v", s)
	}
	clk.advance(10 * time.Second)
	s := g.flush()
	if len(s) != 1 || s[0].Agent != "flooder" || s[0].Suppressed != 3 {
		t.Fatalf("flush after refill = %+v", s)
	}
	if s := g.flush(); len(s) != 0 {
		t.Fatalf("summary given twice: %+v", s)
	}
	// A quiet agent whose bucket is full again is forgotten.
	clk.advance(time.Minute)
	g.flush()
	if n := len(g.agents); n != 0 {
		t.Fatalf("%d agents still tracked", n)
	}
}

func TestFloodHandler(t *testing.T) {
	clk := newFakeClock()
	var buf syncBuffer
	fh := newFloodHandler(slog.NewTextHandler(&buf, nil), newFloodGate(10*time.Second, 3, clk.now))
	log := slog.New(fh)
	for range 50 {
		log.Warn("certificate request refused", "agent", "flooder")
		log.With("agent", "bound").Warn("malformed message")
		log.Info("certificate issued", "agent", "flooder") // not limited
		log.Error("store failed", "agent", "flooder")      // not limited
		log.Warn("no agent here")                          // not limited
	}
	out := buf.String()
	counts := map[string]int{
		"certificate request refused": 3, "malformed message": 3,
		"certificate issued": 50, "store failed": 50, "no agent here": 50,
	}
	for msg, want := range counts {
		if got := strings.Count(out, "msg=\""+msg+"\""); got != want {
			t.Errorf("%q logged %d times, want %d", msg, got, want)
		}
	}
	clk.advance(10 * time.Second)
	fh.flush(t.Context())
	out = buf.String()
	for _, want := range []string{"47 more warnings from agent flooder", "47 more warnings from agent bound"} {
		if !strings.Contains(out, want) {
			t.Errorf("no summary %q in:\n%s", want, out)
		}
	}
}

// TestAuditFloodLimit: one agent's refusals stop at its budget in the
// audit stream, others' events are all kept, and the suppressed ones are
// summarised once the bucket refills.
func TestAuditFloodLimit(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	clk := newFakeClock()
	th.flood = &floodLimits{audit: newFloodGate(floodEvery, floodBurst, clk.now)}
	for range 100 {
		th.audit(ctx, store.AuditEvent{Kind: store.AuditRefused, Agent: "flooder", Detail: "name not allowed"})
	}
	for range 5 {
		th.audit(ctx, store.AuditEvent{Kind: store.AuditRefused, Agent: "victim", Detail: "refused"})
		th.audit(ctx, store.AuditEvent{Kind: store.AuditIssued, Agent: "flooder", Detail: "issued"}) // not a refusal
	}
	count := func(agent, detail string) int {
		t.Helper()
		evs, _, err := th.store.ReadAudit(ctx, store.AuditFilter{Agent: agent})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, ev := range evs {
			if strings.Contains(ev.Detail, detail) {
				n++
			}
		}
		return n
	}
	if n := count("flooder", "name not allowed"); n != floodBurst {
		t.Fatalf("flooder has %d refusals in the audit, want %d", n, floodBurst)
	}
	if n := count("flooder", "issued"); n != 5 {
		t.Fatalf("flooder's issued events = %d, want 5", n)
	}
	if n := count("victim", "refused"); n != 5 {
		t.Fatalf("victim's refusals = %d, want 5", n)
	}
	clk.advance(floodEvery)
	th.flushFlood(ctx)
	if n := count("flooder", "80 more refused from agent flooder"); n != 1 {
		t.Fatalf("summary events = %d, want 1", n)
	}
}

func BenchmarkFloodAdmit(b *testing.B) {
	g := newFloodGate(floodEvery, floodBurst, nil)
	agents := []string{"a1", "a2", "a3", "a4"}
	i := 0
	for b.Loop() {
		g.admit(agents[i%len(agents)])
		i++
	}
}
