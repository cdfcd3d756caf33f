package dnsserver

import "github.com/miekg/dns"

// QTypeNames names the query types counted one by one in Stats.QTypes;
// every other type is counted as "other", so the metric's cardinality is
// fixed whatever clients ask.
var QTypeNames = [...]string{"TXT", "A", "AAAA", "NS", "SOA", "CNAME", "CAA", "ANY", "other"}

// NumQTypes is len(QTypeNames).
const NumQTypes = len(QTypeNames)

// qtypeIndex maps a query type to its slot in QTypeNames: a switch, not a
// map lookup, to keep the per-query cost at a few compares.
func qtypeIndex(t uint16) int {
	switch t {
	case dns.TypeTXT:
		return 0
	case dns.TypeA:
		return 1
	case dns.TypeAAAA:
		return 2
	case dns.TypeNS:
		return 3
	case dns.TypeSOA:
		return 4
	case dns.TypeCNAME:
		return 5
	case dns.TypeCAA:
		return 6
	case dns.TypeANY:
		return 7
	}
	return NumQTypes - 1
}
