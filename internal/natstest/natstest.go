// Package natstest runs embedded NATS servers for tests: on a loopback
// port chosen by the system, with a store in the test's temporary
// directory, shut down when the test ends.
package natstest

import (
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Start runs a server with opts until the test ends.
func Start(tb testing.TB, opts *server.Options) *server.Server {
	tb.Helper()
	srv, err := server.NewServer(opts)
	if err != nil {
		tb.Fatalf("new nats server: %v", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats server not ready")
	}
	tb.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv
}

// JetStream runs a plain JetStream server (no auth, no TLS) on 127.0.0.1
// until the test ends.
func JetStream(tb testing.TB) *server.Server {
	tb.Helper()
	return Start(tb, &server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: tb.TempDir(), NoSigs: true, NoLog: true})
}
