package dnsserver

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// queryCase is one query and what the server must answer, over UDP and TCP.
type queryCase struct {
	name   string
	msg    func() *dns.Msg
	rcode  int
	aa     bool
	answer []string // exact records, in order; nil means none
	ns     []uint16 // types in the authority section
	check  func(t *testing.T, s *Server, r *dns.Msg)
}

func withEDNS(m *dns.Msg, size uint16, do bool) *dns.Msg {
	m.SetEdns0(size, do)
	return m
}

func queryCases() []queryCase {
	soa := []uint16{dns.TypeSOA}
	return []queryCase{
		{
			name: "SOA at the apex", msg: func() *dns.Msg { return question("acme.test.", dns.TypeSOA) },
			aa: true,
			check: func(t *testing.T, s *Server, r *dns.Msg) {
				if len(r.Answer) != 1 {
					t.Fatalf("answer = %v", r.Answer)
				}
				got := r.Answer[0].(*dns.SOA)
				if got.Ns != "ns1.acme.test." || got.Mbox != "hostmaster.acme.test." || got.Serial != s.Serial() || got.Minttl != 1 {
					t.Errorf("SOA = %v, serial now %d", got, s.Serial())
				}
			},
		},
		{
			name: "NS at the apex with glue", msg: func() *dns.Msg { return question("acme.test.", dns.TypeNS) },
			aa: true, answer: []string{"acme.test. 3600 IN NS ns1.acme.test."},
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				if got := rrStrings(r.Extra); !slices.Equal(got, []string{"ns1.acme.test. 3600 IN A 192.0.2.53"}) {
					t.Errorf("additional = %q", got)
				}
			},
		},
		{
			name: "static A", msg: func() *dns.Msg { return question("www.acme.test.", dns.TypeA) },
			aa: true, answer: []string{"www.acme.test. 300 IN A 192.0.2.1"},
		},
		{
			name: "static AAAA at the apex", msg: func() *dns.Msg { return question("acme.test.", dns.TypeAAAA) },
			aa: true, answer: []string{"acme.test. 3600 IN AAAA 2001:db8::53"},
		},
		{
			name: "challenge TXT, many values, duplicates once",
			msg:  func() *dns.Msg { return question("_acme-challenge.www.acme.test.", dns.TypeTXT) },
			aa:   true,
			answer: []string{
				`_acme-challenge.www.acme.test. 1 IN TXT "value-one"`,
				`_acme-challenge.www.acme.test. 1 IN TXT "value-two"`,
			},
		},
		{
			name: "query name case is echoed",
			msg:  func() *dns.Msg { return question("_ACME-Challenge.WWW.Acme.Test.", dns.TypeTXT) },
			aa:   true,
			answer: []string{
				`_ACME-Challenge.WWW.Acme.Test. 1 IN TXT "value-one"`,
				`_ACME-Challenge.WWW.Acme.Test. 1 IN TXT "value-two"`,
			},
		},
		{
			name: "NXDOMAIN with SOA at negative TTL",
			msg:  func() *dns.Msg { return question("nope.acme.test.", dns.TypeA) },
			aa:   true, rcode: dns.RcodeNameError, ns: soa,
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				if got := r.Ns[0]; got.Header().Ttl != 1 || got.Header().Name != "acme.test." {
					t.Errorf("authority SOA = %v, want TTL 1 owned by the apex", got)
				}
			},
		},
		{
			name: "NXDOMAIN below a challenge name",
			msg:  func() *dns.Msg { return question("sub._acme-challenge.www.acme.test.", dns.TypeTXT) },
			aa:   true, rcode: dns.RcodeNameError, ns: soa,
		},
		{
			name: "NODATA for another type at a challenge name",
			msg:  func() *dns.Msg { return question("_acme-challenge.www.acme.test.", dns.TypeA) },
			aa:   true, ns: soa,
		},
		{
			name: "NODATA for another type at a static name",
			msg:  func() *dns.Msg { return question("www.acme.test.", dns.TypeTXT) },
			aa:   true, ns: soa,
		},
		{
			name: "NODATA at the empty non-terminal above a challenge",
			msg:  func() *dns.Msg { return question("x.y.acme.test.", dns.TypeTXT) },
			aa:   true, ns: soa,
		},
		{
			name: "NODATA at a higher empty non-terminal",
			msg:  func() *dns.Msg { return question("y.acme.test.", dns.TypeA) },
			aa:   true, ns: soa,
		},
		{
			name: "NODATA at a static empty non-terminal",
			msg:  func() *dns.Msg { return question("b.acme.test.", dns.TypeA) },
			aa:   true, ns: soa,
		},
		{
			name:  "REFUSED outside the zones, no recursion",
			msg:   func() *dns.Msg { return question("example.com.", dns.TypeA) },
			rcode: dns.RcodeRefused,
		},
		{
			name:  "REFUSED for a name that only ends like the zone",
			msg:   func() *dns.Msg { return question("xacme.test.", dns.TypeA) },
			rcode: dns.RcodeRefused,
		},
		{
			name:  "REFUSED for the parent of the zone",
			msg:   func() *dns.Msg { return question("test.", dns.TypeSOA) },
			rcode: dns.RcodeRefused,
		},
		{
			name: "CNAME followed inside the zone",
			msg:  func() *dns.Msg { return question("Alias.acme.test.", dns.TypeA) },
			aa:   true,
			answer: []string{
				"Alias.acme.test. 3600 IN CNAME www.acme.test.",
				"www.acme.test. 300 IN A 192.0.2.1",
			},
		},
		{
			name:   "CNAME to another domain stops there",
			msg:    func() *dns.Msg { return question("ext.acme.test.", dns.TypeTXT) },
			aa:     true,
			answer: []string{"ext.acme.test. 3600 IN CNAME target.example.com."},
		},
		{
			name: "CNAME to a missing in-zone name is NXDOMAIN",
			msg:  func() *dns.Msg { return question("dangling.acme.test.", dns.TypeA) },
			aa:   true, rcode: dns.RcodeNameError, ns: soa,
			answer: []string{"dangling.acme.test. 3600 IN CNAME missing.acme.test."},
		},
		{
			name:   "CNAME asked for itself",
			msg:    func() *dns.Msg { return question("alias.acme.test.", dns.TypeCNAME) },
			aa:     true,
			answer: []string{"alias.acme.test. 3600 IN CNAME www.acme.test."},
		},
		{
			name: "CNAME loop is cut",
			msg:  func() *dns.Msg { return question("loop1.acme.test.", dns.TypeA) },
			aa:   true,
			answer: []string{
				"loop1.acme.test. 3600 IN CNAME loop2.acme.test.",
				"loop2.acme.test. 3600 IN CNAME loop1.acme.test.",
			},
		},
		{
			name:   "ANY answered minimally (RFC 8482)",
			msg:    func() *dns.Msg { return question("_acme-challenge.www.acme.test.", dns.TypeANY) },
			aa:     true,
			answer: []string{`_acme-challenge.www.acme.test. 3600 IN HINFO "RFC8482" ""`},
		},
		{
			name: "ANY at an empty non-terminal is NODATA",
			msg:  func() *dns.Msg { return question("y.acme.test.", dns.TypeANY) },
			aa:   true, ns: soa,
		},
		{
			name: "ANY at a missing name is NXDOMAIN",
			msg:  func() *dns.Msg { return question("nope.acme.test.", dns.TypeANY) },
			aa:   true, rcode: dns.RcodeNameError, ns: soa,
		},
		{
			name: "class CHAOS is REFUSED",
			msg: func() *dns.Msg {
				m := question("version.bind.", dns.TypeTXT)
				m.Question[0].Qclass = dns.ClassCHAOS
				return m
			},
			rcode: dns.RcodeRefused,
		},
		{
			name: "class ANY is answered from IN data",
			msg: func() *dns.Msg {
				m := question("www.acme.test.", dns.TypeA)
				m.Question[0].Qclass = dns.ClassANY
				return m
			},
			aa: true, answer: []string{"www.acme.test. 300 IN A 192.0.2.1"},
		},
		{
			name: "AXFR is REFUSED", msg: func() *dns.Msg { return question("acme.test.", dns.TypeAXFR) },
			rcode: dns.RcodeRefused,
		},
		{
			name: "MAILB is NOTIMP", msg: func() *dns.Msg { return question("acme.test.", dns.TypeMAILB) },
			rcode: dns.RcodeNotImplemented,
		},
		{
			name: "delegated zone SOA", msg: func() *dns.Msg { return question("example.net.", dns.TypeSOA) },
			aa: true,
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				if len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Ns != "ns1.acme.test." || r.Answer[0].Header().Name != "example.net." {
					t.Errorf("answer = %v", r.Answer)
				}
			},
		},
		{
			name: "delegated zone NS", msg: func() *dns.Msg { return question("example.net.", dns.TypeNS) },
			aa: true, answer: []string{"example.net. 3600 IN NS ns1.acme.test."},
		},
		{
			name:   "delegated zone challenge TXT",
			msg:    func() *dns.Msg { return question("_acme-challenge.host.example.net.", dns.TypeTXT) },
			aa:     true,
			answer: []string{`_acme-challenge.host.example.net. 1 IN TXT "delegated"`},
		},
		{
			name: "delegated zone NXDOMAIN has its own SOA",
			msg:  func() *dns.Msg { return question("nope.example.net.", dns.TypeTXT) },
			aa:   true, rcode: dns.RcodeNameError, ns: soa,
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				if r.Ns[0].Header().Name != "example.net." {
					t.Errorf("authority = %v", r.Ns)
				}
			},
		},
		{
			name: "NOTIFY is NOTIMP",
			msg: func() *dns.Msg {
				m := new(dns.Msg)
				m.SetNotify("acme.test.")
				return m
			},
			rcode: dns.RcodeNotImplemented,
		},
		{
			name: "UPDATE is NOTIMP",
			msg: func() *dns.Msg {
				m := new(dns.Msg)
				m.SetUpdate("acme.test.")
				return m
			},
			rcode: dns.RcodeNotImplemented,
		},
		{
			name: "no question is FORMERR",
			msg: func() *dns.Msg {
				m := question("acme.test.", dns.TypeSOA)
				m.Question = nil
				return m
			},
			rcode: dns.RcodeFormatError,
		},
		{
			name: "two questions is FORMERR",
			msg: func() *dns.Msg {
				m := question("acme.test.", dns.TypeSOA)
				m.Question = append(m.Question, dns.Question{Name: "www.acme.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
				return m
			},
			rcode: dns.RcodeFormatError,
		},
		{
			name: "EDNS: OPT echoed with our size, DO copied",
			msg:  func() *dns.Msg { return withEDNS(question("www.acme.test.", dns.TypeA), 4096, true) },
			aa:   true, answer: []string{"www.acme.test. 300 IN A 192.0.2.1"},
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				opt := r.IsEdns0()
				if opt == nil || opt.UDPSize() != ednsUDPSize || !opt.Do() || opt.Version() != 0 {
					t.Errorf("OPT = %v", opt)
				}
			},
		},
		{
			name: "EDNS: no DO in, no DO out",
			msg:  func() *dns.Msg { return withEDNS(question("www.acme.test.", dns.TypeA), 1232, false) },
			aa:   true, answer: []string{"www.acme.test. 300 IN A 192.0.2.1"},
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				if opt := r.IsEdns0(); opt == nil || opt.Do() {
					t.Errorf("OPT = %v", opt)
				}
			},
		},
		{
			name: "EDNS version 1 is BADVERS",
			msg: func() *dns.Msg {
				m := withEDNS(question("www.acme.test.", dns.TypeA), 1232, false)
				m.IsEdns0().SetVersion(1)
				return m
			},
			rcode: dns.RcodeBadVers,
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				if opt := r.IsEdns0(); opt == nil || opt.Version() != 0 {
					t.Errorf("OPT = %v, want version 0", opt)
				}
			},
		},
		{
			name: "two OPT records is FORMERR",
			msg: func() *dns.Msg {
				m := withEDNS(question("www.acme.test.", dns.TypeA), 1232, false)
				m.Extra = append(m.Extra, dns.Copy(m.Extra[0]))
				return m
			},
			rcode: dns.RcodeFormatError,
		},
		{
			name: "RD is copied and RA stays clear",
			msg: func() *dns.Msg {
				m := question("www.acme.test.", dns.TypeA)
				m.RecursionDesired = true
				return m
			},
			aa: true, answer: []string{"www.acme.test. 300 IN A 192.0.2.1"},
			check: func(t *testing.T, _ *Server, r *dns.Msg) {
				if !r.RecursionDesired {
					t.Error("RD not copied")
				}
			},
		},
	}
}

