package dnsserver

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testConfig is a hub zone "acme.test" with static records that exercise
// glue, empty non-terminals and CNAMEs.
func testConfig() Config {
	return Config{
		Listen:  "127.0.0.1:0",
		Domain:  "acme.test",
		NSName:  "ns1.acme.test",
		NSAdmin: "hostmaster@acme.test",
		Records: []string{
			"ns1 A 192.0.2.53",
			"acme.test. AAAA 2001:db8::53",
			"www.acme.test. 300 A 192.0.2.1",
			"a.b.acme.test. A 192.0.2.2",
			"alias CNAME www",
			"ext CNAME target.example.com.",
			"dangling CNAME missing",
			"loop1 CNAME loop2",
			"loop2 CNAME loop1",
		},
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newServer makes a server that is not listening (for handler-level tests).
func newServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg, quietLogger())
	if err != nil {
		tb.Fatalf("New: %v", err)
	}
	return s
}

// startServer makes and starts a server on loopback, closed at cleanup.
func startServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s := newServer(tb, cfg)
	if err := s.Start(); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// populate loads the challenge data and delegated zone the table tests use.
func populate(s *Server) {
	s.PutTXT("_acme-challenge.www.acme.test.", "order1", "value-one")
	s.PutTXT("_acme-challenge.www.acme.test", "order2", "value-two")
	s.PutTXT("_ACME-CHALLENGE.WWW.ACME.TEST.", "order3", "value-one") // duplicate value
	s.PutTXT("_acme-challenge.x.y.acme.test.", "order4", "deep")
	s.SetZones([]string{"example.net", "acme.test"})
	s.PutTXT("_acme-challenge.host.example.net.", "order5", "delegated")
}

// exchange sends m over network ("udp" or "tcp") to s and returns the reply.
func exchange(tb testing.TB, s *Server, network string, m *dns.Msg) *dns.Msg {
	tb.Helper()
	addr := s.UDPAddr().String()
	if network == "tcp" {
		addr = s.TCPAddr().String()
	}
	c := &dns.Client{Net: network, Timeout: 3 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		tb.Fatalf("exchange over %s: %v", network, err)
	}
	return r
}

func question(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// rrStrings renders records one per line, tabs made spaces, for comparison.
func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

// rawExchangeUDP sends raw bytes and returns the raw reply, or nil if none
// arrives within wait.
func rawExchangeUDP(tb testing.TB, addr net.Addr, req []byte, wait time.Duration) []byte {
	tb.Helper()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		tb.Fatalf("write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil
	}
	return buf[:n]
}

func mustPack(tb testing.TB, m *dns.Msg) []byte {
	tb.Helper()
	b, err := m.Pack()
	if err != nil {
		tb.Fatalf("pack: %v", err)
	}
	return b
}
