package dnsserver

import (
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// TestHandleRaw covers packets the table cannot build with dns.Msg.
func TestHandleRaw(t *testing.T) {
	s := newServer(t, testConfig())
	good := mustPack(t, question("www.acme.test.", dns.TypeA))
	asResponse := append([]byte(nil), good...)
	asResponse[2] |= 0x80
	garbage := append(append([]byte(nil), good[:headerSize]...), 0xC0, 0xFF, 0x01) // bad pointer in the question
	headerOnly := append([]byte(nil), good[:headerSize]...)                        // qdcount 1, no question
	cases := []struct {
		name  string
		req   []byte
		drop  bool
		rcode int
	}{
		{"empty", nil, true, 0},
		{"shorter than a header", good[:11], true, 0},
		{"a response is never answered", asResponse, true, 0},
		{"unparsable body is FORMERR", garbage, false, dns.RcodeFormatError},
		{"header only is FORMERR", headerOnly, false, dns.RcodeFormatError},
		{"a good query", good, false, dns.RcodeSuccess},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := s.handle(make([]byte, maxTCPMsg), tc.req, loopback, false)
			if tc.drop {
				if out != nil {
					t.Fatalf("got a %d-byte reply, want none", len(out))
				}
				return
			}
			var r dns.Msg
			if err := r.Unpack(out); err != nil {
				t.Fatalf("unpack reply: %v", err)
			}
			if r.Rcode != tc.rcode || !r.Response || r.Id != binary.BigEndian.Uint16(tc.req) {
				t.Errorf("reply rcode %s response %v id %d", dns.RcodeToString[r.Rcode], r.Response, r.Id)
			}
		})
	}
}

// TestRawUDP sends a malformed packet over the network: FORMERR comes back
// with the query's id, and the server keeps serving.
func TestRawUDP(t *testing.T) {
	s := startServer(t, testConfig())
	req := []byte{0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF}
	out := rawExchangeUDP(t, s.UDPAddr(), req, 3*time.Second)
	var r dns.Msg
	if err := r.Unpack(out); err != nil {
		t.Fatalf("unpack reply %x: %v", out, err)
	}
	if r.Id != 0xABCD || r.Rcode != dns.RcodeFormatError || !r.RecursionDesired {
		t.Errorf("reply = %v", &r)
	}
	if got := exchange(t, s, "udp", question("www.acme.test.", dns.TypeA)); len(got.Answer) != 1 {
		t.Errorf("after garbage: %v", got)
	}
}

