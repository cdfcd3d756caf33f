package dnsserver

import (
	"strings"

	"github.com/miekg/dns"
)

// TTLs of the records the server makes itself.
const (
	soaTTL   = 3600
	nsTTL    = 3600
	hinfoTTL = 3600
)

// zone is one served zone. It is immutable once built, so snapshots share
// it freely.
type zone struct {
	origin string // lower case FQDN
	labels int
	soa    dns.SOA // template; the serial comes from the snapshot
	ns     []dns.RR
	// rrs holds static records: owner (lower case FQDN) -> type -> records.
	rrs map[string]map[uint16][]dns.RR
	// names holds every static owner and its ancestors inside the zone, so
	// empty non-terminals exist (NODATA, not NXDOMAIN).
	names map[string]struct{}
}

// newZone builds a zone with a synthesized SOA and NS. negTTL is the SOA
// MINIMUM, the TTL resolvers cache negative answers for.
func newZone(origin, nsName, mbox string, negTTL uint32, static []dns.RR) *zone {
	z := &zone{
		origin: origin,
		labels: dns.CountLabel(origin),
		soa: dns.SOA{
			Hdr:     dns.RR_Header{Name: origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: soaTTL},
			Ns:      nsName,
			Mbox:    mbox,
			Refresh: 3600,
			Retry:   600,
			Expire:  1209600,
			Minttl:  negTTL,
		},
		rrs:   make(map[string]map[uint16][]dns.RR),
		names: make(map[string]struct{}),
	}
	z.ns = []dns.RR{&dns.NS{
		Hdr: dns.RR_Header{Name: origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: nsTTL},
		Ns:  nsName,
	}}
	for _, rr := range static {
		z.add(rr)
	}
	return z
}

func (z *zone) add(rr dns.RR) {
	h := rr.Header()
	if h.Rrtype == dns.TypeNS && h.Name == z.origin {
		// Extra apex name servers join the synthesized one.
		z.ns = appendUnique(z.ns, rr)
		return
	}
	types := z.rrs[h.Name]
	if types == nil {
		types = make(map[uint16][]dns.RR)
		z.rrs[h.Name] = types
	}
	types[h.Rrtype] = appendUnique(types[h.Rrtype], rr)
	for n := h.Name; n != z.origin && n != "."; n = parent(n) {
		z.names[n] = struct{}{}
	}
}

// appendUnique appends rr unless the set holds it already (RFC 2181 5.1:
// an RRset has no duplicates).
func appendUnique(set []dns.RR, rr dns.RR) []dns.RR {
	for _, have := range set {
		if dns.IsDuplicate(have, rr) {
			return set
		}
	}
	return append(set, rr)
}

// contains reports whether lname (lower case FQDN) is at or below the apex.
func (z *zone) contains(lname string) bool {
	if len(lname) == len(z.origin) {
		return lname == z.origin
	}
	return len(lname) > len(z.origin) && lname[len(lname)-len(z.origin)-1] == '.' &&
		strings.HasSuffix(lname, z.origin)
}

// soaRR returns the SOA with serial, owned by owner.
func (z *zone) soaRR(owner string, serial uint32) *dns.SOA {
	soa := z.soa
	soa.Hdr.Name = owner
	soa.Serial = serial
	return &soa
}

// negSOA returns the SOA for the authority section of a negative answer,
// with the TTL RFC 2308 asks for: min(SOA TTL, MINIMUM).
func (z *zone) negSOA(serial uint32) *dns.SOA {
	soa := z.soaRR(z.origin, serial)
	soa.Hdr.Ttl = min(soa.Hdr.Ttl, soa.Minttl)
	return soa
}

// parent returns the parent of a FQDN ("a.b." -> "b.", "b." -> "."),
// minding escaped dots inside labels.
func parent(name string) string {
	off, end := dns.NextLabel(name, 0)
	if end || off >= len(name) {
		return "."
	}
	return name[off:]
}
