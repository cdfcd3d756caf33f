package fleet

import (
	"cmp"
	"encoding/json"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/certfleet/certfleet/hub"
)

// Agent is one registered agent as the snapshot holds it. An *Agent is
// never changed once handed out (a change makes a new one), so readers
// keep and read it without a lock; they must not modify it or what its
// fields point to.
type Agent struct {
	Record hub.Agent
	// Status is the agent's latest status; nil until it is first heard
	// from.
	Status *hub.AgentStatus
	// Certs are the hub's certificate records, by name, without PEM
	// chains (one certificate's chain is read from the store on demand).
	Certs []hub.CertRecord
	// Requests are the latest request state per certificate name, by name.
	Requests []hub.RequestState
	// size estimates the agent's share of an encoded status reply, and
	// recordSize that of its record alone.
	size, recordSize int
}

// ID is the agent's id.
func (a *Agent) ID() string { return a.Record.ID }

// Size estimates, in bytes, what the agent adds to an encoded status
// reply (its record, status, certificates and requests; not its alerts).
func (a *Agent) Size() int { return a.size }

// RecordSize is the encoded size of the agent's record alone.
func (a *Agent) RecordSize() int { return a.recordSize }

// entry is everything the snapshot knows under one agent id, registered
// or not: the buckets are watched independently, so an agent's status or
// certificates may arrive before its record (or outlive it briefly).
type entry struct {
	record     *hub.Agent
	status     *hub.AgentStatus
	certs      map[string]hub.CertRecord   // by certificate name
	reqs       map[string]hub.RequestState // by request id
	certList   []hub.CertRecord
	latest     []hub.RequestState
	recordSize int
	statusSize int
	certsSize  int
	reqsSize   int
	// view is what readers get; nil while the agent is not registered.
	view *Agent
}

func (e *entry) empty() bool {
	return e.record == nil && e.status == nil && len(e.certs) == 0 && len(e.reqs) == 0
}

// refresh makes a new view after a change.
func (e *entry) refresh() {
	if e.record == nil {
		e.view = nil
		return
	}
	e.view = &Agent{Record: *e.record, Status: e.status, Certs: e.certList, Requests: e.latest,
		size: e.recordSize + e.statusSize + e.certsSize + e.reqsSize, recordSize: e.recordSize}
}

// Snapshot is a hub's in-memory view of its fleet. It is safe for
// concurrent use: readers share a read lock and take immutable *Agent
// values, writers (the watches) hold the write lock for one change.
type Snapshot struct {
	mu      sync.RWMutex
	entries map[string]*entry
	// ids holds the registered agents' ids, sorted, for cursor paging.
	// While loading it is left alone and built once at the end.
	ids     []string
	loading bool
	damaged map[string]hub.Damaged // by store + "/" + key
	// changed is closed and replaced at every change, to wake Await.
	changed chan struct{}
}

// New returns an empty snapshot. Open returns one fed by the store's
// watches; New alone is for views fed by hand (tests, benchmarks).
func New() *Snapshot {
	return &Snapshot{entries: map[string]*entry{}, damaged: map[string]hub.Damaged{}, changed: make(chan struct{})}
}

// encodedSize is the length of v in JSON (0 if it does not encode, which
// the types held here always do).
func encodedSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b) + 1 // and a comma
}

