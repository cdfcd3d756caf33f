package service

import (
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/shared"
)

// Alert kinds.
const (
	AlertExpiring = "expiring" // a certificate is past its renewal time and close to expiry
	AlertSilent   = "silent"   // an agent has not reported for longer than agents.silent_after
	AlertFailing  = "failing"  // a request is failing or failed
	AlertNever    = "never_seen"
	// AlertUnmanaged: a certificate an agent found in its [inventory]
	// paths, which certfleet does not renew, expires within
	// unmanagedWarnWithin (or has expired).
	AlertUnmanaged = "unmanaged_expiring"
)

// unmanagedWarnWithin is how long before an unmanaged certificate
// expires the status alerts about it: renewing it is a person's job, so
// give them two weeks.
const unmanagedWarnWithin = 14 * 24 * time.Hour

// agentAlerts derives what an operator must look at on one agent. It is
// computed on demand from the fleet snapshot, never stored, so it can
// never be stale, and costs one agent's data: a status page computes it
// for its agents, the published alerts for every agent.
func (h *Hub) agentAlerts(a *fleet.Agent, now time.Time) []admin.Alert {
	var out []admin.Alert
	id := a.Record.ID
	silent := h.cfg.Agents.SilentAfter.D()
	if s := a.Status; s == nil {
		if now.Sub(a.Record.Created) > silent {
			out = append(out, admin.Alert{Kind: AlertNever, Agent: id, Message: "registered " + a.Record.Created.Format(time.RFC3339) + " but never connected", Since: a.Record.Created})
		}
	} else {
		for _, c := range s.Report.Certificates {
			if c.NotAfter.IsZero() {
				continue
			}
			life := c.NotAfter.Sub(c.NotBefore)
			left := c.NotAfter.Sub(now)
			// Past its renewal time with under a sixth of the lifetime left:
			// the normal renewal has not happened.
			if left < life/6 || left < 0 {
				out = append(out, admin.Alert{Kind: AlertExpiring, Agent: id, CertName: c.Name,
					Message: fmt.Sprintf("%s expires %s (in %s)", c.Name, c.NotAfter.Format(time.RFC3339), left.Round(time.Minute)), Since: c.RenewAt})
			}
		}
		out = append(out, unmanagedAlerts(s, now)...)
		if now.Sub(s.LastSeen) > silent {
			out = append(out, admin.Alert{Kind: AlertSilent, Agent: id, Message: "not heard from since " + s.LastSeen.Format(time.RFC3339), Since: s.LastSeen})
		}
	}
	for _, q := range a.Requests {
		if q.State == stateFailed || q.State == stateRetrying {
			msg := fmt.Sprintf("%s request %s %s after %d attempt(s): %s", q.CertName, q.RequestID, q.State, q.Attempts, q.LastError)
			if !q.NextTry.IsZero() {
				msg += "; next attempt " + q.NextTry.Format(time.RFC3339)
			}
			out = append(out, admin.Alert{Kind: AlertFailing, Agent: id, CertName: q.CertName, Message: msg, Since: q.Updated})
		}
	}
	return out
}

// fleetAlerts is every alert of the fleet at now.
func (h *Hub) fleetAlerts(now time.Time) []admin.Alert {
	var out []admin.Alert
	for _, a := range h.fleet.All() {
		out = append(out, h.agentAlerts(a, now)...)
	}
	return out
}

// unmanagedAlerts is at most one alert for the agent of s, when it has
// unmanaged certificates expiring within unmanagedWarnWithin: it counts
// them and names the first to expire. One per agent, with the path cut
// short, because what agents report is long and the alerts travel in
// every status page; the full list is in the report (status
// --unmanaged), and alarm channels get one condition per file.
func unmanagedAlerts(s *hub.AgentStatus, now time.Time) []admin.Alert {
	n := 0
	var first shared.UnmanagedCert
	for _, u := range s.Report.Unmanaged {
		if u.NotAfter.IsZero() || u.NotAfter.Sub(now) >= unmanagedWarnWithin {
			continue
		}
		if n == 0 || u.NotAfter.Before(first.NotAfter) {
			first = u
		}
		n++
	}
	if n == 0 {
		return nil
	}
	what := fmt.Sprintf("unmanaged certificate %s (%s)", capText(first.Path, 160), capText(first.Subject, 160))
	when := "expires " + first.NotAfter.Format(time.RFC3339) + " (in " + first.NotAfter.Sub(now).Round(time.Minute).String() + ")"
	if first.NotAfter.Before(now) {
		when = "expired " + first.NotAfter.Format(time.RFC3339)
	}
	msg := what + " " + when + "; certfleet does not renew it"
	if n > 1 {
		msg = fmt.Sprintf("%d unmanaged certificates expire within %s; the first, %s, %s; certfleet does not renew them", n,
			unmanagedWarnWithin, what[len("unmanaged certificate "):], when)
	}
	return []admin.Alert{{Kind: AlertUnmanaged, Agent: s.AgentID, Message: msg, Since: first.NotAfter.Add(-unmanagedWarnWithin)}}
}
