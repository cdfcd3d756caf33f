package natsserver

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub/natsauth"
)

// testEnv is a running server with auth and TLS, and what clients need.
type testEnv struct {
	srv   *Server
	auth  *natsauth.Authority
	caPEM []byte
	store string
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startAuthServer starts a TLS + JWT server on a free loopback port.
func startAuthServer(tb testing.TB, mod func(*Config)) *testEnv {
	tb.Helper()
	base := tb.TempDir()
	authDir := filepath.Join(base, "auth")
	if err := natsauth.Init(authDir); err != nil {
		tb.Fatal(err)
	}
	auth, err := natsauth.Load(authDir)
	if err != nil {
		tb.Fatal(err)
	}
	tlsCfg, caPEM := testTLS(tb)
	cfg := Config{
		Listen:   "127.0.0.1:0",
		StoreDir: filepath.Join(base, "js"),
		TLS:      tlsCfg,
		Auth:     auth,
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := Start(cfg, quietLogger())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	return &testEnv{srv: srv, auth: auth, caPEM: caPEM, store: cfg.StoreDir}
}

// testTLS makes TLS material for 127.0.0.1 and localhost.
func testTLS(tb testing.TB) (*tls.Config, []byte) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "tls")
	if err := natsauth.InitTLS(dir, []string{"127.0.0.1", "localhost"}); err != nil {
		tb.Fatal(err)
	}
	cfg, caPEM, err := natsauth.LoadTLS(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return cfg, caPEM
}

// errRecorder collects a connection's asynchronous errors (permission
// violations arrive that way).
type errRecorder struct {
	mu   sync.Mutex
	errs []string
}

func (r *errRecorder) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err.Error())
}

// waitFor waits until some recorded error contains substr.
func (r *errRecorder) waitFor(tb testing.TB, substr string) {
	tb.Helper()
	waitUntil(tb, 5*time.Second, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, e := range r.errs {
			if strings.Contains(strings.ToLower(e), strings.ToLower(substr)) {
				return true
			}
		}
		return false
	}, "an async error containing "+substr)
}

func waitUntil(tb testing.TB, timeout time.Duration, cond func() bool, what string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *testEnv) tlsOption() nats.Option {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(e.caPEM)
	return nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
}

// connect connects with a creds file and the pinned CA.
func (e *testEnv) connect(tb testing.TB, creds string, opts ...nats.Option) (*nats.Conn, *errRecorder) {
	tb.Helper()
	rec := &errRecorder{}
	all := append([]nats.Option{
		nats.UserCredentials(creds), e.tlsOption(), nats.ErrorHandler(rec.handler),
		nats.NoReconnect(), nats.Timeout(5 * time.Second),
	}, opts...)
	nc, err := nats.Connect(e.srv.ClientURL(), all...)
	if err != nil {
		tb.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	tb.Cleanup(nc.Close)
	return nc, rec
}

// agent issues creds for id and connects as that agent with its inbox prefix.
func (e *testEnv) agent(tb testing.TB, id string) (*nats.Conn, *errRecorder) {
	tb.Helper()
	path := e.agentCreds(tb, id, time.Hour)
	return e.connect(tb, path, nats.Name(id))
}

func (e *testEnv) agentCreds(tb testing.TB, id string, ttl time.Duration) string {
	tb.Helper()
	creds, _, _, err := e.auth.IssueAgent(id, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), id+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func (e *testEnv) hub(tb testing.TB) *nats.Conn {
	tb.Helper()
	nc, _ := e.connect(tb, e.auth.HubCreds())
	return nc
}
