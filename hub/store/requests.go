package store

import (
	"context"
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
// telling the server every AckWait/3 that work is in progress. Call the
// returned func (before or after acking) to stop; it waits for the
// background goroutine. Holding ends by itself when ctx does.
func (s *Store) HoldRequest(ctx context.Context, msg jetstream.Msg) (release func()) {
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
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
