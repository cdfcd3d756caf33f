package service

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/dnsserver"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/internal/natstest"
)

const (
	updZone   = "dyn.example.test."
	updName   = "_acme-challenge.www.dyn.example.test."
	updKey    = "upd-key."
	updSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA=="
)

// updateHub is a hub with a real store and DNS view (not listening),
// enough to run handleUpdate: a zone delegated to it and one TSIG key.
func updateHub(tb testing.TB) *Hub {
	tb.Helper()
	srv := natstest.JetStream(tb)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, js, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	d, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0", Domain: "acme.certfleet.test", NSName: "ns1.acme.certfleet.test"}, log)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := config.DefaultConfig()
	cfg.DNS.Domain = "acme.certfleet.test"
	h := &Hub{cfg: cfg, log: log, store: st, dns: d}
	if err := st.PutDomain(ctx, hub.Domain{Name: "dyn.example.test", Mode: hub.ModeZone, Created: time.Now()}); err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateTSIG(ctx, hub.TSIGKey{Name: "upd-key", Algorithm: "hmac-sha256", Secret: updSecret, Allow: []string{"www.dyn.example.test"}}); err != nil {
		tb.Fatal(err)
	}
	if err := h.loadDNS(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		for _, w := range h.watches {
			w.Stop()
		}
	})
	for !d.Serves(updZone) {
		time.Sleep(time.Millisecond)
	}
	return h
}

// signedUpdate packs an UPDATE of zone with rrs (Ns section), signed with
// secret ("" = unsigned).
func signedUpdate(tb testing.TB, zone, secret string, prereq []dns.RR, rrs ...dns.RR) ([]byte, *dns.Msg) {
	tb.Helper()
	m := new(dns.Msg)
	m.SetUpdate(zone)
	m.Answer = prereq
	m.Ns = rrs
	var raw []byte
	var err error
	if secret == "" {
		raw, err = m.Pack()
	} else {
		m.SetTsig(updKey, dns.HmacSHA256, 300, time.Now().Unix())
		raw, _, err = dns.TsigGenerate(m, secret, "", false)
	}
	if err != nil {
		tb.Fatal(err)
	}
	var q dns.Msg
	if err := q.Unpack(raw); err != nil {
		tb.Fatal(err)
	}
	return raw, &q
}

func txtRR(name string, class uint16, v ...string) dns.RR {
	return &dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: class, Ttl: 60}, Txt: v}
}

var loopback = netip.MustParseAddr("127.0.0.1")

