package resolver

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/certfleet/certfleet/hub/dnsserver"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// world is a hub DNS server for "acme.test" and a resolver that holds the
// parent zone example.org and forwards acme.test to the hub.
type world struct {
	hub *dnsserver.Server
	res *Resolver
}

func newWorld(tb testing.TB, extra ...string) *world {
	tb.Helper()
	hub, err := dnsserver.New(dnsserver.Config{
		Listen: "127.0.0.1:0",
		Domain: "acme.test",
		NSName: "ns1.acme.test",
		Records: []string{
			"www.acme.test. A 192.0.2.1",
			"alias.acme.test. CNAME www.acme.test.",
			"back.acme.test. CNAME www.example.org.",
		},
	}, quietLogger())
	if err != nil {
		tb.Fatal(err)
	}
	if err := hub.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = hub.Close() })
	hub.PutTXT("x1.acme.test.", "order1", "token-one")
	hub.PutTXT("x2.acme.test.", "order2", "token-a")
	hub.PutTXT("x2.acme.test.", "order3", "token-b")

	records := []string{
		"example.org. 3600 SOA ns.example.org. hostmaster.example.org. 1 7200 900 1209600 60",
		"www.example.org. A 192.0.2.10",
		"_acme-challenge.www.example.org. CNAME x1.acme.test.",
		"_acme-challenge.two.example.org. CNAME x2.acme.test.",
		"_acme-challenge.gone.example.org. CNAME x9.acme.test.",
		"_acme-challenge.deep.example.org. CNAME x1.acme.test.",
		"svc.example.org. CNAME alias.acme.test.",
		"loop1.example.org. CNAME loop2.example.org.",
		"loop2.example.org. CNAME loop1.example.org.",
	}
	res := startResolver(tb, Config{
		Records: append(records, extra...),
		Forward: map[string]string{"acme.test": hub.UDPAddr().String()},
	})
	return &world{hub: hub, res: res}
}

func startResolver(tb testing.TB, cfg Config) *Resolver {
	tb.Helper()
	r, err := New(cfg, quietLogger())
	if err != nil {
		tb.Fatal(err)
	}
	if err := r.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return r
}

// ask sends a query with RD set, as a stub or Pebble's validator does.
func ask(tb testing.TB, addr, network, name string, qtype uint16) *dns.Msg {
	tb.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype) // sets RD
	c := &dns.Client{Net: network, Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		tb.Fatalf("exchange %s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	if r.Id != m.Id || !r.Response || !r.RecursionAvailable || r.Authoritative {
		tb.Errorf("header: id %d/%d QR %v RA %v AA %v", r.Id, m.Id, r.Response, r.RecursionAvailable, r.Authoritative)
	}
	return r
}

func rrStrings(rrs []dns.RR) []string {
	out := make([]string, 0, len(rrs))
	for _, rr := range rrs {
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	return out
}

// chainRecords makes a CNAME chain c0 -> c1 -> ... -> c<n> with an A at
// the end: n CNAMEs.
func chainRecords(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d.example.org. CNAME %s%d.example.org.", prefix, i, prefix, i+1))
	}
	return append(out, fmt.Sprintf("%s%d.example.org. A 192.0.2.99", prefix, n))
}

