package dnsserver

import (
	"time"

	"github.com/miekg/dns"
)

// view is what the server answers from. Queries load the current view
// with one atomic read; writers build a new view and swap it in (copy on
// write), so reads never wait. The challenge records are shared by every
// view in a sharded copy-on-write map, so a challenge write costs a copy
// of one shard, not of every record.
type view struct {
	zones  []*zone // most labels first, so the first match is the longest
	serial uint32
	txtTTL uint32
	// txt holds challenge TXT records by owner (lower case FQDN).
	txt *shardedMap[*txtSet]
	// ents counts, per name, the TXT owners strictly below it: a name with
	// a count is an empty non-terminal when it has no records itself.
	ents *shardedMap[int]
}

// txtSetAt returns the challenge records at lname, or nil.
func (v *view) txtSetAt(lname string) *txtSet {
	set, _ := v.txt.get(lname)
	return set
}

// txtSet is the prepared answer data of one challenge owner.
type txtSet struct {
	values []string   // distinct values, in the order they were put
	wire   [][]string // per value: its character-strings, escaped for miekg/dns
}

// zone returns the longest served zone holding lname, or nil.
func (v *view) zone(lname string) *zone {
	for _, z := range v.zones {
		if z.contains(lname) {
			return z
		}
	}
	return nil
}

// exists reports whether lname (inside z) exists: it has records or is an
// empty non-terminal.
func (v *view) exists(z *zone, lname string) bool {
	if lname == z.origin {
		return true
	}
	if _, ok := z.names[lname]; ok {
		return true
	}
	n, _ := v.ents.get(lname)
	return v.txtSetAt(lname) != nil || n > 0
}

// hasData reports whether lname (inside z) owns any record.
func (v *view) hasData(z *zone, lname string) bool {
	return lname == z.origin || len(z.rrs[lname]) > 0 || v.txtSetAt(lname) != nil
}

// appendRRs appends the records of type qtype at lname (inside z) to dst,
// owned by owner (the query's spelling of the name).
func (v *view) appendRRs(dst []dns.RR, z *zone, owner, lname string, qtype uint16) []dns.RR {
	if lname == z.origin {
		switch qtype {
		case dns.TypeSOA:
			dst = append(dst, z.soaRR(owner, v.serial))
		case dns.TypeNS:
			for _, rr := range z.ns {
				dst = append(dst, withOwner(rr, owner))
			}
		}
	}
	for _, rr := range z.rrs[lname][qtype] {
		dst = append(dst, withOwner(rr, owner))
	}
	if qtype == dns.TypeTXT {
		if set := v.txtSetAt(lname); set != nil {
			for _, w := range set.wire {
				dst = append(dst, &dns.TXT{
					Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: v.txtTTL},
					Txt: w,
				})
			}
		}
	}
	return dst
}

// withOwner returns rr, or a copy of it owned by owner when the spelling
// differs (the query's case is echoed).
func withOwner(rr dns.RR, owner string) dns.RR {
	if rr.Header().Name == owner {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Name = owner
	return c
}

// with returns a copy of v to change and swap in.
func (v *view) with() *view {
	n := *v
	return &n
}

// nextSerial returns a serial greater than old: the current Unix time when
// that is larger (so serials also grow across restarts), else old+1.
func nextSerial(old uint32, now time.Time) uint32 {
	t := uint32(now.Unix())
	if int32(t-old) > 0 { // RFC 1982 comparison: t is after old
		return t
	}
	return old + 1
}
