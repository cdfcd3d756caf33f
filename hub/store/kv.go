package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
)

// maxCASAttempts bounds the retries of a revision-checked update.
const maxCASAttempts = 10

func isMissing(err error) bool {
	return errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted)
}

func isRevisionConflict(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists)
}

// getValue reads and decodes key. It returns the revision for a later
// revision-checked write.
func getValue[T any](ctx context.Context, s *Store, kv jetstream.KeyValue, key string) (T, uint64, error) {
	var v T
	cctx, cancel := s.callCtx(ctx)
	e, err := kv.Get(cctx, key)
	cancel()
	if isMissing(err) {
		return v, 0, ErrNotFound
	}
	if err != nil {
		return v, 0, err
	}
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return v, 0, fmt.Errorf("decode revision %d: %w", e.Revision(), err)
	}
	return v, e.Revision(), nil
}

func putValue(ctx context.Context, s *Store, kv jetstream.KeyValue, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	// A put is safe to repeat: retried through a leader election.
	return s.writing(ctx, func(cctx context.Context) error {
		_, err := kv.Put(cctx, key, b)
		return err
	})
}

// createValue writes key only if it is absent (or deleted), optionally
// with a per-key TTL.
func createValue(ctx context.Context, s *Store, kv jetstream.KeyValue, key string, v any, ttl time.Duration) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var opts []jetstream.KVCreateOpt
	if ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(ttl))
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	_, err = kv.Create(cctx, key, b, opts...)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return ErrExists
	}
	return err
}

// updateValue applies fn to the current value and writes it back only if
// nobody wrote in between, retrying on conflict. A missing key is
// ErrNotFound, or with upsert starts from the zero value.
func updateValue[T any](ctx context.Context, s *Store, kv jetstream.KeyValue, key string, upsert bool, fn func(*T) error) (T, error) {
	var zero T
	for range maxCASAttempts {
		cur, rev, err := getValue[T](ctx, s, kv, key)
		switch {
		case errors.Is(err, ErrNotFound) && upsert:
			cur, rev = zero, 0
		case err != nil:
			return zero, err
		}
		if err := fn(&cur); err != nil {
			return zero, err
		}
		b, err := json.Marshal(cur)
		if err != nil {
			return zero, err
		}
		// Retried through a leader election; a try that timed out but was
		// stored makes the next fail the revision check, and the loop reads
		// the value again.
		err = s.writing(ctx, func(cctx context.Context) error {
			var err error
			if rev == 0 {
				_, err = kv.Create(cctx, key, b)
			} else {
				_, err = kv.Update(cctx, key, b, rev)
			}
			return err
		})
		if err == nil {
			return cur, nil
		}
		if !isRevisionConflict(err) {
			return zero, err
		}
	}
	return zero, ErrConflict
}

// deleteValue removes key, which must exist (ErrNotFound otherwise). The
// delete is revision-checked, so it never removes a value written after
// the existence check without noticing.
func deleteValue(ctx context.Context, s *Store, kv jetstream.KeyValue, key string) error {
	for range maxCASAttempts {
		cctx, cancel := s.callCtx(ctx)
		e, err := kv.Get(cctx, key)
		cancel()
		if isMissing(err) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		cctx, cancel = s.callCtx(ctx)
		err = kv.Delete(cctx, key, jetstream.LastRevision(e.Revision()))
		cancel()
		if err == nil || !isRevisionConflict(err) {
			return err
		}
	}
	return ErrConflict
}

type keyed[T any] struct {
	key string
	v   T
}

// maxDamagedError bounds the error text kept for a damaged entry (decode
// errors may quote the entry).
const maxDamagedError = 300

// listValues returns the values of every key matching filter ("" = all),
// sorted by key, and every entry that could not be read as a T: those that
// do not decode, or that check (when set) refuses as foreign to their key.
// One bad entry never fails the listing. The listing is one streamed watch;
// it fails if no entry arrives for Options.Timeout.
func listValues[T any](ctx context.Context, s *Store, kv jetstream.KeyValue, filter string, check func(key string, v T) error) ([]T, []hub.Damaged, error) {
	if filter == "" {
		filter = jetstream.AllKeys
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.startWatch(wctx, cancel, kv, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, err
	}
	defer stopWatcher(w)
	var items []keyed[T]
	var damaged []hub.Damaged
	idle := time.NewTimer(s.opts.Timeout)
	defer idle.Stop()
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, nil, errors.New("watcher closed before the listing ended")
			}
			if e == nil {
				slices.SortFunc(items, func(a, b keyed[T]) int { return cmp.Compare(a.key, b.key) })
				out := make([]T, len(items))
				for i, it := range items {
					out[i] = it.v
				}
				slices.SortFunc(damaged, func(a, b hub.Damaged) int { return cmp.Compare(a.Key, b.Key) })
				return out, damaged, nil
			}
			idle.Reset(s.opts.Timeout)
			var v T
			err := json.Unmarshal(e.Value(), &v)
			if err != nil {
				err = fmt.Errorf("decode revision %d: %w", e.Revision(), err)
			} else if check != nil {
				err = check(e.Key(), v)
			}
			if err != nil {
				damaged = append(damaged, hub.Damaged{Store: e.Bucket(), Key: e.Key(), Error: truncate(err.Error(), maxDamagedError)})
				continue
			}
			items = append(items, keyed[T]{e.Key(), v})
		case <-idle.C:
			return nil, nil, fmt.Errorf("no progress for %v: %w", s.opts.Timeout, context.DeadlineExceeded)
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// belongs is the check of a listing whose keys derive from the value:
// keyOf must succeed and give key.
func belongs(what string, keyOf func() (string, error), key string) error {
	k, err := keyOf()
	if err != nil {
		return fmt.Errorf("foreign entry: not %s: %w", what, err)
	}
	if k != key {
		return fmt.Errorf("foreign entry: holds %s %q, not the one of its key", what, k)
	}
	return nil
}

// startWatch creates a watcher whose lifetime is wctx, but gives up (and
// cancels wctx) if creating it takes longer than Options.Timeout.
func (s *Store) startWatch(wctx context.Context, cancel context.CancelFunc, kv jetstream.KeyValue, filter string, opts ...jetstream.WatchOpt) (jetstream.KeyWatcher, error) {
	t := time.AfterFunc(s.opts.Timeout, cancel)
	w, err := kv.Watch(wctx, filter, opts...)
	if !t.Stop() {
		// The timer fired: wctx is cancelled, so w is useless even if made.
		if err == nil {
			stopWatcher(w)
		}
		return nil, fmt.Errorf("start watch: %w", context.DeadlineExceeded)
	}
	if err != nil {
		return nil, fmt.Errorf("start watch: %w", err)
	}
	return w, nil
}

// stopWatcher stops w and drains what it still holds, so its delivery
// goroutine, which blocks on a full channel, can finish.
func stopWatcher(w jetstream.KeyWatcher) {
	_ = w.Stop()
	go func() {
		for range w.Updates() {
		}
	}()
}