func TestQueries(t *testing.T) {
	s := startServer(t, testConfig())
	populate(s)
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range queryCases() {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				m := tc.msg()
				r := exchange(t, s, network, m)
				checkReply(t, m, r, tc)
				if tc.check != nil {
					tc.check(t, s, r)
				}
			})
		}
	}
}

func checkReply(t *testing.T, q, r *dns.Msg, tc queryCase) {
	t.Helper()
	if r.Id != q.Id || !r.Response || r.Opcode != q.Opcode {
		t.Errorf("header: id %d/%d response %v opcode %d/%d", r.Id, q.Id, r.Response, r.Opcode, q.Opcode)
	}
	if r.RecursionAvailable {
		t.Error("RA set: an authoritative-only server must not offer recursion")
	}
	if r.Rcode != tc.rcode {
		t.Errorf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
	}
	if r.Authoritative != tc.aa {
		t.Errorf("AA = %v, want %v", r.Authoritative, tc.aa)
	}
	if r.Truncated {
		t.Error("TC set")
	}
	if len(q.Question) == 1 && r.Rcode != dns.RcodeFormatError {
		if len(r.Question) != 1 || r.Question[0] != q.Question[0] {
			t.Errorf("question = %v, want %v echoed exactly", r.Question, q.Question)
		}
	}
	if tc.answer != nil || tc.check == nil {
		if got := rrStrings(r.Answer); !slices.Equal(got, tc.answer) {
			t.Errorf("answer =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.answer, "\n"))
		}
	}
	var nsTypes []uint16
	for _, rr := range r.Ns {
		nsTypes = append(nsTypes, rr.Header().Rrtype)
	}
	if !slices.Equal(nsTypes, tc.ns) {
		t.Errorf("authority = %v, want types %v", r.Ns, tc.ns)
	}
	// A malformed query's OPT cannot be trusted, so FORMERR may omit it.
	if (q.IsEdns0() != nil) != (r.IsEdns0() != nil) && r.Rcode != dns.RcodeFormatError {
		t.Errorf("OPT in query %v, in reply %v", q.IsEdns0() != nil, r.IsEdns0() != nil)
	}
}

// TestTruncation checks TC over UDP: 512 bytes without EDNS, at most 1232
// with it whatever the client offers, and the whole answer over TCP.
func TestTruncation(t *testing.T) {
	s := startServer(t, testConfig())
	const n = 40
	for i := range n {
		s.PutTXT("_acme-challenge.big.acme.test.", fmt.Sprint("id", i), fmt.Sprintf("%043d", i))
	}
	cases := []struct {
		name     string
		network  string
		edns     uint16
		tc       bool
		maxBytes int
	}{
		{"udp without EDNS", "udp", 0, true, 512},
		{"udp with EDNS 4096 is capped at 1232", "udp", 4096, true, ednsUDPSize},
		{"udp with EDNS below 512 counts as 512", "udp", 256, true, 512},
		{"tcp carries everything", "tcp", 0, false, maxTCPMsg},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := question("_acme-challenge.big.acme.test.", dns.TypeTXT)
			if tc.edns != 0 {
				m.SetEdns0(tc.edns, false)
			}
			r := exchange(t, s, tc.network, m)
			if r.Truncated != tc.tc {
				t.Errorf("TC = %v, want %v", r.Truncated, tc.tc)
			}
			r.Compress = true // as the server sent it
			packed := mustPack(t, r)
			if len(packed) > tc.maxBytes {
				t.Errorf("reply %d bytes, limit %d", len(packed), tc.maxBytes)
			}
			if !tc.tc && len(r.Answer) != n {
				t.Errorf("answers = %d, want %d", len(r.Answer), n)
			}
			if tc.tc && len(r.Answer) >= n {
				t.Errorf("truncated reply has all %d answers", len(r.Answer))
			}
			if r.Rcode != dns.RcodeSuccess || !r.Authoritative {
				t.Errorf("rcode %s AA %v", dns.RcodeToString[r.Rcode], r.Authoritative)
			}
		})
	}
}

// TestLongTXTValue checks values over 255 bytes are split into several
// character-strings, and that a backslash is served as a byte, not an escape.
func TestLongTXTValue(t *testing.T) {
	s := startServer(t, testConfig())
	long := strings.Repeat("a", 300)
	s.PutTXT("long.acme.test.", "1", long)
	s.PutTXT("slash.acme.test.", "1", `a\b"c`)
	cases := []struct {
		name, qname string
		want        []string
	}{
		{"split at 255", "long.acme.test.", []string{strings.Repeat("a", 255), strings.Repeat("a", 45)}},
		// miekg/dns shows the bytes a\b"c in presentation format.
		{"backslash and quote kept", "slash.acme.test.", []string{`a\\b\"c`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := exchange(t, s, "tcp", question(tc.qname, dns.TypeTXT))
			if len(r.Answer) != 1 {
				t.Fatalf("answer = %v", r.Answer)
			}
			if got := r.Answer[0].(*dns.TXT).Txt; !slices.Equal(got, tc.want) {
				t.Errorf("TXT strings = %q, want %q", got, tc.want)
			}
		})
	}
}
