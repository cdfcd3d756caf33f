package store

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// publishRequest queues a CertRequest the way the hub does for an agent;
// it reports whether the queue already had it.
func publishRequest(t *testing.T, s *Store, agent, reqID string) bool {
	t.Helper()
	body, err := shared.Encode(&shared.CertRequest{RequestID: reqID, CertName: "web", CSR: "-----BEGIN CERTIFICATE REQUEST-----\n", Created: t0})
	must(t, err)
	dup, err := s.Enqueue(testCtx(t), agent, reqID, body)
	if err != nil {
		t.Fatalf("enqueue request: %v", err)
	}
	return dup
}

func fetchOne(t *testing.T, s *Store, wait time.Duration) jetstream.Msg {
	t.Helper()
	batch, err := s.RequestConsumer().Fetch(1, jetstream.FetchMaxWait(wait))
	must(t, err)
	for m := range batch.Messages() {
		return m
	}
	return nil
}

func requestID(t *testing.T, m jetstream.Msg) string {
	t.Helper()
	var req shared.CertRequest
	must(t, shared.Decode(m.Data(), &req))
	return req.RequestID
}

func TestOpenIdempotentAndDurable(t *testing.T) {
	ts := startServer(t)
	_, js := ts.connect(t)
	ctx := testCtx(t)
	s := openStore(t, js, testOptions())
	must(t, s.PutAgent(ctx, hub.Agent{ID: "web1", Created: t0}))
	reqID := shared.NewRequestID()
	publishRequest(t, s, "web1", reqID)

	// Open again, with a changed ack wait: same data, consumer updated.
	opts := testOptions()
	opts.AckWait = 3 * time.Second
	s2 := openStore(t, js, opts)
	if _, err := s2.GetAgent(ctx, "web1"); err != nil {
		t.Fatalf("second Open lost data: %v", err)
	}
	info, err := s2.RequestConsumer().Info(ctx)
	must(t, err)
	if info.Config.AckWait != 3*time.Second || info.Config.MaxAckPending != MaxWaiting || info.NumPending != 1 {
		t.Fatalf("consumer after reopen: AckWait %s, MaxAckPending %d, pending %d", info.Config.AckWait, info.Config.MaxAckPending, info.NumPending)
	}

	// Restart the server on the same store directory.
	ts.restart()
	_, js = ts.connect(t)
	s3 := openStore(t, js, testOptions())
	if a, err := s3.GetAgent(ctx, "web1"); err != nil || !a.Created.Equal(t0) {
		t.Fatalf("after restart GetAgent = %+v, %v", a, err)
	}
	m := fetchOne(t, s3, 2*time.Second)
	if m == nil || requestID(t, m) != reqID {
		t.Fatal("queued request lost across restart")
	}
	must(t, m.Ack())
}

func TestOpenRejectsBadOptions(t *testing.T) {
	ts := startServer(t)
	_, js := ts.connect(t)
	for _, o := range []Options{{Replicas: 6}, {Replicas: -1}, {ChallengeTTL: time.Millisecond}, {AckWait: time.Millisecond}} {
		if _, err := Open(testCtx(t), js, o); err == nil || !strings.Contains(err.Error(), "open store") {
			t.Errorf("Open(%+v) = %v, want error", o, err)
		}
	}
}

