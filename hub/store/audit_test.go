package store

import (
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAudit(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)

	if evs, _, err := s.ReadAudit(ctx, AuditFilter{}); err != nil || len(evs) != 0 {
		t.Fatalf("ReadAudit on empty = %v, %v", evs, err)
	}
	early := []AuditEvent{
		{Kind: AuditEnrolled, Agent: "web1", Names: []string{"www.example.org"}},
		{Kind: AuditDomainAdded, Names: []string{"example.org"}, Detail: "cname"},
		{Kind: AuditRequested, Agent: "db", CertName: "pg", RequestID: "req-00000001"},
	}
	for _, ev := range early {
		must(t, s.Audit(ctx, ev))
	}
	mid := time.Now()
	late := []AuditEvent{
		{Kind: AuditIssued, Agent: "web1", CertName: "web", RequestID: "req-00000002"},
		{Kind: AuditFailed, Agent: "db", Detail: "ca_error: boom"},
		{Kind: AuditRevoked, Agent: "web1"},
	}
	for _, ev := range late {
		must(t, s.Audit(ctx, ev))
	}

	kinds := func(evs []AuditEvent) []AuditKind {
		var out []AuditKind
		for _, e := range evs {
			out = append(out, e.Kind)
		}
		return out
	}
	tests := []struct {
		name string
		f    AuditFilter
		want []AuditKind
	}{
		{"all", AuditFilter{}, []AuditKind{AuditEnrolled, AuditDomainAdded, AuditRequested, AuditIssued, AuditFailed, AuditRevoked}},
		{"by agent", AuditFilter{Agent: "web1"}, []AuditKind{AuditEnrolled, AuditIssued, AuditRevoked}},
		{"since", AuditFilter{Since: mid}, []AuditKind{AuditIssued, AuditFailed, AuditRevoked}},
		{"agent and since", AuditFilter{Agent: "db", Since: mid}, []AuditKind{AuditFailed}},
		{"limit keeps newest", AuditFilter{Limit: 2}, []AuditKind{AuditFailed, AuditRevoked}},
		{"agent with limit", AuditFilter{Agent: "web1", Limit: 2}, []AuditKind{AuditIssued, AuditRevoked}},
		{"since in the future", AuditFilter{Since: time.Now().Add(time.Hour)}, nil},
		{"unknown agent", AuditFilter{Agent: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, _, err := s.ReadAudit(ctx, tt.f)
			must(t, err)
			if got := kinds(evs); !slices.Equal(got, tt.want) {
				t.Fatalf("kinds = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("fields and time kept", func(t *testing.T) {
		evs, _, err := s.ReadAudit(ctx, AuditFilter{Agent: "web1", Since: mid, Limit: 1})
		must(t, err)
		if len(evs) != 1 || evs[0].Kind != AuditRevoked || evs[0].Time.Before(mid) {
			t.Fatalf("ReadAudit = %+v", evs)
		}
		evs, _, err = s.ReadAudit(ctx, AuditFilter{Agent: "web1", Limit: 2})
		must(t, err)
		if evs[0].CertName != "web" || evs[0].RequestID != "req-00000002" {
			t.Fatalf("fields lost: %+v", evs[0])
		}
	})

	t.Run("subject is certfleet.audit.<kind>", func(t *testing.T) {
		stream, err := s.js.Stream(ctx, "CERTFLEET_AUDIT")
		must(t, err)
		m, err := stream.GetLastMsgForSubject(ctx, "certfleet.audit.domain_added")
		must(t, err)
		if !strings.Contains(string(m.Data), `"example.org"`) {
			t.Fatalf("last domain_added = %s", m.Data)
		}
	})

	t.Run("unknown kind refused", func(t *testing.T) {
		if err := s.Audit(ctx, AuditEvent{Kind: "hacked.>"}); err == nil || !strings.Contains(err.Error(), "unknown kind") {
			t.Fatalf("Audit(bad kind) = %v", err)
		}
	})

	t.Run("long detail cut on a rune boundary", func(t *testing.T) {
		must(t, s.Audit(ctx, AuditEvent{Kind: AuditFailed, Agent: "long", Detail: strings.Repeat("é", 5000)}))
		evs, _, err := s.ReadAudit(ctx, AuditFilter{Agent: "long"})
		must(t, err)
		d := evs[0].Detail
		if len(d) > maxAuditDetail || !utf8.ValidString(d) || !strings.HasSuffix(d, "…") {
			t.Fatalf("detail of %d bytes, valid %v", len(d), utf8.ValidString(d))
		}
	})
}

func TestReadAuditScansPastOneBatch(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	const n = 700
	for i := range n {
		agent := "even"
		if i%2 == 1 {
			agent = "odd"
		}
		must(t, s.Audit(ctx, AuditEvent{Kind: AuditRequested, Agent: agent, Detail: string(rune('a' + i%26))}))
	}
	start := time.Now()
	evs, _, err := s.ReadAudit(ctx, AuditFilter{Agent: "odd", Limit: n})
	must(t, err)
	if len(evs) != n/2 {
		t.Fatalf("got %d odd events, want %d", len(evs), n/2)
	}
	// Reading what is there must not wait out a fetch expiry.
	if el := time.Since(start); el > time.Second {
		t.Fatalf("ReadAudit took %v", el)
	}
	evs, _, err = s.ReadAudit(ctx, AuditFilter{Agent: "even", Limit: 10})
	must(t, err)
	if len(evs) != 10 || evs[9].Detail != string(rune('a'+(n-2)%26)) {
		t.Fatalf("newest 10 even events wrong: %d, last %+v", len(evs), evs[len(evs)-1])
	}
}