// change runs fn on id's entry under the write lock, then drops an empty
// entry, keeps the id index right and wakes waiters.
func (s *Snapshot) change(id string, fn func(e *entry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[id]
	if e == nil {
		e = &entry{}
		s.entries[id] = e
	}
	was := e.record != nil
	fn(e)
	e.refresh()
	now := e.record != nil
	if e.empty() {
		delete(s.entries, id)
	}
	if was != now && !s.loading {
		i, found := slices.BinarySearch(s.ids, id)
		switch {
		case now && !found:
			s.ids = slices.Insert(s.ids, i, id)
		case !now && found:
			s.ids = slices.Delete(s.ids, i, i+1)
		}
	}
	s.notify()
}

// notify wakes every Await; the caller holds the write lock.
func (s *Snapshot) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// PutAgent records agent a.
func (s *Snapshot) PutAgent(a hub.Agent) {
	size := encodedSize(a)
	s.change(a.ID, func(e *entry) { e.record, e.recordSize = &a, size })
}

// RemoveAgent forgets agent id's record: the agent is no longer listed.
func (s *Snapshot) RemoveAgent(id string) {
	s.change(id, func(e *entry) { e.record, e.recordSize = nil, 0 })
}

// PutStatus records the agent's latest status.
func (s *Snapshot) PutStatus(st hub.AgentStatus) {
	size := encodedSize(st)
	s.change(st.AgentID, func(e *entry) { e.status, e.statusSize = &st, size })
}

// RemoveStatus forgets agent id's status.
func (s *Snapshot) RemoveStatus(id string) {
	s.change(id, func(e *entry) { e.status, e.statusSize = nil, 0 })
}

// PutCert records a certificate; its PEM chain is not kept.
func (s *Snapshot) PutCert(c hub.CertRecord) {
	c.Chain = ""
	s.change(c.AgentID, func(e *entry) {
		if e.certs == nil {
			e.certs = map[string]hub.CertRecord{}
		}
		e.certs[c.CertName] = c
		e.rebuildCerts()
	})
}

// RemoveCert forgets agent's certificate name.
func (s *Snapshot) RemoveCert(agent, name string) {
	s.change(agent, func(e *entry) {
		delete(e.certs, name)
		e.rebuildCerts()
	})
}

// rebuildCerts remakes the sorted list: a new slice, since views handed
// out still hold the old one.
func (e *entry) rebuildCerts() {
	e.certList = slices.SortedFunc(maps.Values(e.certs), func(a, b hub.CertRecord) int { return cmp.Compare(a.CertName, b.CertName) })
	e.certsSize = 0
	for _, c := range e.certList {
		e.certsSize += encodedSize(c)
	}
}

// PutRequest records a request state.
func (s *Snapshot) PutRequest(q hub.RequestState) {
	s.change(q.AgentID, func(e *entry) {
		if e.reqs == nil {
			e.reqs = map[string]hub.RequestState{}
		}
		e.reqs[q.RequestID] = q
		e.rebuildLatest()
	})
}

// RemoveRequest forgets agent's request reqID.
func (s *Snapshot) RemoveRequest(agent, reqID string) {
	s.change(agent, func(e *entry) {
		delete(e.reqs, reqID)
		e.rebuildLatest()
	})
}

// rebuildLatest picks the latest request per certificate name (the most
// recently updated; the higher request id on a tie, so every hub picks
// the same one).
func (e *entry) rebuildLatest() {
	byName := map[string]hub.RequestState{}
	for _, q := range e.reqs {
		cur, ok := byName[q.CertName]
		if !ok || cur.Updated.Before(q.Updated) || (cur.Updated.Equal(q.Updated) && cur.RequestID < q.RequestID) {
			byName[q.CertName] = q
		}
	}
	e.latest = slices.SortedFunc(maps.Values(byName), func(a, b hub.RequestState) int { return cmp.Compare(a.CertName, b.CertName) })
	e.reqsSize = 0
	for _, q := range e.latest {
		e.reqsSize += encodedSize(q)
	}
}

// PruneRequests forgets request states last updated before cutoff. The
// requests bucket drops them at its max age without telling its watchers.
func (s *Snapshot) PruneRequests(cutoff time.Time) {
	s.mu.RLock()
	var stale []hub.RequestState
	for _, e := range s.entries {
		for _, q := range e.reqs {
			if q.Updated.Before(cutoff) {
				stale = append(stale, q)
			}
		}
	}
	s.mu.RUnlock()
	for _, q := range stale {
		s.RemoveRequest(q.AgentID, q.RequestID)
	}
}

// SetDamaged records (d set) or clears (d nil) a damaged entry of bucket
// under key.
func (s *Snapshot) SetDamaged(bucket, key string, d *hub.Damaged) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d == nil {
		delete(s.damaged, bucket+"/"+key)
	} else {
		s.damaged[bucket+"/"+key] = *d
	}
	s.notify()
}

// Damaged returns the damaged entries of the given buckets (all when
// none is given), by bucket and key.
func (s *Snapshot) Damaged(buckets ...string) []hub.Damaged {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []hub.Damaged
	for _, d := range s.damaged {
		if len(buckets) == 0 || slices.Contains(buckets, d.Store) {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b hub.Damaged) int { return cmp.Or(cmp.Compare(a.Store, b.Store), cmp.Compare(a.Key, b.Key)) })
	return out
}

// beginLoad stops maintaining the id index while the buckets replay.
func (s *Snapshot) beginLoad() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loading = true
}

// endLoad builds the id index once, sorted.
func (s *Snapshot) endLoad() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loading = false
	s.ids = s.ids[:0]
	for id, e := range s.entries {
		if e.record != nil {
			s.ids = append(s.ids, id)
		}
	}
	slices.Sort(s.ids)
	s.notify()
}
