package alarm

import (
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/shared"
)

// Condition kinds.
const (
	KindExpiring      = "expiring"       // a certificate expires within the channel's expiring_within
	KindRenewalFailed = "renewal_failed" // renewal failed failed_attempts times in a row
	KindOffline       = "offline"        // an agent not heard from for offline_for
	KindReloadFailed  = "reload_failed"  // installed but the service reload failed (rolled back)
	// KindUnmanagedExpiring: a certificate an agent found in its
	// [inventory] paths, which certfleet does not renew, expires within
	// the channel's expiring_within. Its Cert is the file's path.
	KindUnmanagedExpiring = "unmanaged_expiring"
)

// reloadFailedCode is the agent's error code for a failed reload
// (agent/check.go).
const reloadFailedCode = "reload_failed"

// Condition is one thing wrong in the fleet.
type Condition struct {
	Kind    string    `json:"kind"`
	Agent   string    `json:"agent"`
	Cert    string    `json:"cert,omitempty"`
	Message string    `json:"message"`
	Since   time.Time `json:"since,omitzero"`
}

// Key identifies the condition across evaluations: the same kind on the
// same agent and certificate is the same alarm, whatever its message says.
func (c Condition) Key() string { return c.Kind + "/" + c.Agent + "/" + c.Cert }

// Evaluate returns the conditions that hold in r under ch's thresholds.
func Evaluate(ch config.AlarmConfig, r admin.StatusReply) []Condition {
	status := map[string]*hub.AgentStatus{}
	for i := range r.Status {
		status[r.Status[i].AgentID] = &r.Status[i]
	}
	var out []Condition
	for _, a := range r.Agents {
		out = append(out, EvaluateAgent(ch, r.Now, a, status[a.ID])...)
	}
	return out
}

// EvaluateAgent returns the conditions that hold at now for agent a, whose
// latest status is st (nil when it was never heard from), under ch's
// thresholds.
func EvaluateAgent(ch config.AlarmConfig, now time.Time, a hub.Agent, st *hub.AgentStatus) []Condition {
	var out []Condition
	offline := ch.OfflineFor.D()
	if st == nil {
		if offline > 0 && now.Sub(a.Created) > offline {
			out = append(out, Condition{Kind: KindOffline, Agent: a.ID, Since: a.Created,
				Message: fmt.Sprintf("agent %s registered %s but never connected", a.ID, a.Created.Format(time.RFC3339))})
		}
		return out
	}
	s := *st
	if offline > 0 && now.Sub(s.LastSeen) > offline {
		out = append(out, Condition{Kind: KindOffline, Agent: s.AgentID, Since: s.LastSeen,
			Message: fmt.Sprintf("agent %s not heard from since %s (%s ago)", s.AgentID, s.LastSeen.Format(time.RFC3339), now.Sub(s.LastSeen).Round(time.Minute))})
	}
	for _, c := range s.Report.Certificates {
		if within := ch.ExpiringWithin.D(); within > 0 && !c.NotAfter.IsZero() && c.NotAfter.Sub(now) < within {
			left := c.NotAfter.Sub(now).Round(time.Minute)
			msg := fmt.Sprintf("certificate %s on %s expires %s (in %s)", c.Name, s.AgentID, c.NotAfter.Format(time.RFC3339), left)
			if left < 0 {
				msg = fmt.Sprintf("certificate %s on %s expired %s", c.Name, s.AgentID, c.NotAfter.Format(time.RFC3339))
			}
			out = append(out, Condition{Kind: KindExpiring, Agent: s.AgentID, Cert: c.Name, Since: c.NotAfter.Add(-within), Message: msg})
		}
		failed := c.LastResult == "failed"
		if failed && ch.ReloadFailedOn() && string(c.LastErrorCode) == reloadFailedCode {
			out = append(out, Condition{Kind: KindReloadFailed, Agent: s.AgentID, Cert: c.Name, Since: c.LastAttempt,
				Message: fmt.Sprintf("certificate %s on %s: reload failed, previous files restored: %s", c.Name, s.AgentID, c.LastError)})
		}
		if n := ch.FailedAttempts; failed && n > 0 && c.Attempts >= n {
			out = append(out, Condition{Kind: KindRenewalFailed, Agent: s.AgentID, Cert: c.Name, Since: c.LastAttempt,
				Message: fmt.Sprintf("certificate %s on %s: renewal failed %d times, last: %s", c.Name, s.AgentID, c.Attempts, c.LastError)})
		}
	}
	if within := ch.ExpiringWithin.D(); within > 0 && ch.UnmanagedExpiringOn() {
		for _, u := range s.Report.Unmanaged {
			if u.NotAfter.IsZero() || u.NotAfter.Sub(now) >= within {
				continue
			}
			out = append(out, Condition{Kind: KindUnmanagedExpiring, Agent: s.AgentID, Cert: u.Path, Since: u.NotAfter.Add(-within),
				Message: unmanagedMessage(s.AgentID, u, now)})
		}
	}
	return out
}

// unmanagedMessage says which file on which agent holds a certificate
// that expires soon and that certfleet does not renew.
func unmanagedMessage(agent string, u shared.UnmanagedCert, now time.Time) string {
	what := fmt.Sprintf("unmanaged certificate %s (%s) on %s", u.Path, u.Subject, agent)
	left := u.NotAfter.Sub(now).Round(time.Minute)
	if left < 0 {
		return fmt.Sprintf("%s expired %s; certfleet does not renew it", what, u.NotAfter.Format(time.RFC3339))
	}
	return fmt.Sprintf("%s expires %s (in %s); certfleet does not renew it", what, u.NotAfter.Format(time.RFC3339), left)
}