func TestHandleUpdate(t *testing.T) {
	h := updateHub(t)
	otherSecret := "b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg=="
	cname := &dns.CNAME{Hdr: dns.RR_Header{Name: updName, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60}, Target: "x.example.test."}
	cases := []struct {
		name   string
		zone   string
		secret string
		prereq []dns.RR
		rrs    []dns.RR
		rcode  int
		signed bool
		after  []string
	}{
		{"add", updZone, updSecret, nil, []dns.RR{txtRR(updName, dns.ClassINET, "v1")}, dns.RcodeSuccess, true, []string{"v1"}},
		{"add second", updZone, updSecret, nil, []dns.RR{txtRR(updName, dns.ClassINET, "v2")}, dns.RcodeSuccess, true, []string{"v1", "v2"}},
		{"unsigned", updZone, "", nil, []dns.RR{txtRR(updName, dns.ClassINET, "bad")}, dns.RcodeRefused, false, []string{"v1", "v2"}},
		{"wrong secret", updZone, otherSecret, nil, []dns.RR{txtRR(updName, dns.ClassINET, "bad")}, dns.RcodeNotAuth, false, []string{"v1", "v2"}},
		{"name not allowed", updZone, updSecret, nil, []dns.RR{txtRR("_acme-challenge.mail.dyn.example.test.", dns.ClassINET, "bad")}, dns.RcodeRefused, true, []string{"v1", "v2"}},
		{"one bad record refuses all", updZone, updSecret, nil, []dns.RR{txtRR(updName, dns.ClassINET, "bad"), cname}, dns.RcodeRefused, true, []string{"v1", "v2"}},
		{"outside the zone", updZone, updSecret, nil, []dns.RR{txtRR("_acme-challenge.www.other.test.", dns.ClassINET, "bad")}, dns.RcodeNotZone, true, []string{"v1", "v2"}},
		{"zone not served", "other.test.", updSecret, nil, []dns.RR{txtRR("_acme-challenge.www.other.test.", dns.ClassINET, "bad")}, dns.RcodeNotAuth, true, []string{"v1", "v2"}},
		{"prerequisites", updZone, updSecret, []dns.RR{txtRR(updName, dns.ClassANY)}, []dns.RR{txtRR(updName, dns.ClassINET, "bad")}, dns.RcodeRefused, true, []string{"v1", "v2"}},
		{"delete one value", updZone, updSecret, nil, []dns.RR{txtRR(updName, dns.ClassNONE, "v1")}, dns.RcodeSuccess, true, []string{"v2"}},
		{"delete rrset", updZone, updSecret, nil, []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: updName, Rrtype: dns.TypeTXT, Class: dns.ClassANY}}}, dns.RcodeSuccess, true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, q := signedUpdate(t, c.zone, c.secret, c.prereq, c.rrs...)
			out := h.handleUpdate(raw, q, loopback, true)
			var r dns.Msg
			if err := r.Unpack(out); err != nil {
				t.Fatalf("reply: %v", err)
			}
			if r.Rcode != c.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[c.rcode])
			}
			switch {
			case c.signed && r.Rcode == dns.RcodeNotAuth:
				// miekg/dns's verifier refuses every NOTAUTH message (it
				// reads it as a TSIG error); nsupdate checks it (see the
				// integration test).
				if r.IsTsig() == nil {
					t.Fatal("reply not signed")
				}
			case c.signed:
				if err := dns.TsigVerify(out, updSecret, q.IsTsig().MAC, false); err != nil {
					t.Fatalf("reply signature: %v", err)
				}
			case r.IsTsig() != nil:
				t.Fatal("reply signed although the request was not verified")
			}
			got := h.dns.TXT(updName)
			if !slices.Equal(sorted(got), c.after) {
				t.Fatalf("served %v, want %v", got, c.after)
			}
		})
	}
}

func TestSignedQuery(t *testing.T) {
	h := updateHub(t)
	m := new(dns.Msg)
	m.SetQuestion(updZone, dns.TypeSOA)
	m.SetTsig(updKey, dns.HmacSHA256, 300, time.Now().Unix())
	raw, _, err := dns.TsigGenerate(m, updSecret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	var q dns.Msg
	if err := q.Unpack(raw); err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	r.SetReply(&q)
	out := h.signReply(raw, &q, r)
	if err := dns.TsigVerify(out, updSecret, q.IsTsig().MAC, false); err != nil {
		t.Fatalf("answer to a signed query is not signed: %v", err)
	}
}

// FuzzUpdate feeds arbitrary messages to the UPDATE handler: it never
// panics, its replies parse, and it reports success only for a message
// whose TSIG verifies with the key.
func FuzzUpdate(f *testing.F) {
	seed := func(secret string, rrs ...dns.RR) {
		raw, _ := signedUpdate(f, updZone, secret, nil, rrs...)
		f.Add(raw)
	}
	seed(updSecret, txtRR(updName, dns.ClassINET, "v1"))
	seed(updSecret, txtRR(updName, dns.ClassNONE, "v1"))
	seed(updSecret, &dns.ANY{Hdr: dns.RR_Header{Name: updName, Rrtype: dns.TypeTXT, Class: dns.ClassANY}})
	seed(updSecret, txtRR("_acme-challenge.mail.dyn.example.test.", dns.ClassINET, "x"))
	seed("", txtRR(updName, dns.ClassINET, "v1"))
	h := updateHub(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		var q dns.Msg
		if q.Unpack(raw) != nil || q.Opcode != dns.OpcodeUpdate {
			return
		}
		// TsigVerify rewrites the message's header in place: keep a copy
		// for the check below.
		orig := slices.Clone(raw)
		out := h.handleUpdate(raw, &q, loopback, true)
		if out == nil {
			return
		}
		var r dns.Msg
		if err := r.Unpack(out); err != nil {
			t.Fatalf("reply does not parse: %v", err)
		}
		if r.Rcode == dns.RcodeSuccess && dns.TsigVerify(orig, updSecret, "", false) != nil {
			t.Fatalf("update accepted without a valid signature: %v", &q)
		}
	})
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if len(s) == 0 {
		return nil
	}
	return s
}
