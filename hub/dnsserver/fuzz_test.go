package dnsserver

import (
	"encoding/binary"
	"testing"

	"github.com/miekg/dns"
)

// FuzzHandler feeds arbitrary bytes to the handler the network uses. It
// must not panic, must answer every packet that has a query header, and
// every reply must be a well-formed response to that query that fits the
// transport.
func FuzzHandler(f *testing.F) {
	for _, tc := range queryCases() {
		b, err := tc.msg().Pack()
		if err != nil {
			f.Fatalf("%s: pack: %v", tc.name, err)
		}
		f.Add(b, false)
		f.Add(b, true)
	}
	big := question("_acme-challenge.big.acme.test.", dns.TypeTXT)
	f.Add(mustPack(f, big), false)
	f.Add([]byte{}, false)
	f.Add([]byte{0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF}, false)
	f.Add([]byte{0, 1, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0}, true)

	s := newServer(f, testConfig())
	populate(s)
	for i := range 40 {
		s.PutTXT("_acme-challenge.big.acme.test.", string(rune('a'+i%26))+string(rune('a'+i/26)), string(make([]byte, 43)))
	}
	f.Fuzz(func(t *testing.T, req []byte, tcp bool) {
		bp := bufPool.Get().(*[]byte)
		defer bufPool.Put(bp)
		out := s.handle((*bp)[2:], req, loopback, tcp)
		if out == nil {
			if len(req) >= headerSize && req[2]&0x80 == 0 {
				t.Fatalf("no reply to a query header %x", req[:headerSize])
			}
			return
		}
		var r dns.Msg
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply does not parse: %v\n%x", err, out)
		}
		if !r.Response || r.RecursionAvailable || r.Id != binary.BigEndian.Uint16(req) || r.Opcode != int(req[2]>>3)&0xF {
			t.Fatalf("bad reply header: %v", &r.MsgHdr)
		}
		limit := maxTCPMsg
		var q dns.Msg
		qErr := q.Unpack(req)
		if !tcp {
			limit = dns.MinMsgSize
			if qErr == nil && q.IsEdns0() != nil {
				limit = ednsUDPSize
			}
		}
		if len(out) > limit {
			t.Fatalf("reply of %d bytes, limit %d", len(out), limit)
		}
		if qErr == nil && len(r.Question) > 0 && (len(q.Question) != 1 || r.Question[0] != q.Question[0]) {
			t.Fatalf("reply question %v for query question %v", r.Question, q.Question)
		}
		if r.Authoritative && r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			t.Fatalf("AA on a %s", dns.RcodeToString[r.Rcode])
		}
	})
}

// FuzzRecord feeds arbitrary text to the static-record parser: no panic,
// and what it accepts is IN data inside the zone that the server may hold.
func FuzzRecord(f *testing.F) {
	for _, r := range testConfig().Records {
		f.Add(r)
	}
	for _, r := range []string{"@ SOA ns1 host 1 2 3 4 5", "sub NS ns.example.com.", "*.x A 192.0.2.1",
		"www CH TXT x", "@ CNAME www", "www A 192.0.2.1\nftp A 192.0.2.2", "$ORIGIN example.com.\nwww A 192.0.2.1",
		"$INCLUDE /etc/passwd", `txt TXT "a\"b" "c\\d"`} {
		f.Add(r)
	}
	const origin = "acme.test."
	f.Fuzz(func(t *testing.T, text string) {
		rr, err := parseRecord(text, origin)
		if err != nil {
			return
		}
		h := rr.Header()
		if h.Class != dns.ClassINET || !dns.IsSubDomain(origin, h.Name) || h.Rrtype == dns.TypeSOA ||
			(h.Rrtype == dns.TypeNS && h.Name != origin) {
			t.Fatalf("accepted %q as %v", text, rr)
		}
		newZone(origin, "ns1.acme.test.", "hostmaster.acme.test.", 1, []dns.RR{rr})
	})
}
