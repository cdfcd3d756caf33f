// Package tlstest is an HTTPS server on loopback for the agent's tests of
// the post-install TLS check. Like a service that reloads, it serves the
// certificate in a block's files, read again at every handshake; it can
// also lag behind (serve what it served before for a few handshakes) or
// never reload at all. It is only imported by tests.
package tlstest

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// Server is the HTTPS server.
type Server struct {
	// Addr is the "127.0.0.1:port" it listens on.
	Addr string

	certFile, keyFile string

	mu         sync.Mutex
	current    *tls.Certificate
	frozen     bool
	lag        int
	handshakes int
	names      []string
	onHello    func(n int)
}

// Start serves the certificate in certFile and keyFile until the test
// ends.
func Start(tb testing.TB, certFile, keyFile string) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("tlstest listen: %v", err)
	}
	s := &Server{Addr: ln.Addr().String(), certFile: certFile, keyFile: keyFile}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok\n")
		}),
		TLSConfig:         &tls.Config{GetCertificate: s.certificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
		// Failed handshakes are what some tests are about; keep them
		// out of the test output.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	tb.Cleanup(func() { _ = srv.Close() })
	return s
}

func (s *Server) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handshakes++
	s.names = append(s.names, hello.ServerName)
	if s.onHello != nil {
		s.onHello(s.handshakes)
	}
	if s.frozen || s.lag > 0 {
		if s.lag > 0 {
			s.lag--
		}
		if s.current == nil {
			return nil, errors.New("tlstest: no certificate loaded")
		}
		return s.current, nil
	}
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return nil, err
	}
	s.current = &c
	return &c, nil
}

// Freeze makes the server keep what it serves now, like a service that
// ignores its reload.
func (s *Server) Freeze() { s.mu.Lock(); s.frozen = true; s.mu.Unlock() }

// Lag makes the next n handshakes present what the server presented
// before, like a service that takes a while to reload.
func (s *Server) Lag(n int) { s.mu.Lock(); s.lag = n; s.mu.Unlock() }

// OnHandshake calls f with the handshake count at the start of every
// handshake from now on. f must not call the server's methods.
func (s *Server) OnHandshake(f func(n int)) { s.mu.Lock(); s.onHello = f; s.mu.Unlock() }

// Handshakes counts the handshakes the server saw.
func (s *Server) Handshakes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handshakes
}

// ServerNames returns the SNI of every handshake.
func (s *Server) ServerNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}

// Served makes one handshake and returns the serial presented (for tests
// that prime the server or look at it afterwards).
func (s *Server) Served(tb testing.TB, serverName string) string {
	tb.Helper()
	conn, err := tls.Dial("tcp", s.Addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true}) //nolint:gosec // looking at the certificate only
	if err != nil {
		tb.Fatalf("tlstest dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Text(16)
}
