package resolver

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/miekg/dns"
)

const (
	// maxCNAMEs bounds the CNAMEs in one answer; past it (a loop or an
	// absurd chain) the answer is SERVFAIL, as recursive resolvers do.
	maxCNAMEs = 8
	// udpSize is the EDNS payload size offered and the UDP reply limit.
	udpSize = 1232
)

func (r *Resolver) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.RecursionAvailable = true
	limit := dns.MinMsgSize
	if opt := req.IsEdns0(); opt != nil {
		m.SetEdns0(udpSize, opt.Do())
		limit = min(max(int(opt.UDPSize()), dns.MinMsgSize), udpSize)
	}
	switch {
	case req.Opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case len(req.Question) != 1:
		m.Rcode = dns.RcodeFormatError
	case req.Question[0].Qclass != dns.ClassINET:
		m.Rcode = dns.RcodeRefused
	default:
		q := req.Question[0]
		res := r.resolve(q.Name, q.Qtype)
		m.Rcode, m.Answer, m.Ns = res.rcode, res.answer, res.ns
		r.log.Debug("resolver query", "name", q.Name, "type", dns.TypeToString[q.Qtype],
			"rcode", dns.RcodeToString[m.Rcode], "answers", len(m.Answer), "err", res.err)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(limit)
	} else {
		m.Truncate(dns.MaxMsgSize)
	}
	if err := w.WriteMsg(m); err != nil {
		r.log.Debug("resolver write", "err", err)
	}
}

// result is the outcome of resolving one question.
type result struct {
	rcode  int
	answer []dns.RR
	ns     []dns.RR
	err    error // why a SERVFAIL happened
}

func servfail(err error) result { return result{rcode: dns.RcodeServerFailure, err: err} }

// resolve answers name/qtype the way a recursive resolver would: following
// CNAMEs across its own records and forwarded zones, returning the chain
// and the final records together.
func (r *Resolver) resolve(name string, qtype uint16) result {
	var answer []dns.RR
	for {
		if countCNAMEs(answer) > maxCNAMEs {
			return servfail(fmt.Errorf("more than %d CNAMEs from %s", maxCNAMEs, name))
		}
		lname := strings.ToLower(name)
		if addrs := r.forwardFor(lname); len(addrs) > 0 {
			resp, err := r.ask(addrs, name, qtype)
			if err != nil {
				return servfail(err)
			}
			chain, final, next := follow(resp.Answer, lname, qtype)
			answer = append(answer, chain...)
			answer = append(answer, final...)
			if len(final) > 0 || next == "" || resp.Rcode == dns.RcodeNameError {
				// Done, or a negative answer: its authority (SOA) goes along.
				return result{rcode: resp.Rcode, answer: answer, ns: resp.Ns}
			}
			name = next // the chain left the server's data: go on there
			continue
		}

		r.mu.RLock()
		rrs := r.records[lname]
		var match, cname []dns.RR
		for _, rr := range rrs {
			switch t := rr.Header().Rrtype; {
			case t == qtype || qtype == dns.TypeANY:
				match = append(match, renamed(rr, name))
			case t == dns.TypeCNAME:
				cname = append(cname, renamed(rr, name))
			}
		}
		exists := len(rrs) > 0 || r.hasBelow(lname)
		soa := r.soaFor(lname)
		r.mu.RUnlock()

		switch {
		case len(match) > 0:
			return result{rcode: dns.RcodeSuccess, answer: append(answer, match...)}
		case len(cname) > 0:
			answer = append(answer, cname[0])
			name = cname[0].(*dns.CNAME).Target
		case exists:
			return result{rcode: dns.RcodeSuccess, answer: answer, ns: soa}
		default:
			return result{rcode: dns.RcodeNameError, answer: answer, ns: soa}
		}
	}
}

