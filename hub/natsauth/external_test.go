package natsauth_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub/natsauth"
)

// confServer is a nats-server started from a config file, as a deployment
// would run it (in-process here).
type confServer struct {
	path  string
	srv   *server.Server
	caPEM []byte
}

func startConfServer(tb testing.TB, path string, caPEM []byte) *confServer {
	tb.Helper()
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		tb.Fatalf("nats-server rejects the config: %v", err)
	}
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		tb.Fatal("server from config not ready")
	}
	tb.Cleanup(srv.Shutdown)
	return &confServer{path: path, srv: srv, caPEM: caPEM}
}

func (c *confServer) dial(creds string, extra ...nats.Option) (*nats.Conn, error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	opts := append([]nats.Option{
		nats.UserCredentials(creds),
		nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}),
		nats.NoReconnect(), nats.Timeout(5 * time.Second),
	}, extra...)
	return nats.Connect(c.srv.ClientURL(), opts...)
}

func (c *confServer) connect(tb testing.TB, creds string, extra ...nats.Option) *nats.Conn {
	tb.Helper()
	nc, err := c.dial(creds, extra...)
	if err != nil {
		tb.Fatalf("connect with %s: %v", filepath.Base(creds), err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// writeServerConf writes a server config that includes the fragment, the
// way an operator adds it to an existing server.
func writeServerConf(tb testing.TB, dir string, fragment []byte) string {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(dir, "certfleet.conf"), fragment, 0o600); err != nil {
		tb.Fatal(err)
	}
	main := "host: 127.0.0.1\nport: -1\njetstream {\n  store_dir: \"" + filepath.Join(dir, "js") + "\"\n}\ninclude ./certfleet.conf\n"
	path := filepath.Join(dir, "server.conf")
	if err := os.WriteFile(path, []byte(main), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// TestServerConfigAndExport runs a nats-server from ServerConfig's fragment
// and a hub-side Authority from ExportExternal's files, as nats-setup sets
// them up; an agent works, and a revocation pushed by the operator's side
// cuts it off and outlives a server restart (the full resolver keeps it).
func TestServerConfigAndExport(t *testing.T) {
	dir, a := initAuth(t)
	base := filepath.Dir(dir)
	tlsDir := filepath.Join(base, "tls")
	if err := natsauth.InitTLS(tlsDir, []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	_, caPEM, err := natsauth.LoadTLS(tlsDir)
	if err != nil {
		t.Fatal(err)
	}
	frag, err := a.ServerConfig(natsauth.ServerConfigOptions{
		ResolverDir: filepath.Join(base, "jwt"),
		TLSCert:     filepath.Join(tlsDir, natsauth.ServerFile), TLSKey: filepath.Join(tlsDir, natsauth.ServerKeyFile),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"operator.nk", "system-account.nk", "account.nk", "agents-account.nk", "agents-signing.nk"} {
		seed := strings.TrimSpace(string(mustRead(t, filepath.Join(dir, f))))
		if strings.Contains(string(frag), seed) {
			t.Fatalf("server config holds the seed of %s", f)
		}
	}
	conf := writeServerConf(t, base, frag)
	cs := startConfServer(t, conf, caPEM)

	hubDir := filepath.Join(base, "for-hub")
	files, err := a.ExportExternal(hubDir)
	if err != nil {
		t.Fatal(err)
	}
	checkModes(t, hubDir, []string{"hub.creds", "admin.creds", "agents-signing.nk"})
	if files.Account != a.AgentsAccountPublicKey() {
		t.Fatalf("exported account %s, want the agents account %s", files.Account, a.AgentsAccountPublicKey())
	}
	ext, err := natsauth.LoadExternal(files.SigningKey, files.Account, files.Credentials)
	if err != nil {
		t.Fatalf("the exported files do not load as an external authority: %v", err)
	}
	// Running it again rewrites the same copies.
	if _, err := a.ExportExternal(hubDir); err != nil {
		t.Fatal(err)
	}

	hub := cs.connect(t, files.Credentials)
	helloResponder(t, hub)
	cs.connect(t, files.AdminCreds)
	creds, pub, _, err := ext.IssueAgent("edge1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	agentCreds := writeCreds(t, "edge1", creds)
	inbox := nats.Name("edge1")
	agent := cs.connect(t, agentCreds, inbox)
	if err := hello(agent, "edge1"); err != nil {
		t.Fatalf("agent on the configured server: %v", err)
	}

	// The operator's side (which keeps Init's material) can still revoke live.
	sys := cs.connect(t, a.SystemCreds())
	if err := a.Revoke(sys, pub); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, agent.IsClosed, "the revoked agent's connection to close")
	if nc, err := cs.dial(agentCreds, inbox); err == nil {
		nc.Close()
		t.Fatal("revoked agent reconnected")
	}

	// Same config file, whose preload predates the revocation.
	cs.srv.Shutdown()
	cs.srv.WaitForShutdown()
	cs = startConfServer(t, conf, caPEM)
	if nc, err := cs.dial(agentCreds, inbox); err == nil {
		nc.Close()
		t.Fatal("revoked agent connected after a server restart: the revocation was not kept")
	} else if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("after restart: %v, want an authorization violation", err)
	}
	cs.connect(t, files.Credentials)
}

func TestServerConfigRejects(t *testing.T) {
	dir, a := initAuth(t)
	ext, err := natsauth.LoadExternal(filepath.Join(dir, "agents-signing.nk"), a.AgentsAccountPublicKey(), filepath.Join(dir, "hub.creds"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		auth *natsauth.Authority
		opts natsauth.ServerConfigOptions
		want string
	}{
		{"external authority", ext, natsauth.ServerConfigOptions{ResolverDir: "/x"}, "operator key"},
		{"no resolver dir", a, natsauth.ServerConfigOptions{}, "resolver dir"},
		{"cert without key", a, natsauth.ServerConfigOptions{ResolverDir: "/x", TLSCert: "/c.pem"}, "both"},
		{"key without cert", a, natsauth.ServerConfigOptions{ResolverDir: "/x", TLSKey: "/k.pem"}, "both"},
		{"control character", a, natsauth.ServerConfigOptions{ResolverDir: "/x\n/y"}, "control"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.auth.ServerConfig(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ServerConfig = %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := ext.ExportExternal(t.TempDir()); !errors.Is(err, natsauth.ErrExternal) {
		t.Fatalf("external ExportExternal = %v, want ErrExternal", err)
	}
}

// TestServerConfigQuotesPaths: a path with quotes and backslashes reaches
// the server unchanged.
func TestServerConfigQuotesPaths(t *testing.T) {
	_, a := initAuth(t)
	resolver := filepath.Join(t.TempDir(), `odd "dir" \ name`)
	frag, err := a.ServerConfig(natsauth.ServerConfigOptions{ResolverDir: resolver})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "certfleet.conf")
	if err := os.WriteFile(path, append([]byte("port: -1\n"), frag...), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("nats-server rejects the config: %v\n%s", err, frag)
	}
	if _, ok := opts.AccountResolver.(*server.DirAccResolver); !ok {
		t.Fatalf("resolver %T, want a full (directory) resolver", opts.AccountResolver)
	}
	if _, err := os.Stat(resolver); err != nil {
		t.Fatalf("resolver dir as the server saw it: %v", err)
	}
	if len(opts.TrustedOperators) != 1 || opts.TrustedOperators[0].Name != natsauth.OperatorName {
		t.Fatalf("trusted operators: %+v", opts.TrustedOperators)
	}
	if opts.SystemAccount == "" || opts.SystemAccount != opts.TrustedOperators[0].SystemAccount {
		t.Fatalf("system account %q", opts.SystemAccount)
	}
	if !strings.Contains(string(frag), a.AccountJWT()) {
		t.Fatal("the account JWT is not preloaded")
	}
}