func TestRequestQueue(t *testing.T) {
	ts := startServer(t)
	_, js := ts.connect(t)
	s := openStore(t, js, testOptions())
	ctx := testCtx(t)

	t.Run("dedupe by agent and request id", func(t *testing.T) {
		id := shared.NewRequestID()
		first := publishRequest(t, s, "web1", id)
		again := publishRequest(t, s, "web1", id)
		if first || !again {
			t.Fatalf("duplicate: first %v, again %v; want the second marked duplicate", first, again)
		}
		m := fetchOne(t, s, 2*time.Second)
		if m == nil || requestID(t, m) != id {
			t.Fatal("request not delivered")
		}
		must(t, m.Ack())
		if m := fetchOne(t, s, 300*time.Millisecond); m != nil {
			t.Fatalf("duplicate delivered: %s", requestID(t, m))
		}
	})

	t.Run("unacked request redelivered after consumer restart", func(t *testing.T) {
		id := shared.NewRequestID()
		publishRequest(t, s, "web2", id)
		m := fetchOne(t, s, 2*time.Second)
		if m == nil || requestID(t, m) != id {
			t.Fatal("request not delivered")
		}
		// The hub dies without acking: a new connection and store.
		nc2, js2 := ts.connect(t)
		s2 := openStore(t, js2, testOptions())
		m2 := fetchOne(t, s2, 5*time.Second)
		if m2 == nil || requestID(t, m2) != id {
			t.Fatal("unacked request not redelivered")
		}
		meta, err := m2.Metadata()
		must(t, err)
		if meta.NumDelivered != 2 {
			t.Fatalf("NumDelivered = %d, want 2", meta.NumDelivered)
		}
		must(t, m2.DoubleAck(ctx))
		nc2.Close()
		// Acked on a work queue: gone from the stream.
		stream, err := js.Stream(ctx, shared.StreamRequests)
		must(t, err)
		eventually(t, 5*time.Second, "acked request removed", func() bool {
			info, err := stream.Info(ctx)
			return err == nil && info.State.Msgs == 0
		})
	})

	t.Run("hold keeps a long order from redelivery", func(t *testing.T) {
		id := shared.NewRequestID()
		publishRequest(t, s, "web3", id)
		m := fetchOne(t, s, 2*time.Second)
		if m == nil {
			t.Fatal("request not delivered")
		}
		release := s.HoldRequest(ctx, m, nil)
		// Three AckWaits pass; held, the request must not come back.
		if again := fetchOne(t, s, 3*s.Options().AckWait); again != nil {
			t.Fatalf("held request redelivered (delivery %s)", requestID(t, again))
		}
		release()
		must(t, m.Ack())
	})

	t.Run("request ids are scoped to their agent", func(t *testing.T) {
		// An agent that guesses or replays another agent's request id
		// cannot make the queue drop that agent's request as a duplicate.
		id := shared.NewRequestID()
		if publishRequest(t, s, "mallory", id) {
			t.Fatal("first request marked duplicate")
		}
		if publishRequest(t, s, "victim", id) {
			t.Fatal("victim's request dropped as a duplicate of mallory's")
		}
		for range 2 {
			m := fetchOne(t, s, 2*time.Second)
			if m == nil {
				t.Fatal("request not delivered")
			}
			must(t, m.Ack())
		}
	})

	t.Run("one agent cannot queue without bound", func(t *testing.T) {
		for range MaxQueuedPerAgent {
			publishRequest(t, s, "flood", shared.NewRequestID())
		}
		if n, err := s.QueuedFor(ctx, "flood"); err != nil || n != MaxQueuedPerAgent {
			t.Fatalf("QueuedFor = %d, %v; want %d", n, err, MaxQueuedPerAgent)
		}
		body, _ := shared.Encode(&shared.CertRequest{RequestID: "overflow-1", CertName: "web", CSR: "x"})
		if _, err := s.Enqueue(ctx, "flood", "overflow-1", body); !errors.Is(err, ErrQueueFull) {
			t.Fatalf("request past MaxQueuedPerAgent: %v, want ErrQueueFull", err)
		}
		// Others are unaffected.
		publishRequest(t, s, "web4", shared.NewRequestID())
	})
}

func TestCallsTimeOut(t *testing.T) {
	ts := startServer(t)
	_, js := ts.connect(t)
	opts := testOptions()
	opts.Timeout = 300 * time.Millisecond
	// Writes are retried for a while (a leader election): bounded too.
	opts.WriteRetry = time.Second
	s := openStore(t, js, opts)
	ts.stop()
	calls := map[string]func() error{
		"get":   func() error { _, err := s.GetAgent(testCtx(t), "web1"); return err },
		"put":   func() error { return s.PutAgent(testCtx(t), hub.Agent{ID: "web1"}) },
		"list":  func() error { _, _, err := s.ListAgents(testCtx(t)); return err },
		"audit": func() error { return s.Audit(testCtx(t), AuditEvent{Kind: AuditIssued}) },
		"watch": func() error {
			_, err := s.WatchDomains(testCtx(t), func(bool, string, hub.Domain) {})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			err := call()
			if err == nil {
				t.Fatal("call on a dead server succeeded")
			}
			if el := time.Since(start); el > opts.WriteRetry+3*opts.Timeout {
				t.Fatalf("took %v with a %v timeout and %v of write retries (err %v)", el, opts.Timeout, opts.WriteRetry, err)
			}
			if errors.Is(err, ErrNotFound) {
				t.Fatalf("dead server reported as not found: %v", err)
			}
		})
	}
}
