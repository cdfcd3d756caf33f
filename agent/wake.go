package agent

import "time"

// minWake is the shortest wait for a due time: a state the checks cannot
// move along (which would be a bug) then costs a few checks a second, not
// a spinning loop.
const minWake = 50 * time.Millisecond

// nextDue returns the earliest time a block needs the loop: a pending
// request's next publish or fetch (only while connected: a reconnect moves
// those along anyway), a retry after a failure, or a renewal. ok is false
// when nothing is scheduled.
func (a *Agent) nextDue() (time.Time, bool) {
	connected := a.hub != nil && a.hub.Connected()
	var next time.Time
	found := false
	consider := func(t time.Time) {
		if !found || t.Before(next) {
			next, found = t, true
		}
	}
	for _, b := range a.cfg.Certificates {
		if a.only != nil && !a.only[b.Name] {
			continue
		}
		c := a.st.Certificates[b.Name]
		if c == nil {
			continue
		}
		if p := c.Pending; p != nil {
			if connected {
				consider(p.NextTry)
			}
			continue
		}
		if c.Blocked {
			continue
		}
		due := renewTime(b, c)
		if c.RetryAt.After(due) {
			due = c.RetryAt
		}
		if !due.IsZero() {
			consider(due)
		}
	}
	if (!a.greeted || a.statusDirty) && connected && !a.talkAt.IsZero() {
		consider(a.talkAt)
	}
	return next, found
}

// armWake sets t to fire at the next due time, so renewals and retries
// happen when due rather than at the next poll.
func (a *Agent) armWake(t *time.Timer) {
	t.Stop()
	due, ok := a.nextDue()
	if !ok {
		return
	}
	t.Reset(max(due.Sub(a.opts.Now()), minWake))
}
