package dnsserver

import (
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func TestTXTLifecycle(t *testing.T) {
	const name = "_acme-challenge.www.acme.test."
	type step struct {
		name  string
		do    func(s *Server)
		want  []string // TXT(name)
		bumps bool     // the serial must grow
	}
	steps := []step{
		{"first value", func(s *Server) { s.PutTXT(name, "a", "v1") }, []string{"v1"}, true},
		{"second id", func(s *Server) { s.PutTXT(name, "b", "v2") }, []string{"v1", "v2"}, true},
		{"same value again is no change", func(s *Server) { s.PutTXT(name, "b", "v2") }, []string{"v1", "v2"}, false},
		{"id replaces its value", func(s *Server) { s.PutTXT(name, "a", "v3") }, []string{"v3", "v2"}, true},
		{"third id with a duplicate value", func(s *Server) { s.PutTXT(name, "c", "v2") }, []string{"v3", "v2"}, true},
		{"delete unknown id is no change", func(s *Server) { s.DeleteTXT(name, "zzz") }, []string{"v3", "v2"}, false},
		{"delete unknown name is no change", func(s *Server) { s.DeleteTXT("other.acme.test.", "a") }, []string{"v3", "v2"}, false},
		{"delete one holder of a duplicate keeps it", func(s *Server) { s.DeleteTXT(name, "b") }, []string{"v3", "v2"}, true},
		{"delete by another spelling", func(s *Server) { s.DeleteTXT("_ACME-challenge.WWW.acme.test", "a") }, []string{"v2"}, true},
		{"delete last", func(s *Server) { s.DeleteTXT(name, "c") }, nil, true},
		{"invalid name ignored", func(s *Server) { s.PutTXT("bad..name", "a", "v") }, nil, false},
	}
	s := newServer(t, testConfig())
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := s.Serial()
			st.do(s)
			if got := s.TXT(name); !slices.Equal(got, st.want) {
				t.Errorf("TXT = %q, want %q", got, st.want)
			}
			after := s.Serial()
			if st.bumps && int32(after-before) <= 0 {
				t.Errorf("serial %d -> %d, want it to grow", before, after)
			}
			if !st.bumps && after != before {
				t.Errorf("serial %d -> %d, want no change", before, after)
			}
		})
	}
}

// TestEmptyNonTerminalFollowsTXT checks that removing the last challenge
// below a name turns NODATA there back into NXDOMAIN.
func TestEmptyNonTerminalFollowsTXT(t *testing.T) {
	s := newServer(t, testConfig())
	rcode := func() int {
		return s.view.Load().lookup("host.acme.test.", dns.TypeA).rcode
	}
	steps := []struct {
		name string
		do   func()
		want int
	}{
		{"nothing there", func() {}, dns.RcodeNameError},
		{"challenge below", func() { s.PutTXT("_acme-challenge.host.acme.test.", "1", "v") }, dns.RcodeSuccess},
		{"second challenge below", func() { s.PutTXT("_acme-challenge.sub.host.acme.test.", "1", "v") }, dns.RcodeSuccess},
		{"first removed", func() { s.DeleteTXT("_acme-challenge.host.acme.test.", "1") }, dns.RcodeSuccess},
		{"all removed", func() { s.DeleteTXT("_acme-challenge.sub.host.acme.test.", "1") }, dns.RcodeNameError},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			if got := rcode(); got != st.want {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[got], dns.RcodeToString[st.want])
			}
		})
	}
}

