package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// BenchmarkTXT measures the handler on a challenge TXT query (two values,
// EDNS), which is what CAs send: raw query bytes in, raw reply out, as the
// UDP loop calls it.
func BenchmarkTXT(b *testing.B) {
	s := newServer(b, testConfig())
	populate(s)
	cases := []struct {
		name  string
		qname string
		qtype uint16
	}{
		{"challenge", "_acme-challenge.www.acme.test.", dns.TypeTXT},
		{"challenge-mixed-case", "_ACME-challenge.WWW.acme.test.", dns.TypeTXT},
		{"nxdomain", "nope.acme.test.", dns.TypeTXT},
		{"refused", "example.com.", dns.TypeTXT},
	}
	for _, tc := range cases {
		m := question(tc.qname, tc.qtype)
		m.SetEdns0(1232, false)
		req := mustPack(b, m)
		b.Run(tc.name, func(b *testing.B) {
			buf := make([]byte, maxTCPMsg)
			b.ReportAllocs()
			for b.Loop() {
				if s.handle(buf, req, loopback, false) == nil {
					b.Fatal("no reply")
				}
			}
		})
	}
	b.Run("challenge-parallel", func(b *testing.B) {
		m := question("_acme-challenge.www.acme.test.", dns.TypeTXT)
		m.SetEdns0(1232, false)
		req := mustPack(b, m)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			buf := make([]byte, maxTCPMsg)
			for pb.Next() {
				if s.handle(buf, req, loopback, false) == nil {
					b.Error("no reply")
					return
				}
			}
		})
	})
}
