package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/shared"
)

// ErrQueueFull is returned by Enqueue when the agent already has
// MaxQueuedPerAgent requests waiting.
var ErrQueueFull = errors.New("the agent's request queue is full")

// Enqueue writes an accepted certificate request of agent into the
// durable queue, on the agent's own subject, de-duplicated by agent and
// request id for RequestDuplicates. It reports whether the request was
// already queued. Only the hub calls it: agents cannot reach the stream.
func (s *Store) Enqueue(ctx context.Context, agent, reqID string, data []byte) (duplicate bool, err error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return false, fmt.Errorf("enqueue: %w", err)
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	msg := &nats.Msg{Subject: shared.QueueSubject(agent), Data: data}
	ack, err := s.js.PublishMsg(cctx, msg, jetstream.WithMsgID(key), jetstream.WithExpectStream(shared.StreamRequests))
	if err != nil {
		// The server reports the per-subject limit only in its text.
		if strings.Contains(err.Error(), "maximum messages per subject exceeded") {
			return false, fmt.Errorf("enqueue %s: %w", key, ErrQueueFull)
		}
		return false, fmt.Errorf("enqueue %s: %w", key, err)
	}
	return ack.Duplicate, nil
}

// QueuedFor returns how many requests of agent wait in the queue.
func (s *Store) QueuedFor(ctx context.Context, agent string) (uint64, error) {
	if _, err := agentKey(agent); err != nil {
		return 0, fmt.Errorf("queued: %w", err)
	}
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	st, err := s.js.Stream(cctx, shared.StreamRequests)
	if err != nil {
		return 0, fmt.Errorf("queued for %s: %w", agent, err)
	}
	info, err := st.Info(cctx, jetstream.WithSubjectFilter(shared.QueueSubject(agent)))
	if err != nil {
		return 0, fmt.Errorf("queued for %s: %w", agent, err)
	}
	return info.State.Subjects[shared.QueueSubject(agent)], nil
}
