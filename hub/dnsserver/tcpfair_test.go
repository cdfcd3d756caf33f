package dnsserver

import (
	"errors"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dialFrom opens a TCP connection to s from the loopback address src
// (Linux routes all of 127.0.0.0/8 to lo, so each /24 there is its own
// source prefix to the server).
func dialFrom(tb testing.TB, s *Server, src string) net.Conn {
	tb.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 3 * time.Second}
	c, err := d.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		tb.Fatalf("dial from %s: %v", src, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// startLimited starts a server with the given TCP limits.
func startLimited(tb testing.TB, lim tcpLimits) *Server {
	tb.Helper()
	s := newServer(tb, testConfig())
	s.net.lim = lim
	if err := s.Start(); err != nil {
		tb.Fatalf("Start: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// closedByServer reports whether the server closed c (EOF or reset)
// within wait, rather than leaving it open.
func closedByServer(c net.Conn, wait time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestTCPFairUnderExhaustion: flooders hold the whole TCP budget, yet a
// resolver from another prefix still gets its answer over TCP.
func TestTCPFairUnderExhaustion(t *testing.T) {
	hour := time.Hour // no timeout interferes
	tests := []struct {
		name     string
		lim      tcpLimits
		flooders []string // source addresses, one connection each
	}{
		// One prefix may hold the whole budget here; 127.0.0.2 would be the
		// same /24, so the resolver comes from 127.0.1.2.
		{"one prefix at the global cap", tcpLimits{maxConns: 8, maxPerPrefix: 8},
			[]string{"127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1"}},
		{"four prefixes at their caps", tcpLimits{maxConns: 8, maxPerPrefix: 2},
			[]string{"127.0.2.1", "127.0.2.1", "127.0.3.1", "127.0.3.1", "127.0.4.1", "127.0.4.1", "127.0.5.1", "127.0.5.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.lim.firstTimeout, tt.lim.idleTimeout, tt.lim.pressureTimeout = hour, hour, hour
			s := startLimited(t, tt.lim)
			var flood []net.Conn
			for _, src := range tt.flooders {
				c := dialFrom(t, s, src)
				if r := readAfterQuery(t, c); r.Rcode != dns.RcodeSuccess { // served, so tracked
					t.Fatalf("flood connection not served: %s", dns.RcodeToString[r.Rcode])
				}
				flood = append(flood, c)
			}
			// The budget is spent: the flooders' next connection is refused.
			if more := dialFrom(t, s, tt.flooders[0]); !closedByServer(more, 3*time.Second) {
				t.Fatal("a flooder got a connection past the budget")
			}

			// A resolver from another prefix is answered over TCP.
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.1.2")}}
			cl := &dns.Client{Net: "tcp", Timeout: 3 * time.Second, Dialer: &d}
			r, _, err := cl.Exchange(question("www.acme.test.", dns.TypeA), s.TCPAddr().String())
			if err != nil || len(r.Answer) != 1 {
				t.Fatalf("resolver locked out: %v, %v", r, err)
			}
			// It took the oldest connection of the heaviest prefix.
			if !closedByServer(flood[0], 3*time.Second) {
				t.Fatal("no flood connection made room")
			}
		})
	}
}

// TestTCPEvenSharesRefuseNewcomers: when every prefix holds one connection,
// nobody is evicted for a newcomer (that would only move the problem).
func TestTCPEvenSharesRefuseNewcomers(t *testing.T) {
	s := startLimited(t, tcpLimits{maxConns: 2, maxPerPrefix: 2, firstTimeout: time.Hour, idleTimeout: time.Hour, pressureTimeout: time.Hour})
	for _, src := range []string{"127.0.2.1", "127.0.3.1"} {
		readAfterQuery(t, dialFrom(t, s, src))
	}
	if c := dialFrom(t, s, "127.0.4.1"); !closedByServer(c, 3*time.Second) {
		t.Fatal("a newcomer evicted an even share")
	}
}

// TestTCPPressureTimeout: past 3/4 of the budget, idle connections are
// closed after the short pressure timeout, the already open ones too.
func TestTCPPressureTimeout(t *testing.T) {
	s := startLimited(t, tcpLimits{maxConns: 8, maxPerPrefix: 8, firstTimeout: time.Hour, idleTimeout: time.Hour,
		pressureTimeout: 200 * time.Millisecond})
	var idle []net.Conn
	for range 6 { // 6 of 8: not more than 3/4
		c := dialFrom(t, s, "127.0.0.1")
		readAfterQuery(t, c)
		idle = append(idle, c)
	}
	if closedByServer(idle[0], 500*time.Millisecond) {
		t.Fatal("idle connection closed without pressure")
	}
	c := dialFrom(t, s, "127.0.0.1") // 7 of 8: pressure
	readAfterQuery(t, c)
	for i, c := range append(idle, c) {
		// The normal idle timeout is an hour: only the pressure timeout
		// closes them within this wait.
		if !closedByServer(c, 10*time.Second) {
			t.Fatalf("connection %d not closed under pressure", i)
		}
	}
}
