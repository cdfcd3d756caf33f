package dnsserver

import (
	"fmt"
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

// BenchmarkPutTXT measures one challenge write with 10,000 names already
// served: a write copies one shard of the records, not all of them.
func BenchmarkPutTXT(b *testing.B) {
	s := newServer(b, testConfig())
	for i := range 10000 {
		s.PutTXT(fmt.Sprintf("_acme-challenge.h%d.acme.test.", i), "id", "value")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.PutTXT(fmt.Sprintf("_acme-challenge.h%d.acme.test.", i%10000), "id", fmt.Sprintf("v%d", i))
		i++
	}
}
