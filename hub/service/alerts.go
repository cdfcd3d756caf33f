package service

import (
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub/admin"
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

// alerts derives what an operator must look at from the fleet view. It is
// computed on demand, never stored, so it can never be stale.
func (h *Hub) alerts(r admin.StatusReply) []admin.Alert {
	var out []admin.Alert
	now := r.Now
	seen := map[string]time.Time{}
	for _, s := range r.Status {
		seen[s.AgentID] = s.LastSeen
		for _, c := range s.Report.Certificates {
			if c.NotAfter.IsZero() {
				continue
			}
			life := c.NotAfter.Sub(c.NotBefore)
			left := c.NotAfter.Sub(now)
			// Past its renewal time with under a sixth of the lifetime left:
			// the normal renewal has not happened.
			if left < life/6 || left < 0 {
				out = append(out, admin.Alert{Kind: AlertExpiring, Agent: s.AgentID, CertName: c.Name,
					Message: fmt.Sprintf("%s expires %s (in %s)", c.Name, c.NotAfter.Format(time.RFC3339), left.Round(time.Minute)), Since: c.RenewAt})
			}
		}
	}
	out = append(out, unmanagedAlerts(r)...)
	silent := h.cfg.Agents.SilentAfter.D()
	for _, a := range r.Agents {
		last, ok := seen[a.ID]
		switch {
		case !ok:
			if now.Sub(a.Created) > silent {
				out = append(out, admin.Alert{Kind: AlertNever, Agent: a.ID, Message: "registered " + a.Created.Format(time.RFC3339) + " but never connected", Since: a.Created})
			}
		case now.Sub(last) > silent:
			out = append(out, admin.Alert{Kind: AlertSilent, Agent: a.ID, Message: "not heard from since " + last.Format(time.RFC3339), Since: last})
		}
	}
	latest := map[string]int{}
	for i, q := range r.Requests {
		k := q.AgentID + "/" + q.CertName
		if j, ok := latest[k]; !ok || r.Requests[j].Updated.Before(q.Updated) {
			latest[k] = i
		}
	}
	for _, i := range latest {
		q := r.Requests[i]
		if q.State == stateFailed || q.State == stateRetrying {
			msg := fmt.Sprintf("%s request %s %s after %d attempt(s): %s", q.CertName, q.RequestID, q.State, q.Attempts, q.LastError)
			if !q.NextTry.IsZero() {
				msg += "; next attempt " + q.NextTry.Format(time.RFC3339)
			}
			out = append(out, admin.Alert{Kind: AlertFailing, Agent: q.AgentID, CertName: q.CertName, Message: msg, Since: q.Updated})
		}
	}
	return out
}

// unmanagedAlerts are one alert per agent with unmanaged certificates
// expiring within unmanagedWarnWithin: it counts them and names the
// first to expire. One per agent, with the path cut short, because what
// agents report is long and the alerts travel in every status page; the
// full list is in the report (status --unmanaged), and alarm channels
// get one condition per file.
func unmanagedAlerts(r admin.StatusReply) []admin.Alert {
	var out []admin.Alert
	for _, s := range r.Status {
		n := 0
		var first shared.UnmanagedCert
		for _, u := range s.Report.Unmanaged {
			if u.NotAfter.IsZero() || u.NotAfter.Sub(r.Now) >= unmanagedWarnWithin {
				continue
			}
			if n == 0 || u.NotAfter.Before(first.NotAfter) {
				first = u
			}
			n++
		}
		if n == 0 {
			continue
		}
		what := fmt.Sprintf("unmanaged certificate %s (%s)", capText(first.Path, 160), capText(first.Subject, 160))
		when := "expires " + first.NotAfter.Format(time.RFC3339) + " (in " + first.NotAfter.Sub(r.Now).Round(time.Minute).String() + ")"
		if first.NotAfter.Before(r.Now) {
			when = "expired " + first.NotAfter.Format(time.RFC3339)
		}
		msg := what + " " + when + "; certfleet does not renew it"
		if n > 1 {
			msg = fmt.Sprintf("%d unmanaged certificates expire within %s; the first, %s, %s; certfleet does not renew them", n,
				unmanagedWarnWithin, what[len("unmanaged certificate "):], when)
		}
		out = append(out, admin.Alert{Kind: AlertUnmanaged, Agent: s.AgentID, Message: msg, Since: first.NotAfter.Add(-unmanagedWarnWithin)})
	}
	return out
}
