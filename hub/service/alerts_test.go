package service

import (
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/shared"
)

func TestAlerts(t *testing.T) {
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	cfg := config.DefaultConfig()
	h := &Hub{cfg: cfg}
	day := 24 * time.Hour
	cert := func(name string, issued time.Time, life time.Duration) shared.CertStatus {
		return shared.CertStatus{Name: name, NotBefore: issued, NotAfter: issued.Add(life)}
	}
	tests := []struct {
		name     string
		agents   []hub.Agent
		status   []hub.AgentStatus
		requests []hub.RequestState
		want     []string // kind/agent/cert
	}{
		{"healthy fleet", []hub.Agent{{ID: "a", Created: now.Add(-day)}},
			[]hub.AgentStatus{{AgentID: "a", LastSeen: now.Add(-time.Minute),
				Report: shared.StatusReport{Certificates: []shared.CertStatus{cert("web", now.Add(-10*day), 90*day)}}}},
			nil, nil},
		{"expiring", []hub.Agent{{ID: "a", Created: now.Add(-100 * day)}},
			[]hub.AgentStatus{{AgentID: "a", LastSeen: now,
				Report: shared.StatusReport{Certificates: []shared.CertStatus{cert("web", now.Add(-80*day), 90*day)}}}},
			nil, []string{"expiring/a/web"}},
		{"expired", []hub.Agent{{ID: "a", Created: now.Add(-100 * day)}},
			[]hub.AgentStatus{{AgentID: "a", LastSeen: now,
				Report: shared.StatusReport{Certificates: []shared.CertStatus{cert("web", now.Add(-91*day), 90*day)}}}},
			nil, []string{"expiring/a/web"}},
		{"silent and never seen", []hub.Agent{{ID: "a", Created: now.Add(-day)}, {ID: "b", Created: now.Add(-day)}, {ID: "c", Created: now.Add(-time.Minute)}},
			[]hub.AgentStatus{{AgentID: "a", LastSeen: now.Add(-3 * time.Hour)}},
			nil, []string{"silent/a/", "never_seen/b/"}},
		{"failing only while the latest request fails", []hub.Agent{{ID: "a", Created: now.Add(-day)}},
			[]hub.AgentStatus{{AgentID: "a", LastSeen: now}},
			[]hub.RequestState{
				{AgentID: "a", CertName: "web", RequestID: "r1", State: "failed", Updated: now.Add(-2 * time.Hour)},
				{AgentID: "a", CertName: "web", RequestID: "r2", State: "issued", Updated: now.Add(-time.Hour)},
				{AgentID: "a", CertName: "api", RequestID: "r3", State: "retrying", Attempts: 2, Updated: now},
			}, []string{"failing/a/api"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fleet.New()
			for _, a := range tt.agents {
				s.PutAgent(a)
			}
			for _, st := range tt.status {
				s.PutStatus(st)
			}
			for _, q := range tt.requests {
				s.PutRequest(q)
			}
			got := map[string]bool{}
			for _, a := range s.All() {
				for _, al := range h.agentAlerts(a, now) {
					got[al.Kind+"/"+al.Agent+"/"+al.CertName] = true
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("alerts = %v, want %v", got, tt.want)
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Fatalf("alerts = %v, want %v", got, tt.want)
				}
			}
		})
	}
}
