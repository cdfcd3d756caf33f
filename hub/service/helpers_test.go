package service

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/internal/natstest"
)

// syncBuffer is a bytes.Buffer safe for the hub's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testHub is a Hub wired to a real embedded JetStream server on loopback
// (no auth, no DNS, no CA): enough for the request queue, the store and
// the admin API.
type testHub struct {
	*Hub
	js   jetstream.JetStream
	nc   *nats.Conn
	logs *syncBuffer
	srv  *server.Server
}

func newTestHub(tb testing.TB) *testHub {
	tb.Helper()
	srv := natstest.JetStream(tb)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := testCtx(tb)
	st, err := store.Open(ctx, js, store.Options{Timeout: 2 * time.Second, AckWait: 2 * time.Second, Concurrency: 4, WriteRetry: time.Second})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	cfg := config.DefaultConfig()
	cfg.DNS.Domain = "acme.example.test"
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h := &Hub{cfg: cfg, log: log, ready: make(chan struct{}), inflight: map[string]int{}, store: st, nc: nc, id: "hub-test",
		msgLimit: newAgentLimiter(agentMsgRate, agentMsgBurst), reqLimit: newAgentLimiter(agentReqRate, agentReqBurst), drops: newDrops(log)}
	feed, err := fleet.Open(ctx, st)
	if err != nil {
		tb.Fatalf("open fleet view: %v", err)
	}
	tb.Cleanup(feed.Close)
	h.fleetFeed, h.fleet = feed, feed.Snapshot()
	// Not started: a test flushes when it wants the statuses written.
	h.statusW = newStatusWriter(st, log, func(id string) bool { return h.fleet.Get(id) != nil })
	if err := h.setupPacing(); err != nil {
		tb.Fatal(err)
	}
	return &testHub{Hub: h, js: js, nc: nc, logs: logs, srv: srv}
}

// peer returns another hub with id on th's store and connection, as a
// second hub on the same NATS deployment; it logs into th's log.
func (th *testHub) peer(id string) *Hub {
	return &Hub{cfg: th.cfg, log: th.log.With("hub", id), ready: make(chan struct{}), inflight: map[string]int{}, store: th.store, nc: th.nc, id: id,
		msgLimit: newAgentLimiter(agentMsgRate, agentMsgBurst), reqLimit: newAgentLimiter(agentReqRate, agentReqBurst), drops: newDrops(th.log)}
}

// awaitFleet waits until the hub's fleet view satisfies cond: the view
// learns of the test's store writes through its watches.
func (th *testHub) awaitFleet(tb testing.TB, what string, cond func(s *fleet.Snapshot) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := th.fleet.Await(ctx, cond); err != nil {
		tb.Fatalf("fleet view never showed %s: %v", what, err)
	}
}

// consume runs the hub's request queue until the test ends.
func (th *testHub) consume(tb testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- th.Hub.consume(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("consume: %v", err)
		}
		th.wg.Wait()
	})
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the deadline passes.
func eventually(tb testing.TB, within time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runWaiting releases waiting requests until the test ends.
func (th *testHub) runWaiting(tb testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- th.Hub.runWaiting(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("run waiting: %v", err)
		}
	})
}
