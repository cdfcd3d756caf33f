package service

import (
	"slices"
	"sync"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/pace"
)

// waitIndex is this hub's view of the waiting requests (the waiting
// bucket, followed by a watch): which to release next, and how many wait
// for each budget, so that a new request queues behind them instead of
// taking a token they wait for.
type waitIndex struct {
	mu      sync.Mutex
	entries map[string]waitEntry // by agent.request
	// perKey counts waiting budget entries per budget key, for renewals
	// and for first issuances.
	perKey map[string]*[2]int
	wake   chan struct{}
}

// waitEntry is a waiting request with the budget keys it waits for.
type waitEntry struct {
	w    hub.WaitingRequest
	keys []string
}

func newWaitIndex() *waitIndex {
	return &waitIndex{entries: map[string]waitEntry{}, perKey: map[string]*[2]int{}, wake: make(chan struct{}, 1)}
}

func waitKey(agent, reqID string) string { return agent + "." + reqID }

func class(renewal bool) int {
	if renewal {
		return 0
	}
	return 1
}

// put records w (replacing an earlier parking of its request).
func (x *waitIndex) put(w hub.WaitingRequest, keys []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(waitKey(w.AgentID, w.RequestID))
	x.entries[waitKey(w.AgentID, w.RequestID)] = waitEntry{w: w, keys: keys}
	for _, k := range keys {
		n := x.perKey[k]
		if n == nil {
			n = &[2]int{}
			x.perKey[k] = n
		}
		n[class(w.Renewal)]++
	}
	if !w.NotBefore.After(time.Now()) {
		x.poke()
	}
}

// remove forgets the parking of agent's request reqID that began at
// parked (a later one stays).
func (x *waitIndex) remove(agent, reqID string, parked time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := waitKey(agent, reqID)
	if e, ok := x.entries[k]; ok && e.w.Parked.Equal(parked) {
		x.removeLocked(k)
	}
}

func (x *waitIndex) removeLocked(k string) {
	e, ok := x.entries[k]
	if !ok {
		return
	}
	delete(x.entries, k)
	for _, key := range e.keys {
		if n := x.perKey[key]; n != nil {
			n[class(e.w.Renewal)]--
			if n[0] <= 0 && n[1] <= 0 {
				delete(x.perKey, key)
			}
		}
	}
}

// reschedule moves an entry's next try in this hub's view (the store is
// updated by the caller).
func (x *waitIndex) reschedule(agent, reqID string, parked, notBefore time.Time, reason string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	k := waitKey(agent, reqID)
	if e, ok := x.entries[k]; ok && e.w.Parked.Equal(parked) {
		e.w.NotBefore, e.w.Reason = notBefore, reason
		x.entries[k] = e
	}
}

// parked reports whether agent's request reqID waits.
func (x *waitIndex) parked(agent, reqID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	_, ok := x.entries[waitKey(agent, reqID)]
	return ok
}

// ahead returns, for each of spends, how many waiting requests of the
// same or a higher priority wait for it: renewals for renewals, and
// everybody for first issuances.
func (x *waitIndex) ahead(spends []pace.Spend, renewal bool) []int {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]int, len(spends))
	for i, s := range spends {
		if n := x.perKey[s.Key]; n != nil {
			out[i] = n[0]
			if !renewal {
				out[i] += n[1]
			}
		}
	}
	return out
}

// due returns the entries whose time has come and that no other hub is
// releasing, most urgent first, and when the next one falls due.
func (x *waitIndex) due(now time.Time, self string) ([]waitEntry, time.Time) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []waitEntry
	var next time.Time
	for _, e := range x.entries {
		claimed := e.w.Claim != "" && e.w.Claim != self && e.w.ClaimUntil.After(now)
		switch {
		case e.w.NotBefore.After(now):
			if next.IsZero() || e.w.NotBefore.Before(next) {
				next = e.w.NotBefore
			}
		case claimed:
			if next.IsZero() || e.w.ClaimUntil.Before(next) {
				next = e.w.ClaimUntil
			}
		default:
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b waitEntry) int {
		pa, pb := priorityOf(a.w), priorityOf(b.w)
		switch {
		case pa.Before(pb):
			return -1
		case pb.Before(pa):
			return 1
		}
		return 0
	})
	return out, next
}

// size returns how many requests wait.
func (x *waitIndex) size() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.entries)
}

// poke wakes the releaser without blocking.
func (x *waitIndex) poke() {
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

func priorityOf(w hub.WaitingRequest) pace.Priority {
	since := w.Since
	if since.IsZero() {
		since = w.Parked
	}
	return pace.Priority{Renewal: w.Renewal, Due: w.Due, Since: since}
}

// reset forgets everything (before a new watch replays the bucket).
func (x *waitIndex) reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.entries = map[string]waitEntry{}
	x.perKey = map[string]*[2]int{}
}
