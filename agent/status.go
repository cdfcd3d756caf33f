package agent

import (
	"time"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/shared"
)

// CertStatuses describes every configured block from the state at now:
// what the agent reports to the hub and what `certfleet-agent status`
// shows.
func CertStatuses(cfg config.Config, st *state.State, now time.Time) []shared.CertStatus {
	out := make([]shared.CertStatus, 0, len(cfg.Certificates))
	for _, b := range cfg.Certificates {
		cs := shared.CertStatus{Name: b.Name, Names: b.Names}
		if c := st.Certificates[b.Name]; c != nil {
			cs.Serial = c.Serial
			cs.NotBefore = c.NotBefore
			cs.NotAfter = c.NotAfter
			cs.RenewAt = renewTime(b, c)
			cs.LastAttempt = c.LastAttempt
			cs.LastResult = c.LastResult
			cs.LastError = c.LastError
			cs.LastErrorCode = shared.Code(c.LastErrorCode)
			cs.Attempts = c.Failures
			cs.Blocked = c.Blocked
			cs.NextAttempt = nextAttempt(c, now)
			cs.Installed = c.Installed
			cs.Reload = c.LastReload
			if c.Pending != nil {
				cs.Pending = c.Pending.RequestID
			}
		}
		out = append(out, cs)
	}
	return out
}

// nextAttempt is when the agent tries again after a failure: the pending
// request's next publish or install, or the next new request. It is zero
// when nothing failed, when a permanent error blocks retries, and once
// the time has passed (the retry is then under way or was not needed).
func nextAttempt(c *state.Cert, now time.Time) time.Time {
	if c.Blocked {
		return time.Time{}
	}
	var t time.Time
	switch {
	case c.Pending != nil && c.Pending.Tries > 0:
		t = c.Pending.NextTry
	case c.Pending == nil && c.LastResult == state.ResultFailed:
		t = c.RetryAt
	}
	if !t.After(now) {
		return time.Time{}
	}
	return t
}
