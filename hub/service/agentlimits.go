package service

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/certfleet/certfleet/internal/logsum"
)

// Per-agent limits on what the hub takes from one agent. A legitimate
// agent sends a hello per connect, a status report per poll, a fetch per
// pending request and a request per certificate block, so these leave it
// far from the limit while a flood from one agent is cut at the door,
// before any store access, and cannot delay the others.
const (
	agentMsgRate  = 5   // messages per second, sustained
	agentMsgBurst = 100 // messages at once
	// Certificate requests have their own, smaller budget: each may cost a
	// CA order.
	agentReqRate  = 1.0 // per second
	agentReqBurst = 200
	// limiterIdle: an agent's buckets are forgotten after this long unused
	// (they are full again by then anyway).
	limiterIdle = 10 * time.Minute
)

// agentLimiter holds one token bucket per agent and purpose.
type agentLimiter struct {
	rate  rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	used time.Time
}

func newAgentLimiter(r rate.Limit, burst int) *agentLimiter {
	return &agentLimiter{rate: r, burst: burst, m: map[string]*limiterEntry{}}
}

// allow takes one token from agent id's bucket.
func (l *agentLimiter) allow(id string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.m[id]
	if e == nil {
		e = &limiterEntry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.m[id] = e
	}
	e.used = now
	return e.lim.AllowN(now, 1)
}

// prune forgets buckets unused since before now-limiterIdle, so the map
// holds only agents seen lately.
func (l *agentLimiter) prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, e := range l.m {
		if now.Sub(e.used) > limiterIdle {
			delete(l.m, id)
		}
	}
}

// Reasons an agent message is dropped unanswered.
const (
	dropSubject     = "bad_subject"     // not agent.<id>.up.<verb>
	dropReply       = "reply_subject"   // carries a reply subject; the hub never answers one
	dropCorrelation = "bad_correlation" // no valid correlation header
	dropRate        = "rate_limited"    // over the agent's message budget
	dropBusy        = "busy"            // the agent's own queue is full
	dropExpired     = "expired"         // waited in the queue longer than the agent waits for an answer
	dropAck         = "unexpected_ack"  // an ack nobody here waits for
)

// dropLogEvery bounds drop log lines to one per agent and interval; the
// rest are summed into the next line.
const dropLogEvery = 10 * time.Second

// drops counts dropped agent messages by reason and logs them, at most one
// line per agent per dropLogEvery, so a flood cannot fill the log.
type drops struct {
	log *slog.Logger

	mu         sync.Mutex
	byReason   map[string]uint64
	lastLog    map[string]time.Time
	suppressed map[string]int
	// Drops that are the hub's doing, not the agent's, are logged as one
	// line per interval for the whole fleet.
	hub *logsum.Summary
}

func newDrops(log *slog.Logger) *drops {
	return &drops{log: log, byReason: map[string]uint64{}, lastLog: map[string]time.Time{}, suppressed: map[string]int{},
		hub: logsum.New(log, "agent requests dropped: the hub is behind; their agents will ask again", dropLogEvery)}
}

// add records a drop of a message from agent (may be "" when the subject
// names none) for reason.
func (d *drops) add(agent, reason, subject string, now time.Time) {
	d.mu.Lock()
	d.byReason[reason]++
	if last, ok := d.lastLog[agent]; ok && now.Sub(last) < dropLogEvery {
		d.suppressed[agent]++
		d.mu.Unlock()
		return
	}
	n := d.suppressed[agent]
	delete(d.suppressed, agent)
	d.lastLog[agent] = now
	d.mu.Unlock()
	// slog quotes the subject, so control characters in it stay escaped.
	d.log.Warn("dropped agent message", "agent", agent, "reason", reason, "subject", subject, "suppressed_before", n)
}

// addHub records a drop caused by the hub being behind (not by the agent):
// counted like the others, but logged as at most one line per
// dropLogEvery for all agents, so a reconnecting fleet does not flood the log.
func (d *drops) addHub(reason string, now time.Time) {
	d.mu.Lock()
	d.byReason[reason]++
	d.mu.Unlock()
	d.hub.Add(now, "reason", reason)
}

// counts returns a copy of the drop counters by reason.
func (d *drops) counts() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]uint64, len(d.byReason))
	for k, v := range d.byReason {
		out[k] = v
	}
	return out
}

// prune forgets per-agent log state older than the interval, first
// logging what was suppressed since the last line.
func (d *drops) prune(now time.Time) {
	d.mu.Lock()
	var summary []any
	for a, t := range d.lastLog {
		if now.Sub(t) <= dropLogEvery {
			continue
		}
		if n := d.suppressed[a]; n > 0 {
			summary = append(summary, a, n)
		}
		delete(d.lastLog, a)
		delete(d.suppressed, a)
	}
	d.mu.Unlock()
	for i := 0; i < len(summary); i += 2 {
		d.log.Warn("more agent messages dropped", "agent", summary[i], "count", summary[i+1])
	}
}
