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
	"github.com/nats-io/nkeys"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/fleet"
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
		admin.VerbAgentRevoke:  h.adminAgentRevokeKey,
		admin.VerbDomainAdd:    h.adminDomainAdd,
		admin.VerbDomainRemove: h.adminDomainRemove,
		admin.VerbDomainList:   h.adminDomainList,
		admin.VerbDomainCheck:  h.adminDomainCheck,
		admin.VerbStatus:       h.adminStatus,
		admin.VerbAudit:        h.adminAudit,
		admin.VerbRenew:        h.adminRenew,
		admin.VerbCertShow:     h.adminCertShow,
	}
	maps.Copy(handlers, h.acmednsAdminHandlers())
	maps.Copy(handlers, h.tsigAdminHandlers())
	maps.Copy(handlers, h.webAdminHandlers())
	for verb, fn := range handlers {
		verb, fn := verb, fn
		sub, err := h.nc.QueueSubscribe(admin.Subject(verb), queueGroup, func(m *nats.Msg) {
			// Answers go only to an admin inbox: a reply subject is not
			// checked by the server, and the hub's rights reach its state.
			if !strings.HasPrefix(m.Reply, natsauth.AdminInbox) {
				h.log.Warn("admin request with a reply subject outside the admin inbox dropped", "verb", verb, "reply", m.Reply)
				return
			}
			rctx, cancel := context.WithTimeout(ctx, 25*time.Second)
			defer cancel()
			reply, err := fn(rctx, m.Data)
			for try := 1; err != nil && readOnlyVerbs[verb] && try < adminReadTries && store.Passing(err) && rctx.Err() == nil; try++ {
				// A stream electing a leader (a NATS node died) answers
				// nothing for a few seconds; a read is safe to repeat.
				h.log.Debug("admin read failed for the moment; trying again", "verb", verb, "err", err)
				reply, err = fn(rctx, m.Data)
			}
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
			if max := h.nc.MaxPayload(); int64(len(body)) > max {
				// Never a silent timeout for the admin: say why, and how
				// to narrow it.
				h.log.Error("admin reply too large", "verb", verb, "bytes", len(body), "max_payload", max)
				body = shared.ErrorBody(shared.Errorf(shared.CodeBadRequest,
					"the reply to %s would be %d bytes, over the server's max payload of %d: narrow it (--limit, --agent, --since)", verb, len(body), max))
			}
			if err := m.Respond(body); err != nil {
				h.log.Error("answer admin request", "verb", verb, "err", err)
			}
		})
		if err != nil {
			return err
		}
		h.subs = append(h.subs, sub)
	}
	return nil
}

// readOnlyVerbs change nothing, so the hub tries them again (up to
// adminReadTries in all, within the request's time) when the store could
// not answer for the moment.
var readOnlyVerbs = map[string]bool{
	admin.VerbStatus: true, admin.VerbAudit: true, admin.VerbAgentList: true, admin.VerbDomainList: true,
}

const adminReadTries = 3

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
		var warnings []string
		if exists {
			// Every key issued so far goes first: if one cannot be revoked,
			// nothing changes and the admin retries.
			old, err := h.agentKeysOf(ctx, a)
			if err != nil {
				return nil, err
			}
			for _, k := range old {
				err := h.revokeKey(ctx, req.Name, k)
				switch {
				case errors.Is(err, natsauth.ErrNoLiveRevocation):
					warnings = append(warnings, "external NATS: the replaced credentials keep connecting until they expire; revoke "+k+" with `certfleet-hub nats-setup revoke`")
				case err != nil:
					h.audit(ctx, store.AuditEvent{Kind: store.AuditRevokeFailed, Agent: req.Name, Detail: fmt.Sprintf("reissue: revoke %s: %v; nothing changed", k, err)})
					return nil, fmt.Errorf("reissue %s: revoke old key %s (nothing changed; retry): %w", req.Name, k, err)
				}
			}
		}
		reply.Warnings = warnings
		creds, pub, expires, err := h.auth.IssueAgent(req.Name, h.cfg.Agents.CredsTTL.D())
		if err != nil {
			return nil, fmt.Errorf("issue credentials for %s: %w", req.Name, err)
		}
		// The key is on record before the credentials leave the hub, so
		// it can always be revoked.
		if err := h.recordKey(ctx, req.Name, pub, expires); err != nil {
			return nil, err
		}
		a.NKey, a.CredsExpire, a.Account = pub, expires, h.auth.AgentsAccountPublicKey()
		if err := h.store.PutAgent(ctx, a); err != nil {
			return nil, err
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
	h.awaitFleet(ctx, a.ID, func(x *fleet.Agent) bool { return x != nil && x.Record.Updated.Equal(a.Updated) })
	reply.Agent = a
	return reply, nil
}

