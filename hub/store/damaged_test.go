package store

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// TestListingsShowDamagedEntries: an undecodable or foreign-shaped entry,
// written past the store with a raw KV put, is listed as damaged with its
// key and the reason, and the good entries are still listed.
func TestListingsShowDamagedEntries(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	now := time.Now().UTC()
	must(t, s.PutAgent(ctx, hub.Agent{ID: "good", Allow: []string{"www.example.org"}, Created: now}))
	must(t, s.PutStatus(ctx, hub.AgentStatus{AgentID: "good", LastSeen: now}))
	must(t, s.PutCert(ctx, hub.CertRecord{AgentID: "good", CertName: "web", Names: []string{"www.example.org"}}))
	must(t, s.PutRequest(ctx, hub.RequestState{AgentID: "good", RequestID: "abcdefgh12", CertName: "web", State: "queued"}))
	must(t, s.PutDomain(ctx, hub.Domain{Name: "www.example.org", Mode: hub.ModeCNAME, Label: "x", Created: now}))
	must(t, s.PutChallenge(ctx, "good", hub.Challenge{FQDN: "x.acme.example.org", Value: "v", Created: now}))

	raw := func(kv jetstream.KeyValue, key, val string) {
		t.Helper()
		if _, err := kv.Put(ctx, key, []byte(val)); err != nil {
			t.Fatal(err)
		}
	}
	// Garbage, JSON of another shape, a value that belongs under another
	// key, and JSON null.
	raw(s.agents, "garbage", "\x00\xff{not json")
	raw(s.agents, "foreign", `{"hello":"world"}`)
	raw(s.agents, "moved", `{"id":"other","allow":[]}`)
	raw(s.agents, "nothing", `null`)
	raw(s.status, "wrongtype", `[1,2,3]`)
	raw(s.certs, "good.stolen", `{"agent_id":"evil","cert_name":"web"}`)
	raw(s.requests, "good.zzzzzzzzzz", `"a string"`)
	raw(s.domains, "bad.example.org", `{"name":"other.example.org","mode":"zone"}`)
	raw(s.challenges, "empty", `{}`)

	type listing struct {
		name string
		list func() (int, []hub.Damaged, error)
		bad  []string
	}
	n := func(k int, bad []hub.Damaged, err error) (int, []hub.Damaged, error) { return k, bad, err }
	for _, tt := range []listing{
		{"agents", func() (int, []hub.Damaged, error) { l, b, e := s.ListAgents(ctx); return n(len(l), b, e) }, []string{"foreign", "garbage", "moved", "nothing"}},
		{"status", func() (int, []hub.Damaged, error) { l, b, e := s.ListStatus(ctx); return n(len(l), b, e) }, []string{"wrongtype"}},
		{"certs", func() (int, []hub.Damaged, error) { l, b, e := s.ListCerts(ctx, ""); return n(len(l), b, e) }, []string{"good.stolen"}},
		{"requests", func() (int, []hub.Damaged, error) { l, b, e := s.ListRequests(ctx); return n(len(l), b, e) }, []string{"good.zzzzzzzzzz"}},
		{"domains", func() (int, []hub.Damaged, error) { l, b, e := s.ListDomains(ctx); return n(len(l), b, e) }, []string{"bad.example.org"}},
		{"challenges", func() (int, []hub.Damaged, error) { l, b, e := s.ListChallenges(ctx); return n(len(l), b, e) }, []string{"empty"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			good, bad, err := tt.list()
			if err != nil {
				t.Fatalf("listing failed: %v", err)
			}
			if good != 1 {
				t.Fatalf("%d good entries, want 1", good)
			}
			var keys []string
			for _, d := range bad {
				keys = append(keys, d.Key)
				if d.Error == "" || !strings.HasPrefix(d.Store, "certfleet_") {
					t.Errorf("damaged entry %+v lacks its store or reason", d)
				}
			}
			if strings.Join(keys, ",") != strings.Join(tt.bad, ",") {
				t.Fatalf("damaged keys = %v, want %v (%+v)", keys, tt.bad, bad)
			}
		})
	}
}

// TestReadAuditShowsDamagedEvents: a garbage or foreign event in the audit
// stream is reported by sequence and the readable events still come back.
func TestReadAuditShowsDamagedEvents(t *testing.T) {
	s, _, js := newStore(t)
	ctx := testCtx(t)
	must(t, s.Audit(ctx, AuditEvent{Kind: AuditRequested, Agent: "web1", Detail: "first"}))
	pub := func(b string) {
		t.Helper()
		if _, err := js.Publish(ctx, shared.SubjectAudit+"."+string(AuditRefused), []byte(b)); err != nil {
			t.Fatal(err)
		}
	}
	pub("\x1b[2J not json")                                                             // seq 2
	pub(`{"kind":"party","time":"2026-01-01T00:00:00Z"}`)                               // seq 3: unknown kind
	pub(`{"kind":"refused","agent":"web1"}`)                                            // seq 4: no time
	must(t, s.Audit(ctx, AuditEvent{Kind: AuditIssued, Agent: "web1", Detail: "last"})) // seq 5

	for _, f := range []AuditFilter{{}, {Agent: "web1"}, {Since: time.Now().Add(-time.Hour)}} {
		evs, bad, err := s.ReadAudit(ctx, f)
		if err != nil {
			t.Fatalf("%+v: %v", f, err)
		}
		if len(evs) != 2 || evs[0].Detail != "first" || evs[1].Detail != "last" {
			t.Fatalf("%+v: events = %+v", f, evs)
		}
		var keys []string
		for _, d := range bad {
			keys = append(keys, d.Key)
			if d.Store != shared.StreamAudit || d.Error == "" {
				t.Errorf("damaged %+v lacks store or reason", d)
			}
		}
		if strings.Join(keys, ",") != "2,3,4" {
			t.Fatalf("%+v: damaged = %+v", f, bad)
		}
	}
	// The limit bounds damaged entries too, newest kept.
	_, bad, err := s.ReadAudit(ctx, AuditFilter{Limit: 2})
	if err != nil || len(bad) != 1 || bad[0].Key != "4" {
		t.Fatalf("limited read: %+v, %v", bad, err)
	}
}
