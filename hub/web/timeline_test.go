package web

import (
	"testing"
	"time"
)

func TestExpiryTimeline(t *testing.T) {
	now := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	rows := []certRow{
		{NotAfter: now.Add(-day)},      // expired
		{NotAfter: now.Add(2 * day)},   // week 1
		{NotAfter: now.Add(6 * day)},   // week 1
		{NotAfter: now.Add(8 * day)},   // week 2
		{NotAfter: now.Add(89 * day)},  // week 13
		{NotAfter: now.Add(200 * day)}, // beyond the chart
		{},                             // no certificate yet
	}
	tl := expiryTimeline(rows, now)
	want := map[int]int{0: 1, 1: 2, 2: 1, 13: 1}
	if len(tl.Bars) != timelineWeeks+1 || tl.Max != 2 {
		t.Fatalf("%d bars, max %d", len(tl.Bars), tl.Max)
	}
	for i, b := range tl.Bars {
		if b.Count != want[i] {
			t.Errorf("bar %d (%s): %d, want %d", i, b.Label, b.Count, want[i])
		}
		if b.Y+b.H != timelineHeight || (b.Count > 0) != (b.H > 0) {
			t.Errorf("bar %d drawn at y %d height %d", i, b.Y, b.H)
		}
	}
	if tl.Bars[1].H <= tl.Bars[2].H {
		t.Error("the taller count is not drawn taller")
	}
}