func TestResolve(t *testing.T) {
	extra := append(chainRecords("ok", 8), chainRecords("long", 9)...)
	w := newWorld(t, extra...)
	cases := []struct {
		name   string
		qname  string
		qtype  uint16
		rcode  int
		answer []string
		ns     []string // owners of authority records
	}{
		{
			name: "challenge CNAME and the hub's TXT in one answer", qname: "_acme-challenge.www.example.org.", qtype: dns.TypeTXT,
			answer: []string{
				"_acme-challenge.www.example.org. 300 IN CNAME x1.acme.test.",
				`x1.acme.test. 1 IN TXT "token-one"`,
			},
		},
		{
			name: "several challenge values", qname: "_acme-challenge.two.example.org.", qtype: dns.TypeTXT,
			answer: []string{
				"_acme-challenge.two.example.org. 300 IN CNAME x2.acme.test.",
				`x2.acme.test. 1 IN TXT "token-a"`,
				`x2.acme.test. 1 IN TXT "token-b"`,
			},
		},
		{
			name: "query spelling echoed in the first owner", qname: "_ACME-Challenge.WWW.example.org.", qtype: dns.TypeTXT,
			answer: []string{
				"_ACME-Challenge.WWW.example.org. 300 IN CNAME x1.acme.test.",
				`x1.acme.test. 1 IN TXT "token-one"`,
			},
		},
		{
			name: "forwarded name asked directly", qname: "x1.acme.test.", qtype: dns.TypeTXT,
			answer: []string{`x1.acme.test. 1 IN TXT "token-one"`},
		},
		{
			name: "own record", qname: "www.example.org.", qtype: dns.TypeA,
			answer: []string{"www.example.org. 300 IN A 192.0.2.10"},
		},
		{
			name: "own CNAME into a forwarded CNAME", qname: "svc.example.org.", qtype: dns.TypeA,
			answer: []string{
				"svc.example.org. 300 IN CNAME alias.acme.test.",
				"alias.acme.test. 3600 IN CNAME www.acme.test.",
				"www.acme.test. 3600 IN A 192.0.2.1",
			},
		},
		{
			name: "forwarded CNAME back into own records", qname: "back.acme.test.", qtype: dns.TypeA,
			answer: []string{
				"back.acme.test. 3600 IN CNAME www.example.org.",
				"www.example.org. 300 IN A 192.0.2.10",
			},
		},
		{
			name: "NXDOMAIN in own data with its SOA", qname: "nope.example.org.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError, ns: []string{"example.org."},
		},
		{
			name: "NXDOMAIN at the end of a challenge CNAME", qname: "_acme-challenge.gone.example.org.", qtype: dns.TypeTXT,
			rcode:  dns.RcodeNameError,
			answer: []string{"_acme-challenge.gone.example.org. 300 IN CNAME x9.acme.test."},
			ns:     []string{"acme.test."},
		},
		{
			name: "NXDOMAIN from the forwarded zone", qname: "nope.acme.test.", qtype: dns.TypeTXT,
			rcode: dns.RcodeNameError, ns: []string{"acme.test."},
		},
		{
			name: "NODATA for another type", qname: "www.example.org.", qtype: dns.TypeTXT,
			ns: []string{"example.org."},
		},
		{
			name: "NODATA at an empty non-terminal", qname: "deep.example.org.", qtype: dns.TypeA,
			ns: []string{"example.org."},
		},
		{
			name: "NODATA from the forwarded zone", qname: "www.acme.test.", qtype: dns.TypeTXT,
			ns: []string{"acme.test."},
		},
		{
			name: "NXDOMAIN outside every known zone", qname: "www.example.com.", qtype: dns.TypeA,
			rcode: dns.RcodeNameError,
		},
		{
			name: "a chain of 8 CNAMEs is followed", qname: "ok0.example.org.", qtype: dns.TypeA,
			answer: append(func() []string {
				var s []string
				for i := range 8 {
					s = append(s, fmt.Sprintf("ok%d.example.org. 300 IN CNAME ok%d.example.org.", i, i+1))
				}
				return s
			}(), "ok8.example.org. 300 IN A 192.0.2.99"),
		},
		{name: "a chain of 9 CNAMEs is SERVFAIL", qname: "long0.example.org.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure},
		{name: "a CNAME loop is SERVFAIL", qname: "loop1.example.org.", qtype: dns.TypeA, rcode: dns.RcodeServerFailure},
	}
	for _, network := range []string{"tcp", "udp"} {
		for _, tc := range cases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				r := ask(t, w.res.Addr(), network, tc.qname, tc.qtype)
				if r.Rcode != tc.rcode {
					t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				}
				if got := rrStrings(r.Answer); !slices.Equal(got, tc.answer) {
					t.Errorf("answer =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.answer, "\n"))
				}
				var owners []string
				for _, rr := range r.Ns {
					owners = append(owners, rr.Header().Name)
				}
				if !slices.Equal(owners, tc.ns) {
					t.Errorf("authority = %v, want owners %v", r.Ns, tc.ns)
				}
				if len(r.Question) != 1 || r.Question[0].Name != tc.qname {
					t.Errorf("question = %v", r.Question)
				}
			})
		}
	}
}

