package delegation

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// fakeResolver serves fixed records on loopback like a recursive resolver.
func fakeResolver(tb testing.TB, records ...string) string {
	tb.Helper()
	var rrs []dns.RR
	for _, s := range records {
		rr, err := dns.NewRR(s)
		if err != nil {
			tb.Fatalf("bad record %q: %v", s, err)
		}
		rrs = append(rrs, rr)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.RecursionAvailable = true
		q := r.Question[0]
		exists := false
		for _, rr := range rrs {
			if strings.EqualFold(rr.Header().Name, q.Name) {
				exists = true
				if rr.Header().Rrtype == q.Qtype {
					m.Answer = append(m.Answer, rr)
				}
			}
		}
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestCheckCNAME(t *testing.T) {
	addr := fakeResolver(t,
		"_acme-challenge.www.example.org. 60 IN CNAME abc.acme.example.net.",
		"_acme-challenge.old.example.org. 60 IN CNAME other.acme.example.net.",
		"_acme-challenge.txt.example.org. 60 IN TXT \"manual\"",
	)
	c := &Checker{Resolvers: []string{addr}}
	tests := []struct {
		name, owner, target string
		ok                  bool
		fix                 string
	}{
		{"in place", "_acme-challenge.www.example.org", "abc.acme.example.net", true, ""},
		{"case insensitive", "_acme-challenge.WWW.example.org.", "ABC.acme.example.net.", true, ""},
		{"missing", "_acme-challenge.new.example.org", "def.acme.example.net", false, "create the record: _acme-challenge.new.example.org. CNAME def.acme.example.net."},
		{"wrong target", "_acme-challenge.old.example.org", "xyz.acme.example.net", false, "change the record to: _acme-challenge.old.example.org. CNAME xyz.acme.example.net."},
		{"txt instead", "_acme-challenge.txt.example.org", "t.acme.example.net", false, "remove any other records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := c.CheckCNAME(context.Background(), tt.owner, tt.target)
			if f.OK != tt.ok {
				t.Fatalf("OK = %v, want %v (%+v)", f.OK, tt.ok, f)
			}
			if !strings.Contains(f.Fix, tt.fix) {
				t.Fatalf("Fix = %q, want it to contain %q", f.Fix, tt.fix)
			}
		})
	}
}

func TestCheckZone(t *testing.T) {
	addr := fakeResolver(t,
		"corp.example.org. 60 IN NS ns1.acme.example.net.",
		"other.example.org. 60 IN NS ns.elsewhere.example.",
	)
	c := &Checker{Resolvers: []string{addr}}
	if f := c.CheckZone(context.Background(), "corp.example.org", "ns1.acme.example.net"); !f.OK {
		t.Fatalf("delegated zone not OK: %+v", f)
	}
	f := c.CheckZone(context.Background(), "other.example.org", "ns1.acme.example.net")
	if f.OK || !strings.Contains(f.Fix, "other.example.org. NS ns1.acme.example.net.") {
		t.Fatalf("wrong delegation: %+v", f)
	}
	f = c.CheckZone(context.Background(), "none.example.org", "ns1.acme.example.net")
	if f.OK || !strings.Contains(f.Fix, "create the delegation") {
		t.Fatalf("missing delegation: %+v", f)
	}
}

func TestUnreachable(t *testing.T) {
	// A loopback port nobody serves: the query fails fast.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	c := &Checker{Resolvers: []string{addr}, Timeout: 200e6}
	f := c.CheckCNAME(context.Background(), "_acme-challenge.www.example.org", "x.acme.example.net")
	if f.OK || !f.Unreachable {
		t.Fatalf("want unreachable: %+v", f)
	}
	if (&Checker{}).CheckZone(context.Background(), "a.example", "ns.example").Unreachable != true {
		t.Fatal("no resolvers must be unreachable")
	}
}
