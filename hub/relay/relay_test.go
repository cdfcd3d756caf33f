package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/hub/natsserver"
	"github.com/certfleet/certfleet/internal/connectproxy/proxytest"
	"github.com/certfleet/certfleet/shared"
)

const hubName = "hub.certfleet.test"

type hubEnv struct {
	srv   *natsserver.Server
	auth  *natsauth.Authority
	caPEM []byte
	addr  string // the client port, host:port
}

// startHub starts the embedded server with JWT auth and a certificate
// for hubName only, so a connection that checks the address it dialled
// (the relay's) instead of the hub's name fails.
func startHub(tb testing.TB) *hubEnv {
	tb.Helper()
	base := tb.TempDir()
	if err := natsauth.Init(filepath.Join(base, "auth")); err != nil {
		tb.Fatal(err)
	}
	auth, err := natsauth.Load(filepath.Join(base, "auth"))
	if err != nil {
		tb.Fatal(err)
	}
	if err := natsauth.InitTLS(filepath.Join(base, "tls"), []string{hubName}); err != nil {
		tb.Fatal(err)
	}
	tc, caPEM, err := natsauth.LoadTLS(filepath.Join(base, "tls"))
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := natsserver.Start(natsserver.Config{Listen: "127.0.0.1:0", StoreDir: filepath.Join(base, "js"), TLS: tc, Auth: auth},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	return &hubEnv{srv: srv, auth: auth, caPEM: caPEM, addr: strings.TrimPrefix(srv.ClientURL(), "tls://")}
}

func startRelay(tb testing.TB, cfg Config) *Relay {
	tb.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	r, err := Listen(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return r
}

// connectAgent connects as agent id to url, checking the certificate
// against serverName ("" = the URL's host).
func (h *hubEnv) connectAgent(tb testing.TB, id, url, serverName string) (*nats.Conn, error) {
	tb.Helper()
	creds, _, _, err := h.auth.IssueAgent(id, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(tb.TempDir(), id+".creds")
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		tb.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.caPEM)
	nc, err := nats.Connect(url, nats.UserCredentials(path), nats.NoReconnect(), nats.Timeout(5*time.Second),
		nats.Secure(&tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}))
	if err == nil {
		tb.Cleanup(nc.Close)
	}
	return nc, err
}

func (h *hubEnv) hubConn(tb testing.TB) *nats.Conn {
	tb.Helper()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(h.caPEM)
	nc, err := nats.Connect(h.srv.ClientURL(), nats.UserCredentials(h.auth.HubCreds()), nats.NoReconnect(),
		nats.Secure(&tls.Config{RootCAs: pool, ServerName: hubName, MinVersion: tls.VersionTLS12}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

// TestRelayEndToEnd: an agent reaches the hub through the relay, directly
// and through a proxy, with its own JWT and the hub's name checked; its
// rights are its own (the relay adds none).
func TestRelayEndToEnd(t *testing.T) {
	h := startHub(t)
	hub := h.hubConn(t)
	sub, err := hub.SubscribeSync("agent.*.up.>")
	if err != nil {
		t.Fatal(err)
	}
	if err := hub.Flush(); err != nil {
		t.Fatal(err)
	}
	proxy := proxytest.Start(t, "127.0.0.1:0", "site", "pw")
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"direct", Config{To: h.addr}},
		{"through proxy", Config{To: h.addr, Proxy: "http://site:pw@" + proxy.Addr}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := startRelay(t, tc.cfg)
			url := "tls://" + r.Addr().String()
			nc, err := h.connectAgent(t, "a", url, hubName)
			if err != nil {
				t.Fatalf("agent through relay: %v", err)
			}
			if err := nc.Publish(shared.Up("b", shared.VerbHello), []byte("x")); err != nil {
				t.Fatal(err)
			}
			if err := nc.Publish(shared.Up("a", "sentinel"), []byte("x")); err != nil {
				t.Fatal(err)
			}
			m, err := sub.NextMsg(5 * time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if m.Subject != shared.Up("a", "sentinel") {
				t.Fatalf("hub got %q first: the relay let agent a publish as b", m.Subject)
			}
			if r.Active() != 1 {
				t.Fatalf("Active = %d, want 1", r.Active())
			}
		})
	}
	if got := proxy.Targets(); len(got) != 1 || got[0] != h.addr {
		t.Fatalf("proxy tunnelled %v, want [%s]", got, h.addr)
	}
}

// TestRelayCannotImpersonateHub: the relay holds no certificate for the
// hub's name, so an agent that checks the hub's name does not accept
// anything but the hub, and one that checks the relay's address fails.
func TestRelayCannotImpersonateHub(t *testing.T) {
	h := startHub(t)
	r := startRelay(t, Config{To: h.addr})
	if _, err := h.connectAgent(t, "a", "tls://"+r.Addr().String(), ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("connect checking the relay's address = %v, want a certificate error", err)
	}
	// A relay pointed somewhere else (a listener that is not the hub)
	// cannot complete the TLS handshake as the hub.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fake := selfSigned(t)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// Speak NATS as the hub would: INFO, then TLS.
				_, _ = io.WriteString(c, "INFO {\"server_id\":\"x\",\"tls_required\":true}\r\n")
				tc := tls.Server(c, fake)
				_ = tc.Handshake()
				_, _ = io.Copy(io.Discard, tc)
			}()
		}
	}()
	evil := startRelay(t, Config{To: l.Addr().String()})
	if _, err := h.connectAgent(t, "a", "tls://"+evil.Addr().String(), hubName); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("connect to a server that is not the hub = %v, want a certificate error", err)
	}
}

func TestRelayConnectionLimit(t *testing.T) {
	h := startHub(t)
	r := startRelay(t, Config{To: h.addr, MaxConns: 1})
	if _, err := h.connectAgent(t, "a", "tls://"+r.Addr().String(), hubName); err != nil {
		t.Fatal(err)
	}
	if _, err := h.connectAgent(t, "b", "tls://"+r.Addr().String(), hubName); err == nil {
		t.Fatal("second connection accepted past max-conns 1")
	}
}

func TestRelayHubDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	r := startRelay(t, Config{To: addr, DialTimeout: time.Second})
	c, err := net.Dial("tcp", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes from a relay whose hub is down", n)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("relay kept the connection open with the hub down")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"ok", Config{Listen: ":4222", To: "hub:4222"}, ""},
		{"no to", Config{Listen: ":4222"}, "--to"},
		{"to without port", Config{Listen: ":4222", To: "hub"}, "--to"},
		{"bad listen", Config{Listen: "4222", To: "hub:4222"}, "--listen"},
		{"bad proxy", Config{Listen: ":4222", To: "hub:4222", Proxy: "socks5://p:1"}, "--proxy"},
		{"negative max", Config{Listen: ":4222", To: "hub:4222", MaxConns: -1}, "--max-conns"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
