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
