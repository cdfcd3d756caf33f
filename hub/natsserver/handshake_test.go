package natsserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"testing"
	"time"
)

// gateTLS returns the package's test server config (127.0.0.1) and a
// client config that trusts it.
func gateTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	srv, caPEM := testTLS(t)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate")
	}
	return srv, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// gateServer serves TLS with cfg on loopback; each accepted connection is
// handshaken and its result sent on the returned channel.
func gateServer(t testing.TB, cfg *tls.Config) (addr string, results <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	out := make(chan error, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := tls.Server(c, cfg)
				_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
				err := tc.Handshake()
				if err == nil {
					// The client's Finished is checked in Handshake; read
					// until the client closes so it sees a clean end.
					_, _ = tc.Read(make([]byte, 1))
				}
				out <- err
			}()
		}
	}()
	return ln.Addr().String(), out
}

func handshake(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	return c.Close()
}

func TestHandshakeGateReleasesOnSuccess(t *testing.T) {
	srv, cli := gateTLS(t)
	g := newHandshakeGate(1, time.Second, time.Minute)
	addr, results := gateServer(t, g.config(srv))
	// With one slot, every handshake after the first needs the slot the
	// one before released when it finished.
	for i := range 30 {
		if err := handshake(addr, cli); err != nil {
			t.Fatalf("handshake %d: %v", i, err)
		}
		if err := <-results; err != nil {
			t.Fatalf("server side of handshake %d: %v", i, err)
		}
	}
	if n := g.inFlight(); n != 0 {
		t.Fatalf("%d slots held after every handshake finished", n)
	}
	if n := g.refused.Load(); n != 0 {
		t.Fatalf("%d handshakes refused", n)
	}
}

func TestHandshakeGateRefusesWhenFull(t *testing.T) {
	srv, cli := gateTLS(t)
	g := newHandshakeGate(1, 50*time.Millisecond, time.Minute)
	addr, results := gateServer(t, g.config(srv))
	release, ok := g.acquire()
	if !ok {
		t.Fatal("no slot in an empty gate")
	}
	if err := handshake(addr, cli); err == nil {
		t.Fatal("handshake succeeded with the only slot taken")
	}
	if err := <-results; err == nil || !errors.Is(err, errHandshakeBusy) {
		t.Fatalf("server side: %v, want %v", err, errHandshakeBusy)
	}
	if n := g.refused.Load(); n != 1 {
		t.Fatalf("refused %d, want 1", n)
	}
	release()
	release() // idempotent: must not free a slot it does not hold
	if err := handshake(addr, cli); err != nil {
		t.Fatalf("handshake after the slot was freed: %v", err)
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
}

// closeAfterWrite closes the connection after the client's first flight
// (the ClientHello): a client that goes away mid-handshake.
type closeAfterWrite struct{ net.Conn }

func (c closeAfterWrite) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.Conn.Close()
	return n, err
}

func TestHandshakeGateReclaimsAbandoned(t *testing.T) {
	srv, cli := gateTLS(t)
	// One slot; a handshake waits up to 3 s for it; an abandoned one gives
	// it back after 100 ms.
	g := newHandshakeGate(1, 3*time.Second, 100*time.Millisecond)
	addr, results := gateServer(t, g.config(srv))
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = tls.Client(closeAfterWrite{raw}, cli).Handshake()
	if err := <-results; err == nil {
		t.Fatal("the abandoned handshake succeeded on the server")
	}
	if err := handshake(addr, cli); err != nil {
		t.Fatalf("handshake after an abandoned one: %v", err)
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
}

func TestHandshakeGateKeepsHooks(t *testing.T) {
	srv, cli := gateTLS(t)
	verified := make(chan struct{}, 1)
	base := srv.Clone()
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c := srv.Clone()
		c.VerifyConnection = func(tls.ConnectionState) error { verified <- struct{}{}; return nil }
		return c, nil
	}
	g := newHandshakeGate(1, time.Second, time.Minute)
	addr, results := gateServer(t, g.config(base))
	if err := handshake(addr, cli); err != nil {
		t.Fatal(err)
	}
	if err := <-results; err != nil {
		t.Fatal(err)
	}
	select {
	case <-verified:
	default:
		t.Fatal("the config's own VerifyConnection did not run")
	}
	if n := g.inFlight(); n != 0 {
		t.Fatalf("%d slots held", n)
	}
}