func TestSetZones(t *testing.T) {
	s := newServer(t, testConfig())
	const name = "_acme-challenge.www.example.net."
	s.PutTXT(name, "1", "v")
	steps := []struct {
		name    string
		zones   []string
		served  bool // TXT(name) has the value
		rcodeAt int  // for example.net SOA
		bumps   bool
	}{
		{"not delegated yet", nil, false, dns.RcodeRefused, false},
		{"delegated", []string{"Example.NET."}, true, dns.RcodeSuccess, true},
		{"same set again", []string{"example.net", "example.net"}, true, dns.RcodeSuccess, false},
		{"invalid names skipped", []string{"example.net", "bad..zone", "*.x.test"}, true, dns.RcodeSuccess, false},
		{"hub zone is implied", []string{"example.net", "acme.test"}, true, dns.RcodeSuccess, false},
		{"removed", []string{"other.test"}, false, dns.RcodeRefused, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			before := s.Serial()
			if st.zones != nil {
				s.SetZones(st.zones)
			}
			if got := s.TXT(name); (len(got) == 1) != st.served {
				t.Errorf("TXT = %q, served want %v", got, st.served)
			}
			if got := s.view.Load().lookup("example.net.", dns.TypeSOA).rcode; got != st.rcodeAt {
				t.Errorf("SOA rcode = %s, want %s", dns.RcodeToString[got], dns.RcodeToString[st.rcodeAt])
			}
			if grew := int32(s.Serial()-before) > 0; grew != st.bumps {
				t.Errorf("serial grew = %v, want %v", grew, st.bumps)
			}
		})
	}
	if got := s.Zones(); !slices.Equal(got, []string{"acme.test.", "other.test."}) {
		t.Errorf("Zones = %q", got)
	}
}

// TestNestedZones checks the closest zone answers: a zone delegated below
// the hub zone has its own SOA.
func TestNestedZones(t *testing.T) {
	s := newServer(t, testConfig())
	s.SetZones([]string{"sub.acme.test", "test2"}) // a single label is invalid, skipped
	a := s.view.Load().lookup("nope.sub.acme.test.", dns.TypeA)
	if a.rcode != dns.RcodeNameError || len(a.ns) != 1 || a.ns[0].Header().Name != "sub.acme.test." {
		t.Errorf("got %s %v, want NXDOMAIN with sub.acme.test. SOA", dns.RcodeToString[a.rcode], a.ns)
	}
}

func TestNextSerial(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	cases := []struct {
		name string
		old  uint32
		want uint32
	}{
		{"clock ahead", 1_700_000_000, 1_800_000_000},
		{"many changes this second", 1_800_000_000, 1_800_000_001},
		{"ahead of the clock", 1_800_000_500, 1_800_000_501},
		{"wraps per RFC 1982", 0xFFFFFFFF, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			at := now
			if tc.old == 0xFFFFFFFF {
				at = time.Unix(0xFFFFFFFF-10, 0)
			}
			if got := nextSerial(tc.old, at); got != tc.want {
				t.Errorf("nextSerial(%d) = %d, want %d", tc.old, got, tc.want)
			}
		})
	}
}

// TestConcurrentUpdates runs writers and readers together (go test -race)
// and checks every read is well-formed and the end state is the sum of
// the writes.
func TestConcurrentUpdates(t *testing.T) {
	s := newServer(t, testConfig())
	const writers, rounds = 4, 200
	ops := func(name string, put func(id, v string), del func(id string)) {
		for i := range rounds {
			id := fmt.Sprint(i % 3)
			put(id, fmt.Sprint("v", i))
			if i%2 == 1 {
				del(id)
			}
		}
	}

	stop := make(chan struct{})
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, maxTCPMsg)
		req := mustPack(t, question("_acme-challenge.w0.acme.test.", dns.TypeTXT))
		for {
			select {
			case <-stop:
				close(readErr)
				return
			default:
			}
			out := s.handle(buf, req, netip.MustParseAddr("127.0.0.1"), true)
			var r dns.Msg
			if err := r.Unpack(out); err != nil || (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError) {
				readErr <- fmt.Errorf("reply %v: %v", &r, err)
				<-stop
				close(readErr)
				return
			}
		}
	}()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("_acme-challenge.w%d.acme.test.", w)
			ops(name, func(id, v string) { s.PutTXT(name, id, v) }, func(id string) { s.DeleteTXT(name, id) })
			s.SetZones([]string{fmt.Sprintf("z%d.test", w)})
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-readErr; err != nil {
		t.Fatal(err)
	}

	model := map[string]string{}
	ops("", func(id, v string) { model[id] = v }, func(id string) { delete(model, id) })
	var want []string
	for _, v := range model {
		want = append(want, v)
	}
	slices.Sort(want)
	for w := range writers {
		got := s.TXT(fmt.Sprintf("_acme-challenge.w%d.acme.test.", w))
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("writer %d: TXT = %q, want %q", w, got, want)
		}
	}
}
