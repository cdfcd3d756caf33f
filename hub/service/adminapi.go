package service

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/natsauth"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// subscribeAdmin answers the admin CLI. The NATS server only lets the admin
// user (and the hub) publish on these subjects.
func (h *Hub) subscribeAdmin(ctx context.Context) error {
	handlers := map[string]func(context.Context, []byte) (any, error){
		admin.VerbAgentAdd:     h.adminAgentAdd,
		admin.VerbAgentRemove:  h.adminAgentRemove,
		admin.VerbAgentList:    h.adminAgentList,
		admin.VerbDomainAdd:    h.adminDomainAdd,
		admin.VerbDomainRemove: h.adminDomainRemove,
		admin.VerbDomainList:   h.adminDomainList,
		admin.VerbDomainCheck:  h.adminDomainCheck,
		admin.VerbStatus:       h.adminStatus,
		admin.VerbAudit:        h.adminAudit,
		admin.VerbRenew:        h.adminRenew,
	}
	maps.Copy(handlers, h.acmednsAdminHandlers())
	maps.Copy(handlers, h.tsigAdminHandlers())
	for verb, fn := range handlers {
		verb, fn := verb, fn
		_, err := h.nc.QueueSubscribe(admin.Subject(verb), queueGroup, func(m *nats.Msg) {
			rctx, cancel := context.WithTimeout(ctx, 25*time.Second)
			defer cancel()
			reply, err := fn(rctx, m.Data)
			var body []byte
			if err == nil {
				body, err = json.Marshal(reply)
			}
			if err != nil {
				h.log.Warn("admin request failed", "verb", verb, "err", err)
				var pe *shared.Error
				if !errors.As(err, &pe) {
					// Admins see the real cause; they own the hub.
					pe = shared.Errorf(shared.CodeInternal, "%v", err)
				}
				body = shared.ErrorBody(pe)
			}
			_ = m.Respond(body)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func decodeAdmin(data []byte, v any) error {
	if len(data) > shared.MaxMessageSize {
		return shared.Errorf(shared.CodeBadRequest, "request of %d bytes, limit %d", len(data), shared.MaxMessageSize)
	}
	if len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return shared.Errorf(shared.CodeBadRequest, "malformed request: %v", err)
	}
	return nil
}

func (h *Hub) adminAgentAdd(ctx context.Context, data []byte) (any, error) {
	var req admin.AgentAddRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	if err := shared.ValidateAgentID(req.Name); err != nil {
		return nil, err
	}
	if len(req.Allow) == 0 {
		return nil, shared.Errorf(shared.CodeBadRequest, "agent %q: give at least one --allow pattern", req.Name)
	}
	allow := make([]string, 0, len(req.Allow))
	for _, p := range req.Allow {
		p = strings.ToLower(strings.TrimSpace(p))
		if err := shared.ValidateAllowPattern(p); err != nil {
			return nil, shared.Errorf(shared.CodeBadRequest, "--allow %q: %v", p, err)
		}
		if !slices.Contains(allow, p) {
			allow = append(allow, p)
		}
	}
	now := time.Now().UTC()
	a, err := h.store.GetAgent(ctx, req.Name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if !exists {
		a = hub.Agent{ID: req.Name, Created: now}
	}
	a.Allow = allow
	a.Updated = now
	reply := admin.AgentAddReply{}
	if !exists || req.Reissue {
		creds, pub, expires, err := h.auth.IssueAgent(req.Name, h.cfg.Agents.CredsTTL.D())
		if err != nil {
			return nil, fmt.Errorf("issue credentials for %s: %w", req.Name, err)
		}
		oldKey := a.NKey
		a.NKey, a.CredsExpire = pub, expires
		if err := h.store.PutAgent(ctx, a); err != nil {
			return nil, err
		}
		if exists && oldKey != "" && oldKey != pub {
			if err := h.revoke(oldKey); err != nil {
				h.log.Warn("revoke replaced credentials", "agent", req.Name, "err", err)
			}
		}
		reply.Enrollment = &shared.Enrollment{Type: shared.TypeEnrollment, AgentID: req.Name,
			URLs: h.advertiseURLs(), Creds: string(creds), CA: string(h.caPEM), Created: now}
		h.audit(ctx, store.AuditEvent{Kind: store.AuditEnrolled, Agent: req.Name, Names: allow, Detail: "credentials issued, expire " + expires.Format(time.RFC3339)})
	} else {
		if err := h.store.PutAgent(ctx, a); err != nil {
			return nil, err
		}
		h.audit(ctx, store.AuditEvent{Kind: store.AuditEnrolled, Agent: req.Name, Names: allow, Detail: "allow list updated"})
	}
	reply.Agent = a
	return reply, nil
}

func (h *Hub) adminAgentRemove(ctx context.Context, data []byte) (any, error) {
	var req admin.NameRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	a, err := h.store.GetAgent(ctx, req.Name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, shared.Errorf(shared.CodeUnknownAgent, "no agent %q", req.Name)
	}
	if err != nil {
		return nil, err
	}
	// Revoke first: if it fails the agent stays registered and the admin retries.
	detail := "agent removed; credentials revoked"
	var warnings []string
	if a.NKey != "" {
		err := h.revoke(a.NKey)
		switch {
		case errors.Is(err, natsauth.ErrNoLiveRevocation):
			// External NATS: the hub cannot cut the connection, but it no
			// longer renews the JWT, so the agent is out when it expires.
			h.log.Warn("agent removed; external NATS cannot revoke live, its credentials work until they expire",
				"agent", req.Name, "expires", a.CredsExpire)
			detail = "agent removed; external NATS: credentials stop working at " + a.CredsExpire.UTC().Format(time.RFC3339)
			warnings = append(warnings, "this hub uses an external NATS and cannot cut the agent off live: its credentials keep connecting until "+
				a.CredsExpire.UTC().Format(time.RFC3339)+" (the hub refuses its requests); revoke them now with `certfleet-hub nats-setup revoke` where the operator keys are")
		case err != nil:
			return nil, fmt.Errorf("revoke %s: %w", req.Name, err)
		}
	}
	if err := h.store.DeleteAgent(ctx, req.Name); err != nil {
		return nil, err
	}
	// Its fleet rows go too; the audit log keeps the history.
	if err := h.store.DeleteStatus(ctx, req.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.Warn("remove agent status", "agent", req.Name, "err", err)
	}
	if certs, err := h.store.ListCerts(ctx, req.Name); err == nil {
		for _, c := range certs {
			if err := h.store.DeleteCert(ctx, c.AgentID, c.CertName); err != nil {
				h.log.Warn("remove agent certificate record", "agent", req.Name, "cert", c.CertName, "err", err)
			}
		}
	}
	h.audit(ctx, store.AuditEvent{Kind: store.AuditRevoked, Agent: req.Name, Detail: detail})
	return admin.AgentList{Agents: []hub.Agent{a}, Warnings: warnings}, nil
}

func (h *Hub) adminAgentList(ctx context.Context, _ []byte) (any, error) {
	agents, err := h.store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	return admin.AgentList{Agents: agents}, nil
}

// newLabel returns a random CNAME target label: unguessable, so nobody can
// predict (and pre-register) another name's target.
func newLabel() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

func (h *Hub) adminDomainAdd(ctx context.Context, data []byte) (any, error) {
	var req admin.DomainAddRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	name := shared.NormalizeName(req.Name)
	if strings.HasPrefix(name, "*.") {
		return nil, shared.Errorf(shared.CodeInvalidName, "%q: add the base name %q; its delegation covers the wildcard too", name, name[2:])
	}
	if err := shared.ValidateDNSName(name); err != nil {
		return nil, err
	}
	zone := shared.NormalizeName(h.cfg.DNS.Domain)
	if name == zone || strings.HasSuffix(name, "."+zone) {
		return nil, shared.Errorf(shared.CodeInvalidName, "%q is inside the hub's own zone %s", name, zone)
	}
	mode := hub.ModeCNAME
	if req.Zone {
		mode = hub.ModeZone
	}
	d, err := h.store.GetDomain(ctx, name)
	switch {
	case err == nil && d.Mode != mode:
		return nil, shared.Errorf(shared.CodeBadRequest, "%s is already registered in %s mode; remove it first", name, d.Mode)
	case errors.Is(err, store.ErrNotFound):
		d = hub.Domain{Name: name, Mode: mode, Created: time.Now().UTC()}
		if mode == hub.ModeCNAME {
			d.Label = newLabel()
		}
		if err := h.store.PutDomain(ctx, d); err != nil {
			return nil, err
		}
		h.audit(ctx, store.AuditEvent{Kind: store.AuditDomainAdded, Names: []string{name}, Detail: mode})
	case err != nil:
		return nil, err
	}
	return admin.DomainAddReply{Domain: d, Record: h.recordFor(d)}, nil
}

// recordFor is the record the operator creates at the parent for d.
func (h *Hub) recordFor(d hub.Domain) string {
	if d.Mode == hub.ModeZone {
		return d.Name + ". NS " + shared.NormalizeName(h.cfg.DNS.NSName) + "."
	}
	return hub.ChallengeName(d.Name) + " CNAME " + d.CNAMETarget(h.cfg.DNS.Domain)
}

func (h *Hub) adminDomainRemove(ctx context.Context, data []byte) (any, error) {
	var req admin.NameRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	name := shared.NormalizeName(req.Name)
	d, err := h.store.GetDomain(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, shared.Errorf(shared.CodeNotFound, "no domain %q", name)
	}
	if err != nil {
		return nil, err
	}
	if err := h.store.DeleteDomain(ctx, name); err != nil {
		return nil, err
	}
	h.audit(ctx, store.AuditEvent{Kind: store.AuditDomainRemoved, Names: []string{name}, Detail: d.Mode})
	return admin.DomainList{Domains: []hub.Domain{d}, Zone: h.cfg.DNS.Domain}, nil
}

func (h *Hub) adminDomainList(ctx context.Context, _ []byte) (any, error) {
	ds, err := h.store.ListDomains(ctx)
	if err != nil {
		return nil, err
	}
	return admin.DomainList{Domains: ds, Zone: h.cfg.DNS.Domain}, nil
}

func (h *Hub) adminDomainCheck(ctx context.Context, data []byte) (any, error) {
	var req admin.DomainCheckRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	for i, n := range req.Names {
		req.Names[i] = shared.NormalizeName(n)
	}
	f, err := h.checkDomains(ctx, req.Names)
	if err != nil {
		return nil, err
	}
	return admin.DomainCheckReply{Findings: f}, nil
}

func (h *Hub) adminStatus(ctx context.Context, _ []byte) (any, error) {
	var r admin.StatusReply
	var err error
	if r.Agents, err = h.store.ListAgents(ctx); err != nil {
		return nil, err
	}
	if r.Status, err = h.store.ListStatus(ctx); err != nil {
		return nil, err
	}
	if r.Certs, err = h.store.ListCerts(ctx, ""); err != nil {
		return nil, err
	}
	if r.Requests, err = h.store.ListRequests(ctx); err != nil {
		return nil, err
	}
	r.Now = time.Now().UTC()
	r.Alerts = h.alerts(r)
	return r, nil
}

func (h *Hub) adminAudit(ctx context.Context, data []byte) (any, error) {
	var req admin.AuditRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	evs, err := h.store.ReadAudit(ctx, store.AuditFilter{Agent: req.Agent, Since: req.Since, Limit: req.Limit})
	if err != nil {
		return nil, err
	}
	out := admin.AuditReply{Events: []json.RawMessage{}}
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		out.Events = append(out.Events, b)
	}
	return out, nil
}

func (h *Hub) adminRenew(ctx context.Context, data []byte) (any, error) {
	var req admin.RenewRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	if _, err := h.knownAgent(ctx, req.Agent); err != nil {
		return nil, err
	}
	b, err := shared.Encode(&shared.RenewCommand{CertName: req.CertName, Reason: shared.ReasonManual})
	if err != nil {
		return nil, shared.Errorf(shared.CodeBadRequest, "%v", err)
	}
	if err := h.nc.Publish(shared.Down(req.Agent, shared.VerbRenew), b); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// audit appends an event; a failure is logged, never fatal to the action.
func (h *Hub) audit(ctx context.Context, ev store.AuditEvent) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if err := h.store.Audit(ctx, ev); err != nil {
		h.log.Error("append audit event", "kind", ev.Kind, "agent", ev.Agent, "err", err)
	}
}
