package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/fleet"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// The admin listings read the fleet snapshot (hub/fleet), never the
// buckets: a page costs the agents on it, whatever the fleet's size.

// replyReserve is kept free in every paged reply for what the page's
// agents do not account for: the envelope, drop counters, damaged entries.
const replyReserve = 128 << 10

// replyBudget is how many bytes of agents one paged admin reply may carry:
// the server's max payload less replyReserve (at least half of it).
func (h *Hub) replyBudget() int {
	max := int(h.nc.MaxPayload())
	return max - min(replyReserve, max/2)
}

// alertSize estimates the encoded size of alerts.
func alertSize(alerts []admin.Alert) int {
	n := 0
	for _, a := range alerts {
		// Fixed keys, quotes and a time, plus the variable text.
		n += 120 + len(a.Kind) + len(a.Agent) + len(a.CertName) + 2*len(a.Message)
	}
	return n
}

func (h *Hub) adminStatus(ctx context.Context, data []byte) (any, error) {
	var req admin.StatusRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	limit := req.Limit
	switch {
	case limit <= 0:
		limit = admin.DefaultStatusLimit
	case limit > admin.MaxStatusLimit:
		return nil, shared.Errorf(shared.CodeBadRequest, "limit %d: at most %d per page", limit, admin.MaxStatusLimit)
	}
	now := time.Now().UTC()
	f := fleet.Filter{Glob: req.Agent, Expiring: req.Expiring, States: req.State, Now: now}
	if err := f.Check(); err != nil {
		return nil, err
	}
	// Alerts are computed once per agent: while sizing the page, and
	// reused when it is built.
	alerts := map[string][]admin.Alert{}
	p := h.fleet.Page(fleet.Query{After: req.After, Limit: limit, Match: f.Match, Budget: h.replyBudget(),
		Size: func(a *fleet.Agent) int {
			al := h.agentAlerts(a, now)
			alerts[a.ID()] = al
			return a.Size() + alertSize(al)
		}})
	r := newStatusReply(now, p.Agents)
	for _, a := range p.Agents {
		r.add(a, alerts[a.ID()])
	}
	r.Next = p.Next
	r.Dropped = h.drops.counts()
	if req.After == "" {
		r.Damaged, r.DamagedTotal = capDamaged(h.fleet.Damaged())
	}
	shapeUnmanaged(&r.StatusReply, req.Unmanaged, admin.UnmanagedPageBudget)
	r.Hub = h.id
	if req.After == "" {
		r.Hubs = h.runningHubs(ctx)
	}
	return r.StatusReply, nil
}

// statusReply builds a StatusReply agent by agent.
type statusReply struct{ admin.StatusReply }

// newStatusReply makes a reply with room for agents, so adding them
// never grows a slice.
func newStatusReply(now time.Time, agents []*fleet.Agent) *statusReply {
	certs, reqs := 0, 0
	for _, a := range agents {
		certs += len(a.Certs)
		reqs += len(a.Requests)
	}
	return &statusReply{admin.StatusReply{Now: now, Agents: make([]hub.Agent, 0, len(agents)), Status: make([]hub.AgentStatus, 0, len(agents)),
		Certs: make([]hub.CertRecord, 0, certs), Requests: make([]hub.RequestState, 0, reqs), Alerts: []admin.Alert{}}}
}

func (r *statusReply) add(a *fleet.Agent, alerts []admin.Alert) {
	r.Agents = append(r.Agents, a.Record)
	if a.Status != nil {
		r.Status = append(r.Status, *a.Status)
	}
	r.Certs = append(r.Certs, a.Certs...)
	r.Requests = append(r.Requests, a.Requests...)
	r.Alerts = append(r.Alerts, alerts...)
}

