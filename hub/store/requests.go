package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
)

// PutRequest writes st, keyed by its agent and request id.
func (s *Store) PutRequest(ctx context.Context, st hub.RequestState) error {
	key, err := requestKey(st.AgentID, st.RequestID)
	if err != nil {
		return fmt.Errorf("put request: %w", err)
	}
	if err := putValue(ctx, s, s.requests, key, st); err != nil {
		return fmt.Errorf("put request %s: %w", key, err)
	}
	return nil
}

// CreateRequest writes st only if the request is not known yet
// (ErrExists): the first delivery of a request claims it.
func (s *Store) CreateRequest(ctx context.Context, st hub.RequestState) error {
	key, err := requestKey(st.AgentID, st.RequestID)
	if err != nil {
		return fmt.Errorf("create request: %w", err)
	}
	if err := createValue(ctx, s, s.requests, key, st, 0); err != nil {
		return fmt.Errorf("create request %s: %w", key, err)
	}
	return nil
}

// GetRequest returns the state of agent's request reqID, or ErrNotFound.
func (s *Store) GetRequest(ctx context.Context, agent, reqID string) (hub.RequestState, error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return hub.RequestState{}, fmt.Errorf("get request: %w", err)
	}
	st, _, err := getValue[hub.RequestState](ctx, s, s.requests, key)
	if err != nil {
		return hub.RequestState{}, fmt.Errorf("get request %s: %w", key, err)
	}
	return st, nil
}

// GetRequestAt is GetRequest with the state's revision, for a later
// PutRequestAt.
func (s *Store) GetRequestAt(ctx context.Context, agent, reqID string) (hub.RequestState, uint64, error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return hub.RequestState{}, 0, fmt.Errorf("get request: %w", err)
	}
	st, rev, err := getValue[hub.RequestState](ctx, s, s.requests, key)
	if err != nil {
		return hub.RequestState{}, 0, fmt.Errorf("get request %s: %w", key, err)
	}
	return st, rev, nil
}

// PutRequestAt writes st only if the stored state is still at revision
// rev (0: only if there is none) and returns the new revision. ErrConflict
// means someone else wrote the state since: with several hubs, another hub
// took the request over.
func (s *Store) PutRequestAt(ctx context.Context, st hub.RequestState, rev uint64) (uint64, error) {
	key, err := requestKey(st.AgentID, st.RequestID)
	if err != nil {
		return 0, fmt.Errorf("put request: %w", err)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return 0, fmt.Errorf("put request %s: %w", key, err)
	}
	// Retried through a leader election: a try that timed out but was
	// stored makes the next fail the revision check, which the caller
	// tells from another hub's write by reading the state back.
	var n uint64
	err = s.writing(ctx, func(cctx context.Context) (err error) {
		if rev == 0 {
			n, err = s.requests.Create(cctx, key, b)
		} else {
			n, err = s.requests.Update(cctx, key, b, rev)
		}
		return err
	})
	if isRevisionConflict(err) {
		return 0, fmt.Errorf("put request %s at revision %d: %w", key, rev, ErrConflict)
	}
	if err != nil {
		return 0, fmt.Errorf("put request %s: %w", key, err)
	}
	return n, nil
}

// RequestRevision returns the revision of the request's state, 0 when
// there is none.
func (s *Store) RequestRevision(ctx context.Context, agent, reqID string) (uint64, error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return 0, fmt.Errorf("request revision: %w", err)
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	e, err := s.requests.Get(cctx, key)
	if isMissing(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("request revision %s: %w", key, err)
	}
	return e.Revision(), nil
}

// UpdateRequest applies fn to the state of agent's request reqID and
// writes it only if nobody changed it meanwhile, retrying fn on conflict.
// A missing request is ErrNotFound.
func (s *Store) UpdateRequest(ctx context.Context, agent, reqID string, fn func(*hub.RequestState) error) (hub.RequestState, error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return hub.RequestState{}, fmt.Errorf("update request: %w", err)
	}
	st, err := updateValue(ctx, s, s.requests, key, false, func(st *hub.RequestState) error {
		if err := fn(st); err != nil {
			return err
		}
		if st.AgentID != agent || st.RequestID != reqID {
			return fmt.Errorf("request identity changed to %s.%s", st.AgentID, st.RequestID)
		}
		return nil
	})
	if err != nil {
		return hub.RequestState{}, fmt.Errorf("update request %s: %w", key, err)
	}
	return st, nil
}

// ListRequests returns every request state kept (Options.ResultTTL), by
// agent then request id, and the entries that are not readable states.
func (s *Store) ListRequests(ctx context.Context) ([]hub.RequestState, []hub.Damaged, error) {
	out, bad, err := listValues(ctx, s, s.requests, "", func(key string, q hub.RequestState) error {
		return belongs("a request state", func() (string, error) { return requestKey(q.AgentID, q.RequestID) }, key)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list requests: %w", err)
	}
	return out, bad, nil
}

// RequestConsumer returns the hub's durable pull consumer on the requests
// stream. Messages carry a shared.CertRequest on "agent.<id>.up.certreq";
// take the agent id from the subject. Ack when the outcome is recorded;
// an unacknowledged message is redelivered after Options.AckWait, also
// after a restart.
func (s *Store) RequestConsumer() jetstream.Consumer { return s.consumer }

// HoldRequest keeps msg from being redelivered while a long order runs by
// telling the server every AckWait/3 that work is in progress, and calls
// beat (when not nil) right after each time. Call the returned func
// (before or after acking) to stop; it waits for the background goroutine.
// Holding ends by itself when ctx does.
func (s *Store) HoldRequest(ctx context.Context, msg jetstream.Msg, beat func()) (release func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	every := s.opts.AckWait / 3
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failed InProgress only risks a redelivery, which the
				// request states make harmless; keep trying.
				_ = msg.InProgress()
				if beat != nil {
					beat()
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