func (h *Hub) adminAgentRemove(ctx context.Context, data []byte) (any, error) {
	var req admin.AgentRemoveRequest
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
	// Revoke first: if it fails the agent stays registered and the admin
	// retries. Every key the hub ever issued to the agent is revoked, not
	// only the one its record names.
	keys, err := h.agentKeysOf(ctx, a)
	if err != nil {
		return nil, err
	}
	detail := fmt.Sprintf("agent removed; %d credential key(s) revoked: %s", len(keys), strings.Join(keys, ", "))
	var warnings []string
	switch {
	case len(keys) == 0 && !req.Force:
		h.audit(ctx, store.AuditEvent{Kind: store.AuditRevokeFailed, Agent: req.Name, Detail: "no credential key on record; agent kept"})
		return nil, shared.Errorf(shared.CodeBadRequest, "agent %q has no credential key on record, so the hub cannot revoke it: "+
			"revoke its key with `certfleet-hub agent revoke-key NKEY` (the \"sub\" of the JWT in its creds file), then remove it with --force", req.Name)
	case len(keys) == 0:
		detail = "agent removed with --force; no credential key on record, nothing revoked"
		warnings = append(warnings, "nothing was revoked: the agent's credentials, if any, keep connecting until they expire")
	}
	for _, k := range keys {
		err := h.revokeKey(ctx, req.Name, k)
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
			h.audit(ctx, store.AuditEvent{Kind: store.AuditRevokeFailed, Agent: req.Name, Detail: fmt.Sprintf("revoke %s: %v; agent kept", k, err)})
			return nil, fmt.Errorf("revoke %s of agent %s (the agent is kept; retry): %w", k, req.Name, err)
		}
	}
	if err := h.store.DeleteAgent(ctx, req.Name); err != nil {
		return nil, err
	}
	// Its fleet rows go too, and its buffered status; the audit log
	// keeps the history.
	h.statusW.forget(req.Name)
	if err := h.store.DeleteStatus(ctx, req.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.Warn("remove agent status", "agent", req.Name, "err", err)
	}
	if certs, _, err := h.store.ListCerts(ctx, req.Name); err == nil {
		for _, c := range certs {
			if err := h.store.DeleteCert(ctx, c.AgentID, c.CertName); err != nil {
				h.log.Warn("remove agent certificate record", "agent", req.Name, "cert", c.CertName, "err", err)
			}
		}
	}
	h.audit(ctx, store.AuditEvent{Kind: store.AuditRevoked, Agent: req.Name, Detail: detail})
	h.awaitFleet(ctx, req.Name, func(x *fleet.Agent) bool { return x == nil })
	return admin.AgentList{Agents: []hub.Agent{a}, Warnings: warnings}, nil
}

