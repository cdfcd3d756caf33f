package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
)

// Watch is a running bucket watch. Its callback runs on one goroutine,
// one call at a time; a slow callback delays later changes, never drops
// them.
type Watch struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	err    error
}

// Stop ends the watch and waits until the callback has returned for good.
func (w *Watch) Stop() {
	w.cancel()
	<-w.done
}

// Done is closed when the watch has ended.
func (w *Watch) Done() <-chan struct{} { return w.done }

// Err says why the watch ended: nil while it runs, when it was stopped
// or when its context ended; otherwise the failure (an undecodable value,
// the connection closed for good).
func (w *Watch) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// watchBucket replays the bucket's current entries to fn, returns, and
// then follows changes on a goroutine. A removal (delete, purge, TTL
// expiry) is reported with the last value fn saw for the key, because the
// removal itself carries none; removals of keys fn never saw are skipped.
// An entry that does not decode ends the watch.
func watchBucket[T any](ctx context.Context, s *Store, kv jetstream.KeyValue, fn func(put bool, key string, v T)) (*Watch, error) {
	return watchBucketSpec(ctx, s, kv, fn, watchSpec[T]{})
}

// watchSpec tunes watchBucketSpec.
type watchSpec[T any] struct {
	// check, when set, refuses a decoded value as foreign to its key.
	check func(key string, v T) error
	// damaged, when set, is told of every entry that does not decode or
	// that check refuses (d set), and again with d nil once that key is
	// removed or holds a readable value, instead of the watch ending: a
	// view that lists its damaged entries stays useful with them.
	damaged func(key string, d *hub.Damaged)
}

// watchBucketSpec is watchBucket with the damaged-entry handling of spec.
// A readable value that turns unreadable is reported to fn as removed.
func watchBucketSpec[T any](ctx context.Context, s *Store, kv jetstream.KeyValue, fn func(put bool, key string, v T), spec watchSpec[T]) (*Watch, error) {
	wctx, cancel := context.WithCancel(ctx)
	kw, err := s.startWatch(wctx, cancel, kv, jetstream.AllKeys)
	if err != nil {
		cancel()
		return nil, err
	}
	known := map[string]T{}
	bad := map[string]bool{}
	forget := func(key string) {
		if v, ok := known[key]; ok {
			delete(known, key)
			fn(false, key, v)
		}
		if bad[key] {
			delete(bad, key)
			spec.damaged(key, nil)
		}
	}
	apply := func(e jetstream.KeyValueEntry) error {
		if e.Operation() != jetstream.KeyValuePut {
			forget(e.Key())
			return nil
		}
		var v T
		err := json.Unmarshal(e.Value(), &v)
		if err != nil {
			err = fmt.Errorf("decode revision %d: %w", e.Revision(), err)
		} else if spec.check != nil {
			err = spec.check(e.Key(), v)
		}
		if err != nil {
			if spec.damaged == nil {
				return fmt.Errorf("key %s: %w", e.Key(), err)
			}
			forget(e.Key())
			bad[e.Key()] = true
			spec.damaged(e.Key(), &hub.Damaged{Store: e.Bucket(), Key: e.Key(), Error: truncate(err.Error(), maxDamagedError)})
			return nil
		}
		if bad[e.Key()] {
			delete(bad, e.Key())
			spec.damaged(e.Key(), nil)
		}
		known[e.Key()] = v
		fn(true, e.Key(), v)
		return nil
	}
	fail := func(err error) (*Watch, error) {
		cancel()
		stopWatcher(kw)
		return nil, err
	}

	// Initial values, each arriving within the call timeout.
	idle := time.NewTimer(s.opts.Timeout)
	defer idle.Stop()
initial:
	for {
		select {
		case e, ok := <-kw.Updates():
			if !ok {
				return fail(errors.New("watcher closed during the initial values"))
			}
			if e == nil {
				break initial
			}
			if err := apply(e); err != nil {
				return fail(err)
			}
			idle.Reset(s.opts.Timeout)
		case <-idle.C:
			return fail(fmt.Errorf("initial values: no progress for %v: %w", s.opts.Timeout, context.DeadlineExceeded))
		case <-ctx.Done():
			return fail(ctx.Err())
		}
	}

	w := &Watch{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		defer stopWatcher(kw)
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-kw.Updates():
				if !ok {
					if wctx.Err() == nil {
						w.setErr(errors.New("watcher closed by the client library"))
					}
					return
				}
				if e == nil {
					continue
				}
				if err := apply(e); err != nil {
					// A value this package did not write: stop rather than
					// serve from a view known to be incomplete.
					w.setErr(err)
					return
				}
			}
		}
	}()
	return w, nil
}

func (w *Watch) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}