// TestHubChangesVisibleAtOnce checks nothing is cached: a value the hub
// puts or deletes is what the next query sees.
func TestHubChangesVisibleAtOnce(t *testing.T) {
	w := newWorld(t)
	const q = "_acme-challenge.www.example.org."
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		{"initial", func() {}, []string{"token-one"}},
		{"second value", func() { w.hub.PutTXT("x1.acme.test.", "o2", "token-two") }, []string{"token-one", "token-two"}},
		{"first removed", func() { w.hub.DeleteTXT("x1.acme.test.", "order1") }, []string{"token-two"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			r := ask(t, w.res.Addr(), "tcp", q, dns.TypeTXT)
			var got []string
			for _, rr := range r.Answer {
				if txt, ok := rr.(*dns.TXT); ok {
					got = append(got, txt.Txt...)
				}
			}
			if !slices.Equal(got, st.want) {
				t.Errorf("TXT = %q, want %q", got, st.want)
			}
		})
	}
}

func TestRecordsAndForwards(t *testing.T) {
	w := newWorld(t)
	const cname = "_acme-challenge.new.example.org. CNAME x1.acme.test."
	rcode := func() int { return ask(t, w.res.Addr(), "udp", "_acme-challenge.new.example.org.", dns.TypeTXT).Rcode }
	steps := []struct {
		name    string
		do      func() error
		wantErr error
		rcode   int
	}{
		{"absent", func() error { return nil }, nil, dns.RcodeNameError},
		{"added", func() error { return w.res.AddRecord(cname) }, nil, dns.RcodeSuccess},
		{"added twice is one", func() error { return w.res.AddRecord("_acme-challenge.new.example.org. 60 CNAME x1.acme.test.") }, nil, dns.RcodeSuccess},
		{"forward removed: the target is unknown", func() error { w.res.SetForward("acme.test.", ""); return nil }, nil, dns.RcodeNameError},
		{"forward back", func() error { w.res.SetForward("ACME.test", w.hub.TCPAddr().String()); return nil }, nil, dns.RcodeSuccess},
		{"removed", func() error { return w.res.RemoveRecord(cname) }, nil, dns.RcodeNameError},
		{"removed again", func() error { return w.res.RemoveRecord(cname) }, ErrNoRecord, dns.RcodeNameError},
		{"bad record", func() error { return w.res.AddRecord("x. A nope") }, errAny, dns.RcodeNameError},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := st.do()
			switch {
			case st.wantErr == nil && err != nil:
				t.Fatalf("error: %v", err)
			case st.wantErr == errAny && err == nil, st.wantErr != nil && st.wantErr != errAny && !errors.Is(err, st.wantErr):
				t.Fatalf("error = %v, want %v", err, st.wantErr)
			}
			if got := rcode(); got != st.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[got], dns.RcodeToString[st.rcode])
			}
		})
	}
}

var errAny = errors.New("any error")

func TestForwardFailures(t *testing.T) {
	w := newWorld(t)
	// A loopback UDP port nothing listens on: the kernel refuses at once.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	_ = pc.Close()
	w.res.SetForward("dead.test", dead)
	// The hub refuses names outside its zones.
	w.res.SetForward("other.test", w.hub.UDPAddr().String())
	cases := []struct{ name, qname string }{
		{"server unreachable", "x.dead.test."},
		{"server refuses", "x.other.test."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ask(t, w.res.Addr(), "tcp", tc.qname, dns.TypeTXT)
			if r.Rcode != dns.RcodeServerFailure || len(r.Answer) != 0 {
				t.Errorf("reply = %v, want SERVFAIL", r)
			}
		})
	}
}

