package service

import (
	"testing"
	"time"
)

func TestReconnectSpread(t *testing.T) {
	for _, tc := range []struct {
		name   string
		agents int
		want   time.Duration
	}{
		{"empty fleet", 0, 0},
		{"small fleet: own back-off", reconnectRate, 0},
		{"1,000 agents", 1000, 2 * time.Second},
		{"10,000 agents", 10000, 20 * time.Second},
		{"huge fleet: capped", 10_000_000, maxReconnectSpread},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reconnectSpread(tc.agents); got != tc.want {
				t.Fatalf("reconnectSpread(%d) = %s, want %s", tc.agents, got, tc.want)
			}
		})
	}
}
