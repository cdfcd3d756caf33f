package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

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
	return s.publishRequest(ctx, agent, key, data)
}

// Requeue writes a request released from waiting into the queue again,
// as message msgID (RequeueID), de-duplicated like Enqueue.
func (s *Store) Requeue(ctx context.Context, agent, reqID, msgID string, data []byte) (duplicate bool, err error) {
	key, err := requestKey(agent, reqID)
	if err != nil {
		return false, fmt.Errorf("requeue: %w", err)
	}
	if !strings.HasPrefix(msgID, key+"/") {
		return false, fmt.Errorf("requeue %s: message id %q is not the request's", key, msgID)
	}
	return s.publishRequest(ctx, agent, msgID, data)
}

// RequeueID is the message id of a request released from the waiting
// that began at parked: the same for every hub releasing that parking,
// so the stream keeps one copy.
func RequeueID(agent, reqID string, parked time.Time) string {
	return agent + "." + reqID + "/w" + strconv.FormatInt(parked.UnixNano(), 36)
}

// MsgID returns the id a queue message was published with.
func MsgID(msg jetstream.Msg) string {
	return msg.Headers().Get(jetstream.MsgIDHeader)
}

func (s *Store) publishRequest(ctx context.Context, agent, msgID string, data []byte) (bool, error) {
	key := msgID
	cctx, cancel := s.callCtx(ctx)
	defer cancel()
	msg := &nats.Msg{Subject: shared.QueueSubject(agent), Data: data}
	ack, err := s.js.PublishMsg(cctx, msg, jetstream.WithMsgID(msgID), jetstream.WithExpectStream(shared.StreamRequests))
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