// TestForwardSeveralServers: a zone with several servers is answered
// while any of them answers, and its queries are spread over them.
func TestForwardSeveralServers(t *testing.T) {
	w := newWorld(t)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	_ = pc.Close()
	// A second server for acme.test with other data: which one answered
	// shows in the answer.
	other, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0", Domain: "acme.test", NSName: "ns1.acme.test"}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	other.PutTXT("x1.acme.test.", "order1", "token-other")
	refusing := w.hub.UDPAddr().String() // refuses other.test below

	cases := []struct {
		name  string
		zone  string
		addrs []string
		qname string
		want  []string // TXT values seen over all queries
	}{
		{"dead server skipped", "acme.test", []string{dead, w.hub.UDPAddr().String()}, "x1.acme.test.", []string{"token-one"}},
		{"queries spread over live servers", "acme.test", []string{w.hub.UDPAddr().String(), other.UDPAddr().String()}, "x1.acme.test.", []string{"token-one", "token-other"}},
		{"all servers failing", "other.test", []string{dead, refusing}, "x.other.test.", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w.res.SetForward(tc.zone, tc.addrs...)
			seen := map[string]bool{}
			for range 4 {
				r := ask(t, w.res.Addr(), "tcp", tc.qname, dns.TypeTXT)
				if tc.want == nil {
					if r.Rcode != dns.RcodeServerFailure {
						t.Fatalf("reply = %v, want SERVFAIL", r)
					}
					continue
				}
				if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
					t.Fatalf("reply = %v, want one TXT", r)
				}
				seen[strings.Join(r.Answer[0].(*dns.TXT).Txt, "")] = true
			}
			var got []string
			for v := range seen {
				got = append(got, v)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("answers %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRequestChecks(t *testing.T) {
	w := newWorld(t)
	cases := []struct {
		name  string
		msg   func() *dns.Msg
		rcode int
	}{
		{"class CHAOS refused", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetQuestion("version.bind.", dns.TypeTXT)
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}, dns.RcodeRefused},
		{"NOTIFY not implemented", func() *dns.Msg {
			m := new(dns.Msg)
			m.SetNotify("example.org.")
			return m
		}, dns.RcodeNotImplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &dns.Client{Net: "udp", Timeout: 5 * time.Second}
			r, _, err := c.Exchange(tc.msg(), w.res.Addr())
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.rcode {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
			}
		})
	}
}

// TestTruncation: a big answer is TC over UDP and whole over TCP, and the
// resolver itself gets the hub's big answer by retrying over TCP.
func TestTruncation(t *testing.T) {
	w := newWorld(t)
	const n = 30
	for i := range n {
		w.hub.PutTXT("x1.acme.test.", fmt.Sprint("big", i), fmt.Sprintf("%043d", i))
	}
	cases := []struct {
		network string
		tc      bool
	}{{"udp", true}, {"tcp", false}}
	for _, tc := range cases {
		t.Run(tc.network, func(t *testing.T) {
			r := ask(t, w.res.Addr(), tc.network, "_acme-challenge.www.example.org.", dns.TypeTXT)
			if r.Truncated != tc.tc {
				t.Errorf("TC = %v, want %v", r.Truncated, tc.tc)
			}
			if !tc.tc && len(r.Answer) != n+2 { // CNAME + token-one + n
				t.Errorf("answers = %d, want %d", len(r.Answer), n+2)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad listen", Config{Listen: "nope"}, "resolver listen"},
		{"bad record", Config{Records: []string{"ok.example. A 192.0.2.1", "x. A nope"}}, "resolver records[1]"},
		{"two records in one", Config{Records: []string{"a. A 192.0.2.1\nb. A 192.0.2.2"}}, "more than one record"},
		{"bad forward address", Config{Forward: map[string]string{"acme.test": "127.0.0.1"}}, "resolver forward: zone \"acme.test\""},
		{"bad forward zone", Config{Forward: map[string]string{"a..b": "127.0.0.1:53"}}, "resolver forward: zone \"a..b\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, quietLogger())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestLifecycle(t *testing.T) {
	r, err := New(Config{}, quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	if r.Addr() != "" {
		t.Error("address before Start")
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err == nil {
		t.Error("second Start succeeded")
	}
	host, _, _ := net.SplitHostPort(r.Addr())
	if host != "127.0.0.1" {
		t.Errorf("Addr = %s, want loopback by default", r.Addr())
	}
	if got := ask(t, r.Addr(), "udp", "a.example.", dns.TypeA); got.Rcode != dns.RcodeNameError {
		t.Errorf("empty resolver: %v", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	c := &dns.Client{Net: "tcp", Timeout: time.Second}
	if _, _, err := c.Exchange(new(dns.Msg).SetQuestion("a.example.", dns.TypeA), r.Addr()); err == nil {
		t.Error("still answering after Close")
	}
}