// ask puts the question to the zone's servers addrs, starting with the
// next in turn, until one answers with NOERROR or NXDOMAIN.
func (r *Resolver) ask(addrs []string, name string, qtype uint16) (*dns.Msg, error) {
	first := int(r.next.Add(1))
	var errs []error
	for i := range addrs {
		addr := addrs[(first+i)%len(addrs)]
		resp, err := exchange(addr, name, qtype)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			errs = append(errs, fmt.Errorf("%s answered %s for %s", addr, dns.RcodeToString[resp.Rcode], name))
			continue
		}
		return resp, nil
	}
	return nil, errors.Join(errs...)
}

// forwardFor returns the forward servers of the closest forwarded zone
// holding lname, or none.
func (r *Resolver) forwardFor(lname string) []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for n := lname; ; {
		if addrs, ok := r.forward[n]; ok {
			return addrs
		}
		if n == "." {
			return nil
		}
		off, end := dns.NextLabel(n, 0)
		if end {
			n = "."
		} else {
			n = n[off:]
		}
	}
}

// hasBelow reports whether a held record is owned below lname, making it
// an empty non-terminal. r.mu must be held.
func (r *Resolver) hasBelow(lname string) bool {
	for owner := range r.records {
		if owner != lname && dns.IsSubDomain(lname, owner) {
			return true
		}
	}
	return false
}

// soaFor returns the held SOA of the closest zone holding lname, for the
// authority section of negative answers. r.mu must be held.
func (r *Resolver) soaFor(lname string) []dns.RR {
	var best dns.RR
	for owner, rrs := range r.records {
		if !dns.IsSubDomain(owner, lname) {
			continue
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == dns.TypeSOA && (best == nil || len(owner) > len(best.Header().Name)) {
				best = rr
			}
		}
	}
	if best == nil {
		return nil
	}
	return []dns.RR{best}
}

// follow walks a forwarded answer from lname: the CNAMEs it passes, the
// records of qtype at the end, and the name to go on with when the chain
// ends in a CNAME target the answer holds nothing for ("" otherwise).
func follow(answer []dns.RR, lname string, qtype uint16) (chain, final []dns.RR, next string) {
	cur := lname
	for range len(answer) + 1 {
		var cname *dns.CNAME
		for _, rr := range answer {
			h := rr.Header()
			if !strings.EqualFold(h.Name, cur) {
				continue
			}
			if h.Rrtype == qtype || (qtype == dns.TypeANY && h.Rrtype != dns.TypeCNAME) {
				final = append(final, rr)
			} else if c, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				cname = c
			}
		}
		if len(final) > 0 {
			return chain, final, ""
		}
		if cname == nil {
			return chain, nil, next // next is "" when there was no CNAME
		}
		chain = append(chain, cname)
		cur = strings.ToLower(cname.Target)
		next = cname.Target
	}
	return chain, nil, next
}

func countCNAMEs(rrs []dns.RR) int {
	n := 0
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeCNAME {
			n++
		}
	}
	return n
}

// renamed returns rr owned by name (the query's spelling) if that differs.
func renamed(rr dns.RR, name string) dns.RR {
	if rr.Header().Name == name {
		return rr
	}
	c := dns.Copy(rr)
	c.Header().Name = name
	return c
}

// exchange asks addr without recursion, over UDP and again over TCP when
// the reply is truncated.
func exchange(addr, name string, qtype uint16) (*dns.Msg, error) {
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = false
	q.SetEdns0(udpSize, false)
	c := &dns.Client{Net: "udp", Timeout: forwardTimeout, UDPSize: udpSize}
	resp, _, err := c.Exchange(q, addr)
	if err == nil && resp.Truncated {
		c.Net = "tcp"
		resp, _, err = c.Exchange(q, addr)
	}
	if err != nil {
		return nil, fmt.Errorf("ask %s for %s %s: %w", addr, name, dns.TypeToString[qtype], err)
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, name) || resp.Question[0].Qtype != qtype {
		return nil, fmt.Errorf("ask %s for %s: reply is for another question", addr, name)
	}
	return resp, nil
}
