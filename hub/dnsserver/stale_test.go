package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestStale: while its data may be stale, the server sends resolvers to
// another name server (SERVFAIL) for every answer that depends on the
// data, and still gives the static records; once fresh again, it answers
// as before.
func TestStale(t *testing.T) {
	s := startServer(t, testConfig())
	populate(s)
	cases := []struct {
		name      string
		q         *dns.Msg
		staleCode int
		freshCode int
	}{
		{"challenge TXT", question("_acme-challenge.www.acme.test.", dns.TypeTXT), dns.RcodeServerFailure, dns.RcodeSuccess},
		{"challenge in a delegated zone", question("_acme-challenge.host.example.net.", dns.TypeTXT), dns.RcodeServerFailure, dns.RcodeSuccess},
		{"missing challenge", question("_acme-challenge.new.acme.test.", dns.TypeTXT), dns.RcodeServerFailure, dns.RcodeNameError},
		{"zone not known (yet)", question("x.other.example.", dns.TypeTXT), dns.RcodeServerFailure, dns.RcodeRefused},
		{"ANY", question("www.acme.test.", dns.TypeANY), dns.RcodeServerFailure, dns.RcodeSuccess},
		{"NODATA", question("www.acme.test.", dns.TypeAAAA), dns.RcodeServerFailure, dns.RcodeSuccess},
		{"static SOA", question("acme.test.", dns.TypeSOA), dns.RcodeSuccess, dns.RcodeSuccess},
		{"static NS", question("acme.test.", dns.TypeNS), dns.RcodeSuccess, dns.RcodeSuccess},
		{"static address", question("www.acme.test.", dns.TypeA), dns.RcodeSuccess, dns.RcodeSuccess},
	}
	for _, stale := range []bool{true, false} {
		s.SetStale(stale)
		if s.Stale() != stale {
			t.Fatalf("Stale() = %v after SetStale(%v)", s.Stale(), stale)
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				want := tc.freshCode
				if stale {
					want = tc.staleCode
				}
				r := exchange(t, s, "udp", tc.q)
				if r.Rcode != want {
					t.Fatalf("stale=%v: rcode %s, want %s", stale, dns.RcodeToString[r.Rcode], dns.RcodeToString[want])
				}
				if r.Rcode == dns.RcodeServerFailure && (len(r.Answer) != 0 || len(r.Ns) != 0 || r.Authoritative) {
					t.Fatalf("SERVFAIL with data: %v", r)
				}
			})
		}
	}
}