// agentKeysOf returns the keys of a to revoke: every key issued to it that
// has not expired, and the key its record names.
func (h *Hub) agentKeysOf(ctx context.Context, a hub.Agent) ([]string, error) {
	recs, damaged, err := h.store.AgentKeys(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	for _, d := range damaged {
		// Only the hub writes key records; a damaged one is a store fault.
		h.log.Error("damaged agent key record; revoke it with `agent revoke-key` if it was this agent's", "key", d.Key, "err", d.Error)
	}
	now := time.Now()
	var keys []string
	for _, k := range recs {
		if k.Expires.IsZero() || k.Expires.After(now) {
			keys = append(keys, k.Key)
		}
	}
	if a.NKey != "" && !slices.Contains(keys, a.NKey) {
		keys = append(keys, a.NKey)
	}
	return keys, nil
}

// recordKey notes that key was issued to agent, valid until expires.
func (h *Hub) recordKey(ctx context.Context, agent, key string, expires time.Time) error {
	rec, err := h.store.GetAgentKey(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		rec = store.AgentKey{Key: key, Agent: agent, Issued: time.Now().UTC()}
	case err != nil:
		return err
	case rec.Agent != agent:
		return fmt.Errorf("key %s is on record for agent %s, not %s", key, rec.Agent, agent)
	}
	rec.Expires = expires
	return h.store.PutAgentKey(ctx, rec)
}

// revokeKey revokes key and marks its record.
func (h *Hub) revokeKey(ctx context.Context, agent, key string) error {
	if err := h.revoke(key); err != nil {
		return err
	}
	return h.markRevoked(ctx, agent, key)
}

// markRevoked notes in key's record that it is revoked.
func (h *Hub) markRevoked(ctx context.Context, agent, key string) error {
	rec, err := h.store.GetAgentKey(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		rec = store.AgentKey{Key: key, Agent: agent}
	} else if err != nil {
		return err
	}
	rec.Revoked = time.Now().UTC()
	return h.store.PutAgentKey(ctx, rec)
}

// adminAgentRevokeKey revokes a user key the hub may have no record of
// (an agent removed long ago, a record damaged by an older version).
func (h *Hub) adminAgentRevokeKey(ctx context.Context, data []byte) (any, error) {
	var req admin.RevokeKeyRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	if !nkeys.IsValidPublicUserKey(req.Key) {
		return nil, shared.Errorf(shared.CodeBadRequest, "%q is not a NATS user public key (it starts with U; the \"sub\" of the agent's JWT)", req.Key)
	}
	agent := ""
	if rec, err := h.store.GetAgentKey(ctx, req.Key); err == nil {
		agent = rec.Agent
	}
	err := h.revoke(req.Key)
	var warnings []string
	switch {
	case errors.Is(err, natsauth.ErrNoLiveRevocation):
		warnings = append(warnings, "this hub uses an external NATS: it stops renewing the key, which works until its JWT expires; revoke it now with `certfleet-hub nats-setup revoke`")
	case err != nil:
		h.audit(ctx, store.AuditEvent{Kind: store.AuditRevokeFailed, Agent: agent, Detail: fmt.Sprintf("revoke key %s: %v", req.Key, err)})
		return nil, fmt.Errorf("revoke key %s: %w", req.Key, err)
	}
	if agent != "" {
		if err := h.markRevoked(ctx, agent, req.Key); err != nil {
			h.log.Warn("mark key revoked", "key", req.Key, "err", err)
		}
	}
	h.audit(ctx, store.AuditEvent{Kind: store.AuditRevoked, Agent: agent, Detail: "key " + req.Key + " revoked"})
	return admin.RevokeKeyReply{Key: req.Key, Agent: agent, Warnings: warnings}, nil
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
	if err := checkDomainScope(name, shared.NormalizeName(h.cfg.DNS.Domain), req.Zone); err != nil {
		return nil, err
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
	ds, bad, err := h.store.ListDomains(ctx)
	if err != nil {
		return nil, err
	}
	return admin.DomainList{Domains: ds, Zone: h.cfg.DNS.Domain, Damaged: bad}, nil
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

// runningHubs lists the hubs sharing the store and which one does the
// housekeeping; a read that fails leaves the list out (logged).
func (h *Hub) runningHubs(ctx context.Context) []admin.HubInfo {
	entries, _, err := h.store.RunningHubs(ctx)
	if err != nil {
		h.log.Warn("list the running hubs", "err", err)
		return nil
	}
	leader, err := h.store.LeaseHolder(ctx, store.LeaseHousekeeping)
	if err != nil {
		h.log.Warn("read the housekeeping lease", "err", err)
	}
	out := make([]admin.HubInfo, 0, len(entries))
	for _, e := range entries {
		out = append(out, admin.HubInfo{ID: e.ID, Version: e.Version, Started: e.Started, Housekeeping: e.ID == leader})
	}
	return out
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

// audit appends an event, within the per-agent flood limit (flood.go); a
// failure is logged, never fatal to the action.
func (h *Hub) audit(ctx context.Context, ev store.AuditEvent) {
	for _, ev := range h.flood.auditAdmit(ev) {
		h.appendAudit(ctx, ev)
	}
}

func (h *Hub) appendAudit(ctx context.Context, ev store.AuditEvent) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if err := h.store.Audit(ctx, ev); err != nil {
		h.log.Error("append audit event", "kind", ev.Kind, "agent", ev.Agent, "err", err)
	}
}
