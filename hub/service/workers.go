package service

import (
	"context"
	"errors"
	"sync"
	"time"
)

// workers run admitted agent requests on a fixed pool of goroutines.
//
// Each agent has its own FIFO queue and at most one request running, so its
// messages are handled in order; agents with work are served round-robin,
// so one agent's burst (bounded by its rate budget and perAgent) delays
// another agent by at most one request. When the pool as a whole is behind
// (a fleet reconnecting at once), submit blocks instead of dropping: the
// NATS subscription buffers the rest, and the agents' requests are
// answered late rather than lost and retried. A request that waited
// longer than its sender waits for an answer is skipped: its agent has
// given up and will ask again, and answering it would only delay the
// requests that can still be answered in time.
type workers struct {
	perAgent int
	expiry   time.Duration
	// expired is called (outside the lock) for a request skipped as stale.
	expired func(id string, waited time.Duration)
	now     func() time.Time // time.Now; tests replace it

	// space holds one token per queued or running request; submit blocks
	// on it when the pool is full.
	space chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	cond   *sync.Cond
	queues map[string]*agentQueue
	ready  []*agentQueue // agents with queued work and none running, FIFO
	closed bool
}

type agentQueue struct {
	id      string
	jobs    []job
	running bool
}

type job struct {
	fn     func()
	queued time.Time
}

// Defaults of the agent worker pool.
const (
	// workerCount: handlers mostly wait on the store, so the pool is
	// several times the CPUs.
	minWorkers = 32
	// maxQueued bounds the requests queued in the hub across all agents
	// before submit blocks.
	maxQueued = 8192
	// maxQueuedPerAgent matches the agent's burst budget: a legitimate
	// agent has a handful outstanding; more is a flood.
	maxQueuedPerAgent = agentMsgBurst
	// queueExpiry: agents wait 15 s for an answer (agent.DefaultRequestTimeout).
	queueExpiry = 15 * time.Second
)

// Reasons submit refuses a request.
var (
	errAgentBusy     = errors.New("agent has too many requests queued")
	errWorkersClosed = errors.New("workers stopped")
)

// newWorkers starts n workers; perAgent bounds one agent's queue, total
// all queued and running requests.
func newWorkers(n, perAgent, total int, expiry time.Duration, expired func(string, time.Duration)) *workers {
	w := &workers{perAgent: perAgent, expiry: expiry, expired: expired,
		space: make(chan struct{}, total), done: make(chan struct{}), queues: map[string]*agentQueue{}, now: time.Now}
	w.cond = sync.NewCond(&w.mu)
	for range n {
		w.wg.Add(1)
		go w.run()
	}
	return w
}

// submit queues fn for agent id. It blocks while the pool is full, until
// ctx ends or the workers stop; it refuses at once when id's own queue is
// full.
func (w *workers) submit(ctx context.Context, id string, fn func()) error {
	select {
	case w.space <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-w.done:
		return errWorkersClosed
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.space
		return errWorkersClosed
	}
	q := w.queues[id]
	if q == nil {
		q = &agentQueue{id: id}
		w.queues[id] = q
	}
	if len(q.jobs) >= w.perAgent {
		w.mu.Unlock()
		<-w.space
		return errAgentBusy
	}
	q.jobs = append(q.jobs, job{fn: fn, queued: w.now()})
	if !q.running && len(q.jobs) == 1 {
		w.ready = append(w.ready, q)
		w.cond.Signal()
	}
	w.mu.Unlock()
	return nil
}

// run takes the next ready agent's oldest request, runs it, and puts the
// agent back at the end of the line if it has more.
func (w *workers) run() {
	defer w.wg.Done()
	for {
		w.mu.Lock()
		for len(w.ready) == 0 && !w.closed {
			w.cond.Wait()
		}
		if len(w.ready) == 0 {
			w.mu.Unlock()
			return
		}
		q := w.ready[0]
		w.ready[0] = nil
		w.ready = w.ready[1:]
		j := q.jobs[0]
		q.jobs[0] = job{}
		q.jobs = q.jobs[1:]
		q.running = true
		w.mu.Unlock()

		if waited := w.now().Sub(j.queued); w.expiry > 0 && waited > w.expiry {
			if w.expired != nil {
				w.expired(q.id, waited)
			}
		} else {
			j.fn()
		}

		w.mu.Lock()
		q.running = false
		if len(q.jobs) > 0 {
			w.ready = append(w.ready, q)
			w.cond.Signal()
		} else {
			delete(w.queues, q.id)
		}
		w.mu.Unlock()
		<-w.space
	}
}

// stop refuses new work, lets the workers finish what is queued and waits
// for them.
func (w *workers) stop() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.done)
		w.cond.Broadcast()
	}
	w.mu.Unlock()
	w.wg.Wait()
}