func TestTCPPipelining(t *testing.T) {
	s := startServer(t, testConfig())
	c, err := net.Dial("tcp", s.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	q1 := question("www.acme.test.", dns.TypeA)
	q2 := question("nope.acme.test.", dns.TypeA)
	var batch []byte
	for _, q := range []*dns.Msg{q1, q2} {
		b := mustPack(t, q)
		batch = binary.BigEndian.AppendUint16(batch, uint16(len(b)))
		batch = append(batch, b...)
	}
	if _, err := c.Write(batch); err != nil { // both queries in one segment
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for _, want := range []struct {
		id    uint16
		rcode int
	}{{q1.Id, dns.RcodeSuccess}, {q2.Id, dns.RcodeNameError}} {
		r := readTCPMsg(t, c)
		if r.Id != want.id || r.Rcode != want.rcode {
			t.Errorf("reply id %d rcode %s, want id %d rcode %s", r.Id, dns.RcodeToString[r.Rcode], want.id, dns.RcodeToString[want.rcode])
		}
	}
	// A short message closes the connection.
	if _, err := c.Write([]byte{0, 3, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("read after junk: %v, want EOF", err)
	}
}

func readTCPMsg(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		t.Fatalf("read length: %v", err)
	}
	b := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read message: %v", err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(b); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return r
}

func TestStartClose(t *testing.T) {
	s := newServer(t, testConfig())
	if s.UDPAddr() != nil || s.TCPAddr() != nil {
		t.Error("addresses before Start")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	u, tc := s.UDPAddr().(*net.UDPAddr), s.TCPAddr().(*net.TCPAddr)
	if u.Port == 0 || u.Port != tc.Port || !u.IP.IsLoopback() {
		t.Errorf("udp %v tcp %v: want one loopback port", u, tc)
	}
	if err := s.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	// An idle TCP client is cut off by Close, and Close returns.
	c, err := net.Dial("tcp", tc.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if r := readAfterQuery(t, c); r == nil {
		t.Fatal("no reply before Close")
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
	// Close before Start is fine and final.
	s2 := newServer(t, testConfig())
	if err := s2.Close(); err != nil {
		t.Errorf("Close before Start: %v", err)
	}
	if err := s2.Start(); err == nil {
		t.Error("Start after Close succeeded")
	}
}

func readAfterQuery(t *testing.T, c net.Conn) *dns.Msg {
	t.Helper()
	b := mustPack(t, question("www.acme.test.", dns.TypeA))
	if _, err := c.Write(binary.BigEndian.AppendUint16(nil, uint16(len(b)))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	return readTCPMsg(t, c)
}

func TestStartPortTaken(t *testing.T) {
	s1 := startServer(t, testConfig())
	cfg := testConfig()
	cfg.Listen = s1.TCPAddr().String()
	s2 := newServer(t, cfg)
	if err := s2.Start(); err == nil {
		_ = s2.Close()
		t.Fatal("Start on a taken port succeeded")
	}
}

// TestRateLimitNetwork floods one source over UDP: past the burst, half
// the queries are dropped and half get an empty TC reply; TCP is not
// limited.
func TestRateLimitNetwork(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 5
	s := startServer(t, cfg)
	c, err := net.Dial("udp", s.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const sent = 40
	for i := range sent {
		m := question("www.acme.test.", dns.TypeA)
		m.Id = uint16(i + 1)
		if _, err := c.Write(mustPack(t, m)); err != nil {
			t.Fatal(err)
		}
	}
	var answered, slipped int
	buf := make([]byte, 4096)
	for {
		// Wait for stragglers: replies to sent queries come at once.
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			break
		}
		var r dns.Msg
		if err := r.Unpack(buf[:n]); err != nil {
			t.Fatalf("unpack: %v", err)
		}
		switch {
		case r.Truncated && len(r.Answer) == 0:
			slipped++
		case len(r.Answer) == 1:
			answered++
		default:
			t.Errorf("unexpected reply %v", &r)
		}
	}
	st := s.Stats()
	t.Logf("answered %d, slipped %d, stats %+v", answered, slipped, st)
	if answered < 5 || answered > 7 { // burst of 5, plus what refills meanwhile
		t.Errorf("answered %d, want about the burst of 5", answered)
	}
	limited := sent - answered
	if slipped < limited/2-1 || slipped > limited/2+1 {
		t.Errorf("slipped %d of %d limited, want half", slipped, limited)
	}
	if st.RateLimited != uint64(limited) {
		t.Errorf("stats: rate limited %d, want %d", st.RateLimited, limited)
	}
	if r := exchange(t, s, "tcp", question("www.acme.test.", dns.TypeA)); len(r.Answer) != 1 {
		t.Errorf("TCP limited too: %v", r)
	}
}

// TestListenAddresses covers the listen forms the hub uses. Bound to every
// address, UDP goes through the session path (replies leave from the
// address the query came to; dns.Client's connected socket would drop any
// other source). On loopback the kernel would pick that source anyway, so
// this proves the path works, not that it picks well on a multi-homed
// host. Queries go to loopback only.
func TestListenAddresses(t *testing.T) {
	cases := []struct {
		name   string
		listen string
		query  string // host to send to
	}{
		{"all IPv4 addresses", "0.0.0.0:0", "127.0.0.1"},
		{"all addresses, dual stack", ":0", "127.0.0.1"},
		{"IPv6 loopback", "[::1]:0", "::1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.query == "::1" {
				if c, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
					t.Skipf("no IPv6 loopback: %v", err)
				} else {
					_ = c.Close()
				}
			}
			cfg := testConfig()
			cfg.Listen = tc.listen
			s := startServer(t, cfg)
			port := s.UDPAddr().(*net.UDPAddr).Port
			addr := net.JoinHostPort(tc.query, strconv.Itoa(port))
			for _, network := range []string{"udp", "tcp"} {
				c := &dns.Client{Net: network, Timeout: 3 * time.Second}
				r, _, err := c.Exchange(question("www.acme.test.", dns.TypeA), addr)
				if err != nil {
					t.Fatalf("%s: %v", network, err)
				}
				if len(r.Answer) != 1 {
					t.Errorf("%s: answer %v", network, r.Answer)
				}
			}
		})
	}
}

// TestTCPConnLimit checks one source prefix cannot hold more than its share
// of TCP connections, and gets a slot back when one closes.
func TestTCPConnLimit(t *testing.T) {
	s := startServer(t, testConfig())
	addr := s.TCPAddr().String()
	var held []net.Conn
	defer func() {
		for _, c := range held {
			_ = c.Close()
		}
	}()
	for range maxTCPConnsPerPrefix {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		if r := readAfterQuery(t, c); r.Rcode != dns.RcodeSuccess { // served, so tracked
			t.Fatalf("rcode %s", dns.RcodeToString[r.Rcode])
		}
	}
	over, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer over.Close()
	_ = over.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := over.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("connection over the limit: read %v, want EOF", err)
	}

	_ = held[0].Close()
	held = held[1:]
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := &dns.Client{Net: "tcp", Timeout: time.Second}
		if _, _, err := c.Exchange(question("www.acme.test.", dns.TypeA), addr); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("no slot after a connection closed: %v", err)
		}
		time.Sleep(10 * time.Millisecond) // poll interval: the server notices the close asynchronously
	}
}
