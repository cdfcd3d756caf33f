package dnsserver

import (
	"testing"

	"github.com/miekg/dns"
)

// TestStatsCountQueryTypes checks that questions are counted by type, with
// unlisted types folded into "other", over UDP and TCP.
func TestStatsCountQueryTypes(t *testing.T) {
	s := startServer(t, testConfig())
	populate(s)
	asked := []struct {
		network string
		qtype   uint16
	}{{"udp", dns.TypeTXT}, {"tcp", dns.TypeTXT}, {"udp", dns.TypeA}, {"udp", dns.TypeSOA}, {"udp", dns.TypeMX}, {"tcp", dns.TypeSRV}}
	for _, q := range asked {
		exchange(t, s, q.network, question("www.acme.test.", q.qtype))
	}
	want := map[string]uint64{"TXT": 2, "A": 1, "SOA": 1, "other": 2}
	st := s.Stats()
	for i, name := range QTypeNames {
		if st.QTypes[i] != want[name] {
			t.Errorf("%s: counted %d, want %d", name, st.QTypes[i], want[name])
		}
	}
}

func BenchmarkQTypeIndex(b *testing.B) {
	types := []uint16{dns.TypeTXT, dns.TypeA, dns.TypeMX, dns.TypeCAA}
	n := 0
	for i := 0; b.Loop(); i++ {
		n += qtypeIndex(types[i%len(types)])
	}
	_ = n
}
