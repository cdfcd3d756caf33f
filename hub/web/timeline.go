package web

import (
	"strconv"
	"time"
)

// timeline is an expiry chart, drawn as SVG on the server: certificates
// already expired, then one bar per week for the next 13 weeks.
type timeline struct {
	Width, Height int
	Bars          []bar
	Max           int
}

type bar struct {
	X, Y, W, H   int
	LabelX       int
	Label, Title string
	Count        int
	Class        string
}

const (
	timelineWeeks  = 13
	timelineHeight = 120 // drawing area; labels go below
	barWidth       = 44
	barGap         = 8
)

func expiryTimeline(rows []certRow, now time.Time) timeline {
	counts := make([]int, timelineWeeks+1) // [0] = expired
	for _, r := range rows {
		if r.NotAfter.IsZero() {
			continue
		}
		left := r.NotAfter.Sub(now)
		switch {
		case left < 0:
			counts[0]++
		case left < timelineWeeks*7*24*time.Hour:
			counts[1+int(left/(7*24*time.Hour))]++
		}
	}
	t := timeline{Height: timelineHeight + 34, Width: (timelineWeeks+1)*(barWidth+barGap) + barGap}
	for _, n := range counts {
		t.Max = max(t.Max, n)
	}
	for i, n := range counts {
		b := bar{X: barGap + i*(barWidth+barGap), W: barWidth, Count: n}
		b.LabelX = b.X + barWidth/2
		if t.Max > 0 {
			b.H = n * (timelineHeight - 16) / t.Max
		}
		if n > 0 && b.H < 2 {
			b.H = 2
		}
		b.Y = timelineHeight - b.H
		switch {
		case i == 0:
			b.Label, b.Class, b.Title = "expired", "bad", strconv.Itoa(n)+" expired"
		default:
			from := now.Add(time.Duration(i-1) * 7 * 24 * time.Hour)
			b.Label = from.Format("Jan 2")
			b.Title = strconv.Itoa(n) + " expiring in the week from " + from.Format("2006-01-02")
			switch {
			case i <= 1:
				b.Class = "bad"
			case i <= 4:
				b.Class = "warn"
			default:
				b.Class = "ok"
			}
		}
		t.Bars = append(t.Bars, b)
	}
	return t
}
