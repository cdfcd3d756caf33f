package issuer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// testDNS is a minimal DNS server on loopback (UDP and TCP, one port)
// answering TXT queries from memory, standing in for the hub's DNS and the
// resolver Pebble's VA queries.
type testDNS struct {
	addr    string
	queries atomic.Int64

	mu      sync.Mutex
	txt     map[string][]string // lower-case FQDN -> values
	maxSeen map[string]int      // most values served at once per name
}

func startTestDNS(tb testing.TB) *testDNS {
	tb.Helper()
	d, stop, err := newTestDNS()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return d
}

// newTestDNS starts a testDNS; stop shuts it down.
func newTestDNS() (*testDNS, func(), error) {
	d := &testDNS{txt: map[string][]string{}, maxSeen: map[string]int{}}
	var (
		tcp net.Listener
		udp net.PacketConn
		err error
	)
	for range 20 { // the UDP port may be taken; try other ports
		tcp, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("listen tcp: %w", err)
		}
		udp, err = net.ListenPacket("udp", tcp.Addr().String())
		if err == nil {
			break
		}
		_ = tcp.Close()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("listen udp: %w", err)
	}
	d.addr = tcp.Addr().String()
	servers := []*dns.Server{
		{Listener: tcp, Handler: d},
		{PacketConn: udp, Handler: d},
	}
	for _, s := range servers {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go func() { _ = s.ActivateAndServe() }()
		<-started
	}
	stop := func() {
		for _, s := range servers {
			_ = s.Shutdown()
		}
	}
	return d, stop, nil
}

func (d *testDNS) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	d.queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	m.RecursionAvailable = true
	if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeTXT {
		q := r.Question[0]
		for _, v := range d.values(q.Name) {
			m.Answer = append(m.Answer, &dns.TXT{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 1},
				Txt: []string{v},
			})
		}
	}
	_ = w.WriteMsg(m)
}

func (d *testDNS) values(name string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.txt[strings.ToLower(name)]...)
}

func (d *testDNS) add(name, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name = strings.ToLower(name)
	d.txt[name] = append(d.txt[name], value)
	d.maxSeen[name] = max(d.maxSeen[name], len(d.txt[name]))
}

func (d *testDNS) remove(name, value string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	name = strings.ToLower(name)
	vs := d.txt[name]
	for i, v := range vs {
		if v == value {
			d.txt[name] = append(vs[:i:i], vs[i+1:]...)
			break
		}
	}
	if len(d.txt[name]) == 0 {
		delete(d.txt, name)
	}
}

// most returns the most values served at once at name.
func (d *testDNS) most(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.maxSeen[strings.ToLower(name)]
}

// records returns how many names hold values now.
func (d *testDNS) records() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.txt)
}

// testSolver is the test's Solver: it serves values from a testDNS.
type testSolver struct {
	dns        *testDNS
	presentErr error // Present fails with it
	wrongValue bool  // Present serves a different value (the CA must refuse)

	mu       sync.Mutex
	presents []string // "fqdn value" in call order
	cleanups int
}

func (s *testSolver) Present(ctx context.Context, fqdn, value string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	s.presents = append(s.presents, fqdn+" "+value)
	s.mu.Unlock()
	if s.presentErr != nil {
		return s.presentErr
	}
	if !strings.HasPrefix(fqdn, "_acme-challenge.") || !strings.HasSuffix(fqdn, ".") || strings.Contains(fqdn, "*") {
		return errors.New("bad challenge FQDN " + fqdn)
	}
	if s.wrongValue {
		value = "wrong-" + value
	}
	s.dns.add(fqdn, value)
	return nil
}

func (s *testSolver) CleanUp(_ context.Context, fqdn, value string) error {
	s.mu.Lock()
	s.cleanups++
	s.mu.Unlock()
	if s.wrongValue {
		value = "wrong-" + value
	}
	s.dns.remove(fqdn, value)
	return nil
}

func (s *testSolver) calls() (presents []string, cleanups int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.presents...), s.cleanups
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
