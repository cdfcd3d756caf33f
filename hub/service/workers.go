package service

import (
	"hash/fnv"
	"sync"
)

// workers run agent requests on a fixed set of goroutines. An agent's
// messages always go to the same shard, in order; a shard's queue is
// deeper than an agent's burst budget, so one agent at its limit does not
// fill the queue that other agents share.
type workers struct {
	shards []chan func()
	wg     sync.WaitGroup

	// mu guards closed against a callback still submitting while stop runs.
	mu     sync.RWMutex
	closed bool
}

// workerQueue is the depth of one shard's queue.
const workerQueue = 256

func newWorkers(n int) *workers {
	w := &workers{shards: make([]chan func(), n)}
	for i := range w.shards {
		ch := make(chan func(), workerQueue)
		w.shards[i] = ch
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for fn := range ch {
				fn()
			}
		}()
	}
	return w
}

// submit queues fn on agent id's shard; false when that queue is full or
// the workers are stopping.
func (w *workers) submit(id string, fn func()) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return false
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	select {
	case w.shards[h.Sum32()%uint32(len(w.shards))] <- fn:
		return true
	default:
		return false
	}
}

// stop refuses new work, lets the workers finish what is queued and waits
// for them.
func (w *workers) stop() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		for _, ch := range w.shards {
			close(ch)
		}
	}
	w.mu.Unlock()
	w.wg.Wait()
}
