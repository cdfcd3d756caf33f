package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
)

// Errors of the waiting requests.
var (
	// ErrClaimed: another hub is releasing the waiting request.
	ErrClaimed = errors.New("claimed by another hub")
	// ErrStale: the request was parked again since it was read.
	ErrStale = errors.New("parked again meanwhile")
)

// PacingBucket is the KV bucket of the CA budgets (see package pace).
func (s *Store) PacingBucket() jetstream.KeyValue { return s.pacing }

// PutWaiting parks w, replacing an earlier parking of the same request.
func (s *Store) PutWaiting(ctx context.Context, w hub.WaitingRequest) error {
	key, err := requestKey(w.AgentID, w.RequestID)
	if err != nil {
		return fmt.Errorf("put waiting request: %w", err)
	}
	if err := putValue(ctx, s, s.waiting, key, w); err != nil {
		return fmt.Errorf("put waiting request %s: %w", key, err)
	}
	return nil
}

// WatchWaiting calls fn with every waiting request, then with every
// change (put false: released or expired) until the watch is stopped.
func (s *Store) WatchWaiting(ctx context.Context, fn func(put bool, w hub.WaitingRequest)) (*Watch, error) {
	w, err := watchBucket(ctx, s, s.waiting, func(put bool, key string, w hub.WaitingRequest) {
		if k, err := requestKey(w.AgentID, w.RequestID); err != nil || k != key {
			// Not a parking this package wrote: never queue it.
			return
		}
		fn(put, w)
	})
	if err != nil {
		return nil, fmt.Errorf("watch waiting requests: %w", err)
	}
	return w, nil
}

// ClaimWaiting marks the parking of agent's request reqID that began at
// parked as being released by holder until until. It fails with
// ErrNotFound when the request no longer waits, ErrStale when it was
// parked again, and ErrClaimed while another hub's claim runs.
func (s *Store) ClaimWaiting(ctx context.Context, agent, reqID string, parked time.Time, holder string, now, until time.Time) (hub.WaitingRequest, error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return hub.WaitingRequest{}, fmt.Errorf("claim waiting request: %w", err)
	}
	w, err := updateValue(ctx, s, s.waiting, key, false, func(w *hub.WaitingRequest) error {
		switch {
		case !w.Parked.Equal(parked):
			return ErrStale
		case w.Claim != "" && w.Claim != holder && w.ClaimUntil.After(now):
			return ErrClaimed
		}
		w.Claim, w.ClaimUntil = holder, until
		return nil
	})
	if err != nil {
		return hub.WaitingRequest{}, fmt.Errorf("claim waiting request %s: %w", key, err)
	}
	return w, nil
}

// Reschedule lets the parking of agent's request reqID that began at
// parked wait until notBefore, for reason, and drops holder's claim on
// it. It fails with ErrClaimed while another hub's claim runs, and with
// ErrStale or ErrNotFound when the parking is gone.
func (s *Store) Reschedule(ctx context.Context, agent, reqID string, parked time.Time, holder string, now, notBefore time.Time, reason string) error {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return fmt.Errorf("reschedule waiting request: %w", err)
	}
	_, err = updateValue(ctx, s, s.waiting, key, false, func(w *hub.WaitingRequest) error {
		switch {
		case !w.Parked.Equal(parked):
			return ErrStale
		case w.Claim != "" && w.Claim != holder && w.ClaimUntil.After(now):
			return ErrClaimed
		}
		w.NotBefore, w.Reason, w.Claim, w.ClaimUntil = notBefore, reason, "", time.Time{}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reschedule waiting request %s: %w", key, err)
	}
	return nil
}

// DeleteWaiting removes the parking of agent's request reqID that began
// at parked; a later parking of the request stays (ErrStale).
func (s *Store) DeleteWaiting(ctx context.Context, agent, reqID string, parked time.Time) error {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return fmt.Errorf("delete waiting request: %w", err)
	}
	for range maxCASAttempts {
		w, rev, err := getValue[hub.WaitingRequest](ctx, s, s.waiting, key)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("delete waiting request %s: %w", key, err)
		}
		if !w.Parked.Equal(parked) {
			return fmt.Errorf("delete waiting request %s: %w", key, ErrStale)
		}
		cctx, cancel := s.callCtx(ctx)
		err = s.waiting.Delete(cctx, key, jetstream.LastRevision(rev))
		cancel()
		if err == nil {
			return nil
		}
		if !isRevisionConflict(err) {
			return fmt.Errorf("delete waiting request %s: %w", key, err)
		}
	}
	return fmt.Errorf("delete waiting request %s: %w", key, ErrConflict)
}
