package hub

import (
	"testing"
	"time"
)

func TestAgentStatusOnline(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		s    AgentStatus
		want bool
	}{
		{"just seen", AgentStatus{Connected: true, LastSeen: now.Add(-time.Minute)}, true},
		{"at the limit", AgentStatus{Connected: true, LastSeen: now.Add(-OfflineAfter)}, false},
		{"days ago", AgentStatus{Connected: true, LastSeen: now.Add(-72 * time.Hour)}, false},
		{"never seen", AgentStatus{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.Online(now); got != tc.want {
				t.Fatalf("Online = %v, want %v", got, tc.want)
			}
		})
	}
}
