package service

import (
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/fleet"
)

// Alert kinds.
const (
	AlertExpiring = "expiring" // a certificate is past its renewal time and close to expiry
	AlertSilent   = "silent"   // an agent has not reported for longer than agents.silent_after
	AlertFailing  = "failing"  // a request is failing or failed
	AlertNever    = "never_seen"
)

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
