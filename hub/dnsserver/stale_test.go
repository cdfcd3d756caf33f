package dnsserver

import (
	"slices"
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

// TestDelegatedZoneNS: a zone delegated to the hub is served with every
// name server of the hub zone (the extra ones from dns.records: one per
// hub), not only dns.nsname.
func TestDelegatedZoneNS(t *testing.T) {
	cfg := testConfig()
	cfg.Records = append(cfg.Records, "acme.test. NS ns2.acme.test.", "ns2 A 192.0.2.54")
	s := startServer(t, cfg)
	s.SetZones([]string{"corp.example.net"})
	for _, zone := range []string{"acme.test.", "corp.example.net."} {
		t.Run(zone, func(t *testing.T) {
			r := exchange(t, s, "udp", question(zone, dns.TypeNS))
			var got []string
			for _, rr := range r.Answer {
				if ns, ok := rr.(*dns.NS); ok {
					got = append(got, ns.Ns)
				}
			}
			slices.Sort(got)
			if want := []string{"ns1.acme.test.", "ns2.acme.test."}; !slices.Equal(got, want) {
				t.Fatalf("NS of %s = %v, want %v", zone, got, want)
			}
		})
	}
}
