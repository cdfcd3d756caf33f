package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// testServer is an embedded JetStream server on a loopback port that can
// be restarted on the same store directory.
type testServer struct {
	tb  testing.TB
	dir string
	srv *server.Server
}

func startServer(tb testing.TB) *testServer {
	tb.Helper()
	ts := &testServer{tb: tb, dir: tb.TempDir()}
	ts.start()
	tb.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) start() {
	ts.tb.Helper()
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: ts.dir,
		NoSigs: true, NoLog: true,
	})
	if err != nil {
		ts.tb.Fatalf("new server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		ts.tb.Fatal("nats server not ready")
	}
	ts.srv = srv
}

func (ts *testServer) stop() {
	if ts.srv != nil {
		ts.srv.Shutdown()
		ts.srv.WaitForShutdown()
		ts.srv = nil
	}
}

func (ts *testServer) restart() {
	ts.tb.Helper()
	ts.stop()
	ts.start()
}

// connect returns a JetStream context on a fresh connection, closed at cleanup.
func (ts *testServer) connect(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(ts.srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return nc, js
}

func testOptions() Options {
	return Options{Timeout: 2 * time.Second, AckWait: time.Second, ChallengeTTL: time.Hour}
}

func openStore(tb testing.TB, js jetstream.JetStream, opts Options) *Store {
	tb.Helper()
	s, err := Open(testCtx(tb), js, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return s
}

// newStore starts a server and opens a store on it.
func newStore(tb testing.TB) (*Store, *testServer, jetstream.JetStream) {
	tb.Helper()
	ts := startServer(tb)
	_, js := ts.connect(tb)
	return openStore(tb, js, testOptions()), ts, js
}

func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
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

func mustNotFound(tb testing.TB, err error) {
	tb.Helper()
	if !errors.Is(err, ErrNotFound) {
		tb.Fatalf("err = %v, want ErrNotFound", err)
	}
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
