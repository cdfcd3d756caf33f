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
