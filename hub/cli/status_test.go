package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/shared"
)

// TestStatusOnlineOffline: an agent silent for longer than
// hub.OfflineAfter shows as offline with the time it was last seen, and
// each agent's path to the hub is shown.
func TestStatusOnlineOffline(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	seen := now.Add(-50 * time.Hour)
	rep := admin.StatusReply{
		Now:    now,
		Agents: []hub.Agent{{ID: "away"}, {ID: "here"}},
		Status: []hub.AgentStatus{
			{AgentID: "away", Connected: true, LastSeen: seen},
			{AgentID: "here", Connected: true, LastSeen: now.Add(-time.Minute),
				Report: shared.StatusReport{Transport: "wss://hub.example.org:443 via proxy http://proxy:3128"}},
		},
	}
	var out bytes.Buffer
	if err := printStatus(&globals{out: &out, errOut: &out}, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"away   offline since " + fmtTime(seen) + " (50h0m0s ago)",
		"here   online via wss://hub.example.org:443 via proxy http://proxy:3128",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestPrintUnmanaged: status counts unmanaged certificates in one line,
// and with --unmanaged lists them per agent, escaping what agents sent.
func TestPrintUnmanaged(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	rep := admin.StatusReply{
		Now:             now,
		UnmanagedCounts: map[string]int{"web1": 3},
		Status: []hub.AgentStatus{{AgentID: "web1", Report: shared.StatusReport{UnmanagedOmitted: 1, Unmanaged: []shared.UnmanagedCert{
			{Path: "/etc/ssl/old.pem", Duplicates: 1, Subject: "CN=old\x1b[2J", Issuer: "CN=Legacy CA", SANs: []string{"old.example.org"}, SANsOmitted: 4,
				NotAfter: now.Add(72 * time.Hour), SHA256: strings.Repeat("ab", 32)},
			{Path: "/etc/ssl/other.pem", Subject: "CN=other", NotAfter: now.Add(30 * 24 * time.Hour)},
		}}}},
	}
	cases := []struct {
		name     string
		list     bool
		want     []string
		dontWant []string
	}{
		{"counted", false, []string{"3 unmanaged certificate(s) on 1 agent(s): certfleet-hub status --unmanaged lists them"}, []string{"/etc/ssl/old.pem"}},
		{"listed", true, []string{
			"Unmanaged certificates (3,", "/etc/ssl/old.pem (+1 copies)", `"CN=old\x1b[2J"`, "old.example.org (+4)", "CN=Legacy CA",
			fmtTime(now.Add(72*time.Hour)) + " (3d)", "abababababababab…", "/etc/ssl/other.pem", "(1 more, expiring later, not sent by the agent)",
		}, []string{"\x1b"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := printUnmanaged(&globals{out: &out, errOut: &out}, rep, tc.list); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.dontWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestStatusWaiting: a request waiting for a CA budget shows why and when
// it is tried next, not its last error.
func TestStatusWaiting(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	next := now.Add(36 * time.Second)
	rep := admin.StatusReply{
		Now:    now,
		Agents: []hub.Agent{{ID: "web1"}, {ID: "web2"}},
		Certs:  []hub.CertRecord{{AgentID: "web1", CertName: "www"}, {AgentID: "web2", CertName: "www"}},
		Requests: []hub.RequestState{
			{AgentID: "web1", CertName: "www", State: "waiting", Attempts: 0, NextTry: next, Updated: now,
				WaitReason: "the budget of CA letsencrypt's new orders (300 per 3h) is used up", LastError: "old"},
			{AgentID: "web2", CertName: "www", State: "retrying", Attempts: 2, NextTry: next, Updated: now,
				WaitReason: "CA letsencrypt rate-limited the order", LastError: "rate_limited: too many new orders"},
		},
	}
	var out bytes.Buffer
	if err := printStatus(&globals{out: &out, errOut: &out}, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"hub: waiting (next " + fmtTime(next) + "): the budget of CA letsencrypt's new orders (300 per 3h) is used up",
		"hub: retrying (attempt 2, next " + fmtTime(next) + "): rate_limited: too many new orders",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestStatusSeveralHubs: with several hubs, each request in flight names
// the hub driving it, and the hubs are listed with the one doing the
// housekeeping; a lone hub adds no such line.
func TestStatusSeveralHubs(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	base := admin.StatusReply{
		Now:      now,
		Agents:   []hub.Agent{{ID: "web1"}},
		Status:   []hub.AgentStatus{{AgentID: "web1", Connected: true, LastSeen: now, Report: shared.StatusReport{Certificates: []shared.CertStatus{{Name: "web"}}}}},
		Requests: []hub.RequestState{{AgentID: "web1", RequestID: "r1", CertName: "web", State: "ordering", Hub: "hub-b-1234", Attempts: 1, Updated: now}},
	}
	cases := []struct {
		name    string
		hubs    []admin.HubInfo
		want    []string
		notWant []string
	}{
		{"two hubs", []admin.HubInfo{{ID: "hub-b-1234"}, {ID: "hub-a-5678", Housekeeping: true}},
			[]string{"hub: ordering on hub-b-1234", "hubs: hub-a-5678 (housekeeping), hub-b-1234"}, nil},
		{"one hub", []admin.HubInfo{{ID: "hub-b-1234", Housekeeping: true}},
			[]string{"hub: ordering on hub-b-1234"}, []string{"hubs:"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := base
			rep.Hubs = tc.hubs
			var out bytes.Buffer
			if err := printStatus(&globals{out: &out, errOut: &out}, rep); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output has %q:\n%s", w, out.String())
				}
			}
		})
	}
}
