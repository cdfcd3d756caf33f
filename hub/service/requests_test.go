package service

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	base := 30 * time.Second
	for attempt, want := range []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute} {
		for range 50 {
			got := backoff(base, attempt)
			if got < want || got > want+want/4 {
				t.Fatalf("backoff(%v, %d) = %v, want in [%v, %v]", base, attempt, got, want, want+want/4)
			}
		}
	}
	if got := backoff(base, 40); got < 4*time.Hour || got > 5*time.Hour {
		t.Fatalf("backoff is not capped: %v", got)
	}
	if got := backoff(base, -1); got < base {
		t.Fatalf("negative attempt: %v", got)
	}
}

func TestSameSerial(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"033ed9cf222b9114", "33ed9cf222b9114", true},
		{"0a", "A", true},
		{"0a", "0b", false},
		{"", "", false},
		{"zz", "zz", false},
	} {
		if got := sameSerial(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSerial(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
