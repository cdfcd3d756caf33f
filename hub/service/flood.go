package service

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/certfleet/certfleet/hub/store"
)

// Per-agent flood limits: what one agent can make the hub write to its
// log and its audit stream. A hostile or broken agent sending refused
// requests in a loop would otherwise push everyone else's history out of
// the size-bounded audit stream and fill the disk with log lines. Each
// agent gets a token bucket; what it spends past the bucket is counted,
// and one "N more ..." line stands for it once the bucket refills.
const (
	floodBurst = 20               // events recorded at once
	floodEvery = 10 * time.Second // then one per this (360 an hour)
)

// floodGate is a token bucket per agent.
type floodGate struct {
	mu     sync.Mutex
	now    func() time.Time
	every  time.Duration
	burst  int
	agents map[string]*floodEntry
}

type floodEntry struct {
	lim        *rate.Limiter
	suppressed int
	since      time.Time // first suppressed event
}

// floodSummary stands for the events of one agent that were not recorded.
type floodSummary struct {
	Agent      string
	Suppressed int
	Since      time.Time
}

// newFloodGate lets each agent through burst events at once and then one
// per every; now is the clock (time.Now outside tests).
func newFloodGate(every time.Duration, burst int, now func() time.Time) *floodGate {
	if now == nil {
		now = time.Now
	}
	return &floodGate{now: now, every: every, burst: burst, agents: map[string]*floodEntry{}}
}

// admit decides on one event of agent: whether to record it, and, when it
// is recorded after others were suppressed, their summary to record first.
func (g *floodGate) admit(agent string) (ok bool, sum *floodSummary) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	e := g.agents[agent]
	if e == nil {
		e = &floodEntry{lim: rate.NewLimiter(rate.Every(g.every), g.burst)}
		g.agents[agent] = e
	}
	if !e.lim.AllowN(now, 1) {
		if e.suppressed == 0 {
			e.since = now
		}
		e.suppressed++
		return false, nil
	}
	if e.suppressed > 0 {
		sum = &floodSummary{Agent: agent, Suppressed: e.suppressed, Since: e.since}
		e.suppressed = 0
	}
	return true, sum
}

// flush returns the summaries of agents that went quiet after being
// suppressed, once their bucket has refilled by a token (which the summary
// spends), and forgets agents whose bucket is full again.
func (g *floodGate) flush() []floodSummary {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	var out []floodSummary
	for agent, e := range g.agents {
		switch {
		case e.suppressed > 0 && e.lim.AllowN(now, 1):
			out = append(out, floodSummary{Agent: agent, Suppressed: e.suppressed, Since: e.since})
			e.suppressed = 0
		case e.suppressed == 0 && e.lim.TokensAt(now) >= float64(g.burst):
			delete(g.agents, agent)
		}
	}
	return out
}

func (s floodSummary) message(what string) string {
	return fmt.Sprintf("%d more %s from agent %s since %s not recorded (per-agent flood limit: %d at once, then one per %v)",
		s.Suppressed, what, s.Agent, s.Since.UTC().Format(time.RFC3339), floodBurst, floodEvery)
}

// auditEvent is the audit event that stands for suppressed refusals.
func (s floodSummary) auditEvent() store.AuditEvent {
	return store.AuditEvent{Kind: store.AuditRefused, Agent: s.Agent, Detail: s.message("refused")}
}

// floodHandler is a slog.Handler that passes an agent's warnings (what
// agents can trigger: refusals, malformed messages) through a floodGate;
// records without an "agent" attribute and other levels pass untouched.
type floodHandler struct {
	inner slog.Handler
	gate  *floodGate
	agent string // from WithAttrs
}

func newFloodHandler(inner slog.Handler, gate *floodGate) *floodHandler {
	return &floodHandler{inner: inner, gate: gate}
}

func (f *floodHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return f.inner.Enabled(ctx, l)
}

func (f *floodHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level != slog.LevelWarn {
		return f.inner.Handle(ctx, r)
	}
	agent := f.agent
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "agent" {
			agent = a.Value.String()
			return false
		}
		return true
	})
	if agent == "" {
		return f.inner.Handle(ctx, r)
	}
	ok, sum := f.gate.admit(agent)
	if sum != nil {
		f.summarise(ctx, *sum)
	}
	if !ok {
		return nil
	}
	return f.inner.Handle(ctx, r)
}

func (f *floodHandler) summarise(ctx context.Context, s floodSummary) {
	r := slog.NewRecord(time.Now(), slog.LevelWarn, s.message("warnings"), 0)
	r.AddAttrs(slog.String("agent", s.Agent), slog.Int("suppressed", s.Suppressed))
	_ = f.inner.Handle(ctx, r)
}

// flush logs the summaries of agents that went quiet.
func (f *floodHandler) flush(ctx context.Context) {
	for _, s := range f.gate.flush() {
		f.summarise(ctx, s)
	}
}

func (f *floodHandler) WithAttrs(as []slog.Attr) slog.Handler {
	agent := f.agent
	for _, a := range as {
		if a.Key == "agent" {
			agent = a.Value.String()
		}
	}
	return &floodHandler{inner: f.inner.WithAttrs(as), gate: f.gate, agent: agent}
}

func (f *floodHandler) WithGroup(name string) slog.Handler {
	return &floodHandler{inner: f.inner.WithGroup(name), gate: f.gate, agent: f.agent}
}

// floodLimits holds the hub's two gates: one for the audit stream, one
// for the log.
type floodLimits struct {
	audit *floodGate
	log   *floodHandler
}

// auditAdmit passes ev through the audit gate: agent-attributed refusals
// are limited per agent. It returns the events to append, a summary of
// suppressed ones first.
func (fl *floodLimits) auditAdmit(ev store.AuditEvent) []store.AuditEvent {
	if fl == nil || ev.Kind != store.AuditRefused || ev.Agent == "" {
		return []store.AuditEvent{ev}
	}
	ok, sum := fl.audit.admit(ev.Agent)
	var out []store.AuditEvent
	if sum != nil {
		out = append(out, sum.auditEvent())
	}
	if ok {
		out = append(out, ev)
	}
	return out
}

// flushFlood records the summaries of agents that were flooding and went
// quiet; housekeeping calls it.
func (h *Hub) flushFlood(ctx context.Context) {
	if h.flood == nil {
		return
	}
	for _, s := range h.flood.audit.flush() {
		h.appendAudit(ctx, s.auditEvent())
	}
	if h.flood.log != nil {
		h.flood.log.flush(ctx)
	}
}
