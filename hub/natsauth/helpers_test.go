package natsauth_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/hub/natsserver"
	"github.com/certfleet/certfleet/shared"
)

// authFiles are the files Init writes.
var authFiles = []string{
	"operator.nk", "operator.jwt", "system-account.nk", "system-account.jwt",
	"account.nk", "account.jwt", "agents-account.nk", "agents-account.jwt", "agents-signing.nk", "hub.creds", "admin.creds", "system.creds",
}

// initAuth runs Init in a fresh directory and loads the Authority.
func initAuth(tb testing.TB) (string, *natsauth.Authority) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "auth")
	if err := natsauth.Init(dir); err != nil {
		tb.Fatal(err)
	}
	a, err := natsauth.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return dir, a
}

func snapshot(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func checkModes(tb testing.TB, dir string, want []string) {
	tb.Helper()
	st, err := os.Stat(dir)
	if err != nil {
		tb.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		tb.Errorf("%s: mode %o, want 700", dir, st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		info, err := e.Info()
		if err != nil {
			tb.Fatal(err)
		}
		if info.Mode().Perm() != 0o600 || !info.Mode().IsRegular() {
			tb.Errorf("%s: mode %v, want a regular file with 0600", e.Name(), info.Mode())
		}
	}
	if strings.Join(sorted(names), ",") != strings.Join(sorted(want), ",") {
		tb.Errorf("files in %s: %v, want %v", dir, names, want)
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

func readSeedFile(tb testing.TB, path string) nkeys.KeyPair {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(b))
	if err != nil {
		tb.Fatal(err)
	}
	return kp
}

func decodeCreds(tb testing.TB, creds []byte) (*jwt.UserClaims, nkeys.KeyPair) {
	tb.Helper()
	tok, err := jwt.ParseDecoratedJWT(creds)
	if err != nil {
		tb.Fatal(err)
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := jwt.ParseDecoratedUserNKey(creds)
	if err != nil {
		tb.Fatal(err)
	}
	return uc, kp
}

// live is a running server configured from an Authority.
type live struct {
	srv   *natsserver.Server
	caPEM []byte
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startServer starts an embedded server with TLS for a on store.
func startServer(tb testing.TB, a *natsauth.Authority, store string) *live {
	tb.Helper()
	tlsDir := filepath.Join(filepath.Dir(store), "tls")
	if err := natsauth.InitTLS(tlsDir, []string{"127.0.0.1"}); err != nil {
		tb.Fatal(err)
	}
	cfg, caPEM, err := natsauth.LoadTLS(tlsDir)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:0", StoreDir: store, TLS: cfg, Auth: a}, quietLogger())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	return &live{srv: srv, caPEM: caPEM}
}

func (l *live) options(creds string, extra ...nats.Option) []nats.Option {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(l.caPEM)
	return append([]nats.Option{
		nats.UserCredentials(creds),
		nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		nats.NoReconnect(), nats.Timeout(5 * time.Second),
	}, extra...)
}

// dial connects and returns the error, for tests that expect refusal.
func (l *live) dial(creds string, extra ...nats.Option) (*nats.Conn, error) {
	return nats.Connect(l.srv.ClientURL(), l.options(creds, extra...)...)
}

func (l *live) connect(tb testing.TB, creds string, extra ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := l.dial(creds, extra...)
	if err != nil {
		tb.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// writeCreds stores creds in a 0600 temp file and returns its path.
func writeCreds(tb testing.TB, name string, creds []byte) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// agentConn issues creds for id with ttl and connects as that agent.
func agentConn(tb testing.TB, a *natsauth.Authority, l *live, id string, ttl time.Duration, extra ...nats.Option) (*nats.Conn, string, string) {
	tb.Helper()
	creds, pub, _, err := a.IssueAgent(id, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	path := writeCreds(tb, id, creds)
	opts := append([]nats.Option{nats.Name(id)}, extra...)
	return l.connect(tb, path, opts...), path, pub
}

func waitUntil(tb testing.TB, timeout time.Duration, cond func() bool, what string) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// helloResponder makes the hub answer every agent's hello the way the hub
// does: on the agent's down.reply subject, never on a reply subject.
func helloResponder(tb testing.TB, hub *nats.Conn) {
	tb.Helper()
	sub, err := hub.Subscribe(shared.SubjectAllHello, func(m *nats.Msg) {
		id, _, _, _ := shared.ParseSubject(m.Subject)
		_ = hub.Publish(shared.Down(id, shared.VerbReply), []byte("ok"))
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := hub.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// hello sends agent id's hello and waits for the hub's answer.
func hello(nc *nats.Conn, id string) error {
	sub, err := nc.SubscribeSync(shared.Down(id, shared.VerbReply))
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		return err
	}
	if err := nc.Publish(shared.Up(id, shared.VerbHello), nil); err != nil {
		return err
	}
	_, err = sub.NextMsg(5 * time.Second)
	return err
}
