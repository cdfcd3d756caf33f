package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/acmedns"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/delegation"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// acmednsAdminHandlers are the admin verbs of the acme-dns API.
func (h *Hub) acmednsAdminHandlers() map[string]func(context.Context, []byte) (any, error) {
	return map[string]func(context.Context, []byte) (any, error){
		admin.VerbACMEDNSRegister: h.adminACMEDNSRegister,
		admin.VerbACMEDNSList:     h.adminACMEDNSList,
		admin.VerbACMEDNSRemove:   h.adminACMEDNSRemove,
		admin.VerbACMEDNSImport:   h.adminACMEDNSImport,
		admin.VerbACMEDNSCheck:    h.adminACMEDNSCheck,
	}
}

func (h *Hub) acmednsFulldomain(sub string) string {
	return sub + "." + strings.TrimSuffix(shared.NormalizeName(h.cfg.DNS.Domain), ".")
}

func (h *Hub) adminACMEDNSRegister(ctx context.Context, data []byte) (any, error) {
	var req admin.ACMEDNSRegisterRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	names, err := acmednsNames(req.Names)
	if err != nil {
		return nil, err
	}
	reg, key, err := acmedns.NewRegistration(req.AllowFrom, "admin", time.Now())
	if err != nil {
		return nil, shared.Errorf(shared.CodeBadRequest, "%v", err)
	}
	reg.Names = names
	if err := h.store.CreateACMEDNS(ctx, reg); err != nil {
		return nil, err
	}
	h.log.Info("acme-dns registration created by admin", "username", reg.Username, "subdomain", reg.Subdomain)
	h.audit(ctx, store.AuditEvent{Kind: store.AuditACMEDNSRegistered, Names: []string{h.acmednsFulldomain(reg.Subdomain)}, Detail: "username " + reg.Username + " by an admin"})
	return admin.ACMEDNSAccount{Username: reg.Username, Password: key, Fulldomain: h.acmednsFulldomain(reg.Subdomain),
		Subdomain: reg.Subdomain, Allowfrom: reg.AllowFrom}, nil
}

func acmednsNames(in []string) ([]string, error) {
	var out []string
	for _, n := range in {
		n = shared.NormalizeName(strings.TrimPrefix(strings.TrimSpace(n), "*."))
		if err := shared.ValidateDNSName(n); err != nil {
			return nil, shared.Errorf(shared.CodeBadRequest, "--name %q: %v", n, err)
		}
		out = append(out, n)
	}
	return out, nil
}

func (h *Hub) adminACMEDNSList(ctx context.Context, data []byte) (any, error) {
	regs, bad, err := h.store.ListACMEDNS(ctx)
	if err != nil {
		return nil, err
	}
	h.logDamaged("ListACMEDNS", bad)
	out := admin.ACMEDNSList{Registrations: []admin.ACMEDNSEntry{}}
	for _, r := range regs {
		e := admin.ACMEDNSEntry{Username: r.Username, Subdomain: r.Subdomain, Fulldomain: h.acmednsFulldomain(r.Subdomain),
			AllowFrom: r.AllowFrom, Names: r.Names, Source: r.Source, Created: r.Created}
		if n := len(r.TXT); n > 0 {
			e.LastUpdate = r.TXT[n-1].Updated
		}
		out.Registrations = append(out.Registrations, e)
	}
	return out, nil
}

func (h *Hub) adminACMEDNSRemove(ctx context.Context, data []byte) (any, error) {
	var req admin.ACMEDNSRemoveRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	name := strings.TrimSpace(req.Name)
	user := ""
	if u, err := acmedns.ParseUsername(name); err == nil {
		if _, err := h.store.GetACMEDNS(ctx, u); err == nil {
			user = u
		}
	}
	if user == "" {
		// Maybe a subdomain (what `acmedns list` and DNS show).
		regs, bad, err := h.store.ListACMEDNS(ctx)
		if err != nil {
			return nil, err
		}
		h.logDamaged("ListACMEDNS", bad)
		for _, r := range regs {
			if strings.EqualFold(r.Subdomain, name) || strings.EqualFold(h.acmednsFulldomain(r.Subdomain), strings.TrimSuffix(name, ".")) {
				user = r.Username
				break
			}
		}
	}
	if user == "" {
		return nil, shared.Errorf(shared.CodeNotFound, "no acme-dns registration with username or subdomain %q", name)
	}
	if err := h.store.DeleteACMEDNS(ctx, user); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, shared.Errorf(shared.CodeNotFound, "acme-dns registration %s: already removed", user)
		}
		return nil, err
	}
	h.log.Info("acme-dns registration removed by admin", "username", user)
	h.audit(ctx, store.AuditEvent{Kind: store.AuditACMEDNSRemoved, Detail: "username " + user + " by an admin"})
	return struct {
		Username string `json:"username"`
	}{user}, nil
}

func (h *Hub) adminACMEDNSImport(ctx context.Context, data []byte) (any, error) {
	var req admin.ACMEDNSImportRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	rep := admin.ACMEDNSImportReply{Imported: []string{}}
	for _, r := range req.Registrations {
		clean, warn, err := acmedns.CheckImported(r, time.Now())
		if err != nil {
			rep.Rejected = append(rep.Rejected, err.Error())
			h.log.Warn("acme-dns import: registration rejected", "err", err)
			continue
		}
		if warn != "" {
			rep.Warnings = append(rep.Warnings, warn)
		}
		err = h.store.CreateACMEDNS(ctx, clean)
		switch {
		case errors.Is(err, store.ErrExists):
			rep.Skipped = append(rep.Skipped, clean.Username)
		case err != nil:
			return nil, fmt.Errorf("import %s (imported so far: %d): %w", clean.Username, len(rep.Imported), err)
		default:
			rep.Imported = append(rep.Imported, clean.Username)
			h.audit(ctx, store.AuditEvent{Kind: store.AuditACMEDNSRegistered, Names: []string{h.acmednsFulldomain(clean.Subdomain)}, Detail: "username " + clean.Username + " imported from acme-dns"})
		}
	}
	h.log.Info("acme-dns registrations imported", "imported", len(rep.Imported), "skipped", len(rep.Skipped), "rejected", len(rep.Rejected))
	return rep, nil
}

func (h *Hub) adminACMEDNSCheck(ctx context.Context, data []byte) (any, error) {
	var req admin.ACMEDNSCheckRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	regs, bad, err := h.store.ListACMEDNS(ctx)
	if err != nil {
		return nil, err
	}
	h.logDamaged("ListACMEDNS", bad)
	want := func(r hub.ACMEDNSRegistration) bool {
		if len(req.Registrations) == 0 {
			return true
		}
		for _, n := range req.Registrations {
			if strings.EqualFold(n, r.Username) || strings.EqualFold(n, r.Subdomain) {
				return true
			}
		}
		return false
	}
	rep := admin.DomainCheckReply{Findings: []delegation.Finding{}}
	for _, r := range regs {
		if !want(r) {
			continue
		}
		for _, n := range r.Names {
			rep.Findings = append(rep.Findings, h.checker.CheckCNAME(ctx, hub.ChallengeName(n), h.acmednsFulldomain(r.Subdomain)))
		}
	}
	return rep, nil
}
