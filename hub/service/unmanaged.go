package service

import (
	"encoding/json"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
)

// shapeUnmanaged fits the unmanaged certificates agents reported into a
// status page. Every agent's count goes into UnmanagedCounts; the lists
// themselves are left out unless want, and when wanted the page ends
// before the agent whose list would take it past budget (never before
// the first), so a fleet of agents with long lists pages by size, not
// only by agent count. Alerts were computed on the full lists before.
func shapeUnmanaged(r *admin.StatusReply, want bool, budget int) {
	size := map[string]int{}
	for i := range r.Status {
		s := &r.Status[i]
		if n := len(s.Report.Unmanaged) + s.Report.UnmanagedOmitted; n > 0 {
			if r.UnmanagedCounts == nil {
				r.UnmanagedCounts = map[string]int{}
			}
			r.UnmanagedCounts[s.AgentID] = n
		}
		if !want {
			s.Report.Unmanaged = nil
			continue
		}
		if len(s.Report.Unmanaged) > 0 {
			b, _ := json.Marshal(s.Report.Unmanaged)
			size[s.AgentID] = len(b)
		}
	}
	if !want {
		return
	}
	used := 0
	for i, a := range r.Agents {
		used += size[a.ID]
		if used > budget && i > 0 {
			cutPage(r, i)
			return
		}
	}
}

// cutPage ends r before its n-th agent: what belongs to the agents left
// out comes on the next page.
func cutPage(r *admin.StatusReply, n int) {
	keep := map[string]bool{}
	for _, a := range r.Agents[:n] {
		keep[a.ID] = true
	}
	r.Agents = r.Agents[:n]
	r.Next = r.Agents[n-1].ID
	r.Status = filter(r.Status, func(s hub.AgentStatus) bool { return keep[s.AgentID] })
	r.Certs = filter(r.Certs, func(c hub.CertRecord) bool { return keep[c.AgentID] })
	r.Requests = filter(r.Requests, func(q hub.RequestState) bool { return keep[q.AgentID] })
	r.Alerts = filter(r.Alerts, func(a admin.Alert) bool { return keep[a.Agent] })
	for id := range r.UnmanagedCounts {
		if !keep[id] {
			delete(r.UnmanagedCounts, id)
		}
	}
}

func filter[T any](in []T, ok func(T) bool) []T {
	out := in[:0:0]
	for _, v := range in {
		if ok(v) {
			out = append(out, v)
		}
	}
	return out
}
