package pace

import (
	"fmt"
	"time"
)

// Rate is a budget of Limit spends per Period, refilled evenly: a token
// bucket of Limit tokens that regains one every Period/Limit, the way
// Let's Encrypt counts ("300 per 3 hours, one back every 36 seconds").
type Rate struct {
	Limit  int
	Period time.Duration
}

// Off reports whether the rate limits nothing.
func (r Rate) Off() bool { return r.Limit <= 0 || r.Period <= 0 }

// Interval is the time one token takes to come back.
func (r Rate) Interval() time.Duration { return r.Period / time.Duration(r.Limit) }

func (r Rate) String() string {
	if r.Off() {
		return "unlimited"
	}
	return fmt.Sprintf("%d per %v", r.Limit, r.Period)
}

// take is GCRA: tat (theoretical arrival time) is when the bucket would be
// full again were nothing spent from now on (zero or past: full). A spend
// may take the bucket down to 1-share of its size: with share 1 every
// token, with 0.8 all but a fifth. It returns the new tat, or when the
// spend would fit.
func take(tat, now time.Time, r Rate, share float64) (next time.Time, ok bool, retryAt time.Time) {
	if tat.Before(now) {
		tat = now
	}
	next = tat.Add(r.Interval())
	allowed := time.Duration(float64(r.Period) * share)
	if next.Sub(now) <= allowed {
		return next, true, time.Time{}
	}
	return tat, false, next.Add(-allowed)
}

// refund gives one token back to a bucket at tat.
func refund(tat, now time.Time, r Rate) time.Time {
	tat = tat.Add(-r.Interval())
	if tat.Before(now) {
		return now
	}
	return tat
}

// left is how many spends with share fit into a bucket at tat now.
func left(tat, now time.Time, r Rate, share float64) int {
	if tat.Before(now) {
		tat = now
	}
	room := time.Duration(float64(r.Period)*share) - tat.Sub(now)
	if room < r.Interval() {
		return 0
	}
	return int(room / r.Interval())
}