// wholeFleet is the fleet view of every agent, for in-process readers
// (the dashboard) that no payload limit applies to.
func (h *Hub) wholeFleet() admin.StatusReply {
	now := time.Now().UTC()
	all := h.fleet.All()
	r := newStatusReply(now, all)
	for _, a := range all {
		r.add(a, h.agentAlerts(a, now))
	}
	r.Dropped = h.drops.counts()
	r.Damaged = h.fleet.Damaged()
	return r.StatusReply
}

// capDamaged lists at most admin.MaxDamagedListed entries of bad, and
// how many there are when that is more.
func capDamaged(bad []hub.Damaged) ([]hub.Damaged, int) {
	if len(bad) <= admin.MaxDamagedListed {
		return bad, 0
	}
	return bad[:admin.MaxDamagedListed], len(bad)
}

func (h *Hub) adminAgentList(_ context.Context, data []byte) (any, error) {
	var req admin.AgentListRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	limit := req.Limit
	switch {
	case limit <= 0:
		limit = admin.DefaultAgentListLimit
	case limit > admin.MaxAgentListLimit:
		return nil, shared.Errorf(shared.CodeBadRequest, "limit %d: at most %d per page", limit, admin.MaxAgentListLimit)
	}
	f := fleet.Filter{Glob: req.Agent}
	if err := f.Check(); err != nil {
		return nil, err
	}
	p := h.fleet.Page(fleet.Query{After: req.After, Limit: limit, Match: f.Match, Budget: h.replyBudget(),
		Size: (*fleet.Agent).RecordSize})
	out := admin.AgentList{Agents: make([]hub.Agent, 0, len(p.Agents)), Next: p.Next}
	for _, a := range p.Agents {
		out.Agents = append(out.Agents, a.Record)
	}
	if req.After == "" {
		out.Damaged, out.DamagedTotal = capDamaged(h.fleet.Damaged(store.BucketAgents))
	}
	return out, nil
}

// adminCertShow answers for one certificate: the snapshot's view of it,
// and its PEM chain from the store when asked for.
func (h *Hub) adminCertShow(ctx context.Context, data []byte) (any, error) {
	var req admin.CertRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	if err := shared.ValidateAgentID(req.Agent); err != nil {
		return nil, err
	}
	if err := shared.ValidateCertName(req.Name); err != nil {
		return nil, err
	}
	a := h.fleet.Get(req.Agent)
	if a == nil {
		return nil, shared.Errorf(shared.CodeUnknownAgent, "no agent %q", req.Agent)
	}
	out := admin.CertReply{Agent: req.Agent, Name: req.Name, Now: time.Now().UTC()}
	for _, c := range a.Blocks() {
		if c.Name != req.Name {
			continue
		}
		out.Reported, out.Request = c.Reported, c.Request
		if c.Record != nil {
			rec := *c.Record
			out.Cert = &rec
		}
	}
	if out.Reported == nil && out.Request == nil && out.Cert == nil {
		return nil, shared.Errorf(shared.CodeNotFound, "agent %s has no certificate %q", req.Agent, req.Name)
	}
	if req.Chain && out.Cert != nil {
		rec, err := h.store.GetCert(ctx, req.Agent, req.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Removed since the snapshot saw it.
			return nil, shared.Errorf(shared.CodeNotFound, "agent %s has no certificate %q any more", req.Agent, req.Name)
		case err != nil:
			return nil, fmt.Errorf("read certificate %s/%s: %w", req.Agent, req.Name, err)
		}
		out.Cert = &rec
	}
	return out, nil
}

// awaitFleet waits (briefly) until the snapshot shows agent id as cond
// wants it: an admin change is then visible to the next admin read of
// this hub, though the snapshot learns of it from the watches like any
// other change. A snapshot that lags past the wait is logged, not failed:
// the change itself is stored.
func (h *Hub) awaitFleet(ctx context.Context, id string, cond func(a *fleet.Agent) bool) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.fleet.Await(ctx, func(s *fleet.Snapshot) bool { return cond(s.Get(id)) }); err != nil {
		h.log.Warn("fleet view lags behind an admin change", "agent", id, "err", err)
	}
}
