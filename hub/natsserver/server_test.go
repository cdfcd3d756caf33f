package natsserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Listen: "127.0.0.1:0", StoreDir: "/x", AllowPlaintext: true}
	cases := []struct {
		name string
		mod  func(*Config)
		want string // "" = valid
	}{
		{"valid plaintext", func(c *Config) {}, ""},
		{"no tls without plaintext", func(c *Config) { c.AllowPlaintext = false }, "nats.tls"},
		{"tls without certificate", func(c *Config) { c.TLS = &tls.Config{} }, "nats.tls"},
		{"no store", func(c *Config) { c.StoreDir = "" }, "nats.store_dir"},
		{"listen without port", func(c *Config) { c.Listen = "127.0.0.1" }, "nats.listen"},
		{"listen port not a number", func(c *Config) { c.Listen = "127.0.0.1:http" }, "nats.listen"},
		{"listen port too big", func(c *Config) { c.Listen = ":70000" }, "nats.listen"},
		{"listen bad host", func(c *Config) { c.Listen = "a b:4222" }, "nats.listen"},
		{"negative ready timeout", func(c *Config) { c.ReadyTimeout = -time.Second }, "nats.ready_timeout"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

var listenSeeds = []string{"127.0.0.1:0", "127.0.0.1:-1", "0.0.0.0:4222", ":4222", "[::1]:0", "localhost:1", "127.0.0.1", "x:65536", "a b:1", ""}

func TestParseListen(t *testing.T) {
	cases := []struct {
		in   string
		host string
		port int
		ok   bool
	}{
		{"127.0.0.1:0", "127.0.0.1", -1, true},
		{"127.0.0.1:-1", "127.0.0.1", -1, true},
		{"0.0.0.0:4222", "0.0.0.0", 4222, true},
		{":4222", "", 4222, true},
		{"[::1]:0", "::1", -1, true},
		{"localhost:1", "localhost", 1, true},
		{"127.0.0.1", "", 0, false},
		{"x:65536", "", 0, false},
		{"a b:1", "", 0, false},
		{"", "", 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			host, port, err := parseListen(tc.in)
			if (err == nil) != tc.ok {
				t.Fatalf("parseListen(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			}
			if tc.ok && (host != tc.host || port != tc.port) {
				t.Fatalf("parseListen(%q) = %q, %d; want %q, %d", tc.in, host, port, tc.host, tc.port)
			}
		})
	}
}

func FuzzParseListen(f *testing.F) {
	for _, s := range listenSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		host, port, err := parseListen(s)
		if err != nil {
			return
		}
		if port != -1 && (port < 1 || port > 65535) {
			t.Fatalf("parseListen(%q) accepted port %d", s, port)
		}
		if strings.ContainsAny(host, " \t\r\n/") {
			t.Fatalf("parseListen(%q) accepted host %q", s, host)
		}
	})
}

func TestStartReportsPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	began := time.Now()
	_, err = Start(Config{Listen: l.Addr().String(), StoreDir: t.TempDir(), AllowPlaintext: true}, quietLogger())
	if err == nil {
		t.Fatal("Start on a port in use succeeded")
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("Start took %s to report %v", took, err)
	}
	t.Logf("port in use reported in %s: %v", time.Since(began).Round(time.Millisecond), err)
}

func TestStartNeedsTLSUnlessPlaintext(t *testing.T) {
	_, err := Start(Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir()}, quietLogger())
	if err == nil || !strings.Contains(err.Error(), "nats.tls") {
		t.Fatalf("Start without TLS = %v, want a nats.tls error", err)
	}
}

func TestStartTimeAndClientURL(t *testing.T) {
	began := time.Now()
	env := startAuthServer(t, nil)
	t.Logf("server with JWT auth, TLS and JetStream ready in %s", time.Since(began).Round(time.Millisecond))
	if !strings.HasPrefix(env.srv.ClientURL(), "tls://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want tls://127.0.0.1:<port>", env.srv.ClientURL())
	}
	// A wildcard listen address is reached over loopback.
	srv, err := Start(Config{Listen: "0.0.0.0:0", StoreDir: t.TempDir(), AllowPlaintext: true}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	if !strings.HasPrefix(srv.ClientURL(), "nats://127.0.0.1:") {
		t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", srv.ClientURL())
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()
	srv.Shutdown() // idempotent
	if _, err := nats.Connect(srv.ClientURL(), nats.Timeout(time.Second)); err == nil {
		t.Fatal("connected after Shutdown")
	}
}

// TestTLSRequired speaks the NATS protocol in plain text to the TLS port:
// the server announces tls_required and never answers the PING.
func TestTLSRequired(t *testing.T) {
	env := startAuthServer(t, nil)
	addr := env.srv.Server().Addr().String()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	info, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(info, `"tls_required":true`) {
		t.Fatalf("INFO does not require TLS: %s", info)
	}
	if _, err := conn.Write([]byte("CONNECT {\"verbose\":false}\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return // closed by the server: refused
		}
		if strings.HasPrefix(line, "PONG") {
			t.Fatal("server answered a plaintext client")
		}
	}
}

func TestTLSClientNeedsPinnedCA(t *testing.T) {
	env := startAuthServer(t, nil)
	// System roots do not know the private CA.
	_, err := nats.Connect(env.srv.ClientURL(), nats.UserCredentials(env.auth.HubCreds()), nats.NoReconnect(), nats.Timeout(3*time.Second))
	if err == nil {
		t.Fatal("connected without the pinned CA")
	}
	env.hub(t) // with it: fine
}

func TestPlaintextAllowed(t *testing.T) {
	cases := []struct {
		name string
		tls  bool
	}{
		{"plain only", false},
		{"TLS optional", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir(), AllowPlaintext: true}
			if tc.tls {
				cfg.TLS, _ = testTLS(t)
			}
			srv, err := Start(cfg, quietLogger())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Shutdown)
			nc, err := nats.Connect("nats://" + srv.Server().Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			if nc.TLSRequired() {
				t.Fatal("server requires TLS")
			}
		})
	}
}

func TestSyncAlways(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(map[bool]string{false: "off", true: "on"}[sync], func(t *testing.T) {
			env := startAuthServer(t, func(c *Config) { c.SyncAlways = sync })
			if got := env.srv.Server().JetStreamConfig().SyncAlways; got != sync {
				t.Fatalf("JetStream SyncAlways = %v, want %v", got, sync)
			}
		})
	}
}

// TestRestartKeepsJetStream: a stream written through the hub user is there
// after a restart on the same store.
func TestRestartKeepsJetStream(t *testing.T) {
	dir := t.TempDir()
	start := func() *Server {
		srv, err := Start(Config{Listen: "127.0.0.1:0", StoreDir: filepath.Join(dir, "js"), AllowPlaintext: true, SyncAlways: true}, quietLogger())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		return srv
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	srv := start()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	js, _ := jetstream.New(nc)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "t.1", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	srv.Shutdown()

	srv = start()
	nc, err = nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ = jetstream.New(nc)
	s, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMsg(ctx, 1)
	if err != nil || string(m.Data) != "kept" {
		t.Fatalf("message after restart = %v, %v", m, err)
	}
}
