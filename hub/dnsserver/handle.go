package dnsserver

import (
	"net/netip"

	"github.com/miekg/dns"
)

const (
	headerSize = 12
	// ednsUDPSize is the UDP payload size the server advertises and the
	// most it sends over UDP: 1232 avoids IP fragmentation (DNS flag day
	// 2020).
	ednsUDPSize = 1232
	// maxTCPMsg is the largest DNS message over TCP (16-bit length).
	maxTCPMsg = dns.MaxMsgSize
)

// handle answers one query. req is the raw query from src over UDP or TCP;
// the reply is packed into buf when it fits (buf should hold maxTCPMsg
// bytes) and returned, or nil when nothing must be sent.
func (s *Server) handle(buf, req []byte, src netip.Addr, tcp bool) []byte {
	s.stats.queries.Add(1)
	if len(req) < headerSize || req[2]&0x80 != 0 {
		// No header to answer, or a response: answering either could
		// feed a loop or an amplification.
		s.stats.dropped.Add(1)
		return nil
	}
	slip := false
	if !tcp && s.limiter != nil && !s.limiter.allow(src, s.limiter.now()) {
		s.stats.rateLimited.Add(1)
		// Slip: every second limited query gets an empty truncated reply,
		// so a real client behind a spoofed flood retries over TCP.
		if s.slip.Add(1)%2 != 0 {
			return nil
		}
		slip = true
	}

	var q dns.Msg
	if err := q.Unpack(req); err != nil {
		return s.pack(buf, formErr(req), tcp, 0)
	}
	r := new(dns.Msg)
	r.Id = q.Id
	r.Response = true
	r.Opcode = q.Opcode
	r.RecursionDesired = q.RecursionDesired
	r.CheckingDisabled = q.CheckingDisabled
	if len(q.Question) == 1 {
		r.Question = q.Question
	}

	opt, ok := requestOPT(&q)
	if !ok {
		r.Rcode = dns.RcodeFormatError
		return s.pack(buf, r, tcp, 0)
	}
	udpSize := dns.MinMsgSize
	if opt != nil {
		ro := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		ro.SetUDPSize(ednsUDPSize)
		// RFC 3225 3: the DO bit is copied into the response.
		ro.SetDo(opt.Do())
		r.Extra = append(r.Extra, ro)
		udpSize = min(max(int(opt.UDPSize()), dns.MinMsgSize), ednsUDPSize)
		if opt.Version() != 0 {
			r.Rcode = dns.RcodeBadVers
			return s.pack(buf, r, tcp, udpSize)
		}
	}

	if q.Opcode == dns.OpcodeUpdate && s.update != nil && !slip {
		out := s.update(req, &q, src, tcp)
		if out == nil || (!tcp && len(out) > udpSize) {
			s.stats.dropped.Add(1)
			return nil
		}
		return out
	}
	switch {
	case q.Opcode != dns.OpcodeQuery:
		r.Rcode = dns.RcodeNotImplemented
	case len(q.Question) != 1:
		r.Rcode = dns.RcodeFormatError
	case slip:
		r.Truncated = true
	default:
		s.query(r, q.Question[0])
		if s.sign != nil && q.IsTsig() != nil {
			if out := s.sign(req, &q, r); out != nil && (tcp || len(out) <= udpSize) {
				s.stats.count(r.Rcode)
				return out
			}
			s.stats.dropped.Add(1)
			return nil
		}
	}
	return s.pack(buf, r, tcp, udpSize)
}

// query fills r with the answer to question.
func (s *Server) query(r *dns.Msg, question dns.Question) {
	s.stats.qtypes[qtypeIndex(question.Qtype)].Add(1)
	if question.Qclass != dns.ClassINET && question.Qclass != dns.ClassANY {
		// The server has IN data only; CHAOS (version.bind) and the rest
		// are for someone else.
		r.Rcode = dns.RcodeRefused
		return
	}
	switch question.Qtype {
	case dns.TypeAXFR, dns.TypeIXFR:
		// Zone transfers are not offered: the challenge data is transient.
		r.Rcode = dns.RcodeRefused
		return
	case dns.TypeMAILA, dns.TypeMAILB:
		r.Rcode = dns.RcodeNotImplemented
		return
	case dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY:
		// Meta types that only appear in the additional section.
		r.Rcode = dns.RcodeFormatError
		return
	}
	a := s.view.Load().lookup(question.Name, question.Qtype)
	if s.stale.Load() && (question.Qtype == dns.TypeTXT || question.Qtype == dns.TypeANY || len(a.answer) == 0) {
		r.Rcode = dns.RcodeServerFailure
		return
	}
	r.Rcode = a.rcode
	r.Authoritative = a.auth
	r.Answer = a.answer
	r.Ns = a.ns
	// The OPT record, if any, must stay last.
	r.Extra = append(a.extra, r.Extra...)
}

// requestOPT finds the query's OPT record. ok is false when the OPT is
// malformed: more than one, outside the additional section, or not owned
// by the root (RFC 6891 6.1.1).
func requestOPT(q *dns.Msg) (opt *dns.OPT, ok bool) {
	for _, rr := range q.Answer {
		if rr.Header().Rrtype == dns.TypeOPT {
			return nil, false
		}
	}
	for _, rr := range q.Ns {
		if rr.Header().Rrtype == dns.TypeOPT {
			return nil, false
		}
	}
	for _, rr := range q.Extra {
		o, isOPT := rr.(*dns.OPT)
		if !isOPT {
			continue
		}
		if opt != nil || o.Hdr.Name != "." {
			return nil, false
		}
		opt = o
	}
	return opt, true
}

// formErr builds a FORMERR for a query whose header parses but whose body
// does not: header fields only, no sections, since none can be trusted.
func formErr(req []byte) *dns.Msg {
	r := new(dns.Msg)
	r.Id = uint16(req[0])<<8 | uint16(req[1])
	r.Response = true
	r.Opcode = int(req[2]>>3) & 0xF
	r.RecursionDesired = req[2]&0x01 != 0
	r.Rcode = dns.RcodeFormatError
	return r
}

// pack encodes r into buf, truncating it (TC) to udpSize over UDP. A reply
// that cannot be packed becomes a SERVFAIL; if even that fails, nothing is
// sent.
func (s *Server) pack(buf []byte, r *dns.Msg, tcp bool, udpSize int) []byte {
	limit := maxTCPMsg
	if !tcp {
		limit = max(udpSize, dns.MinMsgSize)
	}
	r.Compress = true
	r.Truncate(limit)
	if r.Truncated {
		s.stats.truncated.Add(1)
	}
	out, err := r.PackBuffer(buf)
	if err != nil || len(out) > limit {
		// Debug: a query may be crafted to hit this, and logs must not flood.
		s.log.Debug("dns reply cannot be packed", "rcode", dns.RcodeToString[r.Rcode], "err", err)
		r.Answer, r.Ns, r.Extra = nil, nil, keepOPT(r.Extra)
		r.Rcode = dns.RcodeServerFailure
		r.Truncated = false
		if out, err = r.PackBuffer(buf); err != nil {
			s.stats.dropped.Add(1)
			return nil
		}
	}
	s.stats.count(r.Rcode)
	return out
}

func keepOPT(extra []dns.RR) []dns.RR {
	for _, rr := range extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			return []dns.RR{rr}
		}
	}
	return nil
}
