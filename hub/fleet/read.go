package fleet

import (
	"context"
	"sort"
)

// Get returns registered agent id, or nil.
func (s *Snapshot) Get(id string) *Agent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e := s.entries[id]; e != nil {
		return e.view
	}
	return nil
}

// Len counts the registered agents.
func (s *Snapshot) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.ids)
}

// All returns every registered agent, by id. The slice is the caller's;
// the lock is held only to gather it, so a slow reader never holds up the
// watches.
func (s *Snapshot) All() []*Agent {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Agent, 0, len(s.ids))
	for _, id := range s.ids {
		out = append(out, s.entries[id].view)
	}
	return out
}

// Query selects one page of agents.
type Query struct {
	// After is the cursor: only agents whose id sorts after it.
	After string
	// Limit is the most agents on the page (at least 1).
	Limit int
	// Budget, when positive, ends the page before the agents' estimated
	// encoded size (by Size) would pass it; a page holds at least one
	// agent whatever its size.
	Budget int
	// Size estimates what an agent adds to the reply; nil for Agent.Size.
	// It runs under the read lock like Match.
	Size func(*Agent) int
	// Match, when set, keeps only the agents it accepts. It runs under the
	// snapshot's read lock: it must be quick and must not call the
	// snapshot.
	Match func(*Agent) bool
}

// Page is one page of agents, by id. Next, when set, is the After of the
// following page: at least one more agent matches after it.
type Page struct {
	Agents []*Agent
	Next   string
}

// Page returns the page q selects. It walks the sorted id index from the
// cursor, so a page costs what it holds (plus the agents its filter
// skips), never a sort of the fleet.
func (s *Snapshot) Page(q Query) Page {
	limit := max(q.Limit, 1)
	s.mu.RLock()
	defer s.mu.RUnlock()
	var p Page
	size := 0
	i := sort.SearchStrings(s.ids, q.After)
	if i < len(s.ids) && s.ids[i] == q.After {
		i++
	}
	for ; i < len(s.ids); i++ {
		a := s.entries[s.ids[i]].view
		if q.Match != nil && !q.Match(a) {
			continue
		}
		n := 0
		switch {
		case q.Budget <= 0:
		case q.Size != nil:
			n = q.Size(a)
		default:
			n = a.size
		}
		if len(p.Agents) == limit || (q.Budget > 0 && len(p.Agents) > 0 && size+n > q.Budget) {
			p.Next = p.Agents[len(p.Agents)-1].Record.ID
			return p
		}
		size += n
		p.Agents = append(p.Agents, a)
	}
	return p
}

// Await returns once cond holds, re-checking it after every change to the
// snapshot, or ctx's error. cond may read the snapshot.
func (s *Snapshot) Await(ctx context.Context, cond func(*Snapshot) bool) error {
	for {
		s.mu.RLock()
		ch := s.changed
		s.mu.RUnlock()
		if cond(s) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
