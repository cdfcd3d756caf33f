package dnsserver

import (
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// maxChase bounds how many in-zone CNAMEs one answer follows.
const maxChase = 8

// answer is the outcome of looking a question up in a view.
type answer struct {
	rcode  int
	auth   bool // AA: the answer comes from a zone the server is authoritative for
	answer []dns.RR
	ns     []dns.RR
	extra  []dns.RR
}

// lookup answers a QUERY for name (the query's spelling) and type qtype,
// class IN. Names outside the served zones are REFUSED.
func (v *view) lookup(name string, qtype uint16) answer {
	lname := strings.ToLower(name)
	z := v.zone(lname)
	if z == nil {
		return answer{rcode: dns.RcodeRefused}
	}
	a := answer{rcode: dns.RcodeSuccess, auth: true}
	var seen []string
	for {
		if !v.exists(z, lname) {
			a.rcode = dns.RcodeNameError
			a.ns = append(a.ns, z.negSOA(v.serial))
			return a
		}
		if qtype == dns.TypeANY {
			if cname := z.rrs[lname][dns.TypeCNAME]; len(cname) > 0 {
				a.answer = append(a.answer, withOwner(cname[0], name))
				return a
			}
			if !v.hasData(z, lname) {
				a.ns = append(a.ns, z.negSOA(v.serial))
				return a
			}
			// RFC 8482 4.2: one synthesized HINFO instead of every RRset.
			a.answer = append(a.answer, &dns.HINFO{
				Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: hinfoTTL},
				Cpu: "RFC8482",
			})
			return a
		}
		n := len(a.answer)
		a.answer = v.appendRRs(a.answer, z, name, lname, qtype)
		if len(a.answer) > n {
			if qtype == dns.TypeNS {
				a.extra = v.glue(a.extra, a.answer[n:])
			}
			return a
		}
		cname := z.rrs[lname][dns.TypeCNAME]
		if len(cname) == 0 || qtype == dns.TypeCNAME {
			a.ns = append(a.ns, z.negSOA(v.serial))
			return a
		}
		// RFC 1034 4.3.2: follow the alias while it stays in served data.
		a.answer = append(a.answer, withOwner(cname[0], name))
		seen = append(seen, lname)
		name = cname[0].(*dns.CNAME).Target
		lname = strings.ToLower(name)
		if z = v.zone(lname); z == nil || len(seen) >= maxChase || slices.Contains(seen, lname) {
			return a
		}
	}
}

// glue appends the addresses of in-zone name servers in nsSet to extra.
func (v *view) glue(extra, nsSet []dns.RR) []dns.RR {
	for _, rr := range nsSet {
		ns, ok := rr.(*dns.NS)
		if !ok {
			continue
		}
		target := strings.ToLower(ns.Ns)
		z := v.zone(target)
		if z == nil {
			continue
		}
		extra = append(extra, z.rrs[target][dns.TypeA]...)
		extra = append(extra, z.rrs[target][dns.TypeAAAA]...)
	}
	return extra
}
