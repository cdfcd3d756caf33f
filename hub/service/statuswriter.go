package service

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// Status writes are coalesced: what the hub hears from and about an agent
// (status reports, hellos, connects and disconnects) is kept in memory and
// written once per agent every statusFlushEvery, instead of one fsync'd
// write per message. A reconnect storm of N agents (connect event, hello
// and report each) then costs about N writes, not 3N, spread over the
// flushes.
const (
	statusFlushEvery = time.Second
	// statusFlushParallel bounds the writes of one flush in flight.
	statusFlushParallel = 8
	// statusCloseTimeout bounds the last flush when the hub stops.
	statusCloseTimeout = 10 * time.Second
)

// helloInfo is what a hello changes in the stored report.
type helloInfo struct {
	version, hostname string
}

// apply puts the hello's version, and its hostname when it sent one,
// into r.
func (h helloInfo) apply(r *shared.StatusReport) {
	r.AgentVersion = h.version
	if h.hostname != "" {
		r.Hostname = h.hostname
	}
}

// statusPatch is what one hub heard about an agent since its last write.
// It merges into the stored status by time, not by arrival, because other
// hubs write the same agent's status: an older report never replaces a
// newer one, and the connection state follows the latest event.
type statusPatch struct {
	report   *shared.StatusReport // latest full report, nil for none
	reported time.Time
	hello    *helloInfo // a hello not yet folded into a report
	seen     time.Time  // the latest event
	// connected is the connection state as of seen.
	connected bool
}

// then returns p with the newer patch n on top.
func (p *statusPatch) then(n *statusPatch) *statusPatch {
	out := *p
	switch {
	case n.report != nil:
		out.report, out.reported, out.hello = n.report, n.reported, n.hello
	case n.hello != nil && out.report != nil:
		r := *out.report
		n.hello.apply(&r)
		out.report = &r
	case n.hello != nil:
		h := *n.hello
		if h.hostname == "" && out.hello != nil {
			h.hostname = out.hello.hostname
		}
		out.hello = &h
	}
	if !n.seen.Before(out.seen) {
		out.seen, out.connected = n.seen, n.connected
	}
	return &out
}

// apply merges p into the stored status cur.
func (p *statusPatch) apply(cur *hub.AgentStatus) {
	if p.report != nil && !p.reported.Before(cur.Reported) {
		cur.Report, cur.Reported = *p.report, p.reported
	}
	if p.hello != nil {
		p.hello.apply(&cur.Report)
	}
	if !p.seen.Before(cur.LastSeen) {
		cur.LastSeen, cur.Connected = p.seen, p.connected
	}
}

// statusWriter holds the patches and writes them: every statusFlushEvery
// and, at Close, whatever is left. A patch whose write fails stays for the
// next flush, under any newer one.
type statusWriter struct {
	store *store.Store
	log   *slog.Logger
	// registered says whether an agent is still registered; a removed
	// agent's last words are dropped instead of recreating its status.
	registered func(id string) bool

	mu      sync.Mutex
	pending map[string]*statusPatch
	closed  bool

	cancel context.CancelFunc
	done   chan struct{}
}

func newStatusWriter(st *store.Store, log *slog.Logger, registered func(string) bool) *statusWriter {
	return &statusWriter{store: st, log: log, registered: registered, pending: map[string]*statusPatch{}}
}

// start runs the periodic flush until Close.
func (w *statusWriter) start() {
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(statusFlushEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				w.flush(ctx)
			}
		}
	}()
}

// record notes p for agent id. After Close it is written at once: a
// disconnect event can still arrive while the hub stops.
func (w *statusWriter) record(id string, p *statusPatch) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), statusCloseTimeout)
		defer cancel()
		if err := w.write(ctx, id, p); err != nil {
			w.log.Warn("record agent status", "agent", id, "err", err)
		}
		return
	}
	defer w.mu.Unlock()
	if old := w.pending[id]; old != nil {
		p = old.then(p)
	}
	w.pending[id] = p
}

// forget drops what is pending for a removed agent.
func (w *statusWriter) forget(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.pending, id)
}

// Close stops the periodic flush and writes what is left; every later
// record is written at once.
func (w *statusWriter) Close() {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return
	}
	w.mu.Unlock()
	if w.cancel != nil {
		w.cancel()
		<-w.done
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusCloseTimeout)
	defer cancel()
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.flush(ctx)
	if n := w.pendingCount(); n > 0 {
		w.log.Error("agent status not written before stopping", "agents", n)
	}
}

func (w *statusWriter) pendingCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// flush writes every pending patch, statusFlushParallel at a time.
func (w *statusWriter) flush(ctx context.Context) {
	w.mu.Lock()
	batch := w.pending
	w.pending = map[string]*statusPatch{}
	w.mu.Unlock()
	if len(batch) == 0 {
		return
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed = map[string]*statusPatch{}
		first  error
	)
	sem := make(chan struct{}, statusFlushParallel)
	for id, p := range batch {
		if !w.registered(id) {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := w.write(ctx, id, p); err != nil {
				mu.Lock()
				failed[id] = p
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(failed) == 0 {
		return
	}
	// One line per flush, not per agent: a store outage would otherwise
	// log the whole fleet every second.
	w.log.Warn("write agent status; will retry", "agents", len(failed), "err", first)
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, p := range failed {
		if newer := w.pending[id]; newer != nil {
			p = p.then(newer)
		}
		w.pending[id] = p
	}
}

func (w *statusWriter) write(ctx context.Context, id string, p *statusPatch) error {
	_, err := w.store.UpdateStatus(ctx, id, func(cur *hub.AgentStatus) error {
		p.apply(cur)
		return nil
	})
	return err
}
