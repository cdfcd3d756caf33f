package service

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

func (h *Hub) tsigAdminHandlers() map[string]func(context.Context, []byte) (any, error) {
	return map[string]func(context.Context, []byte) (any, error){
		admin.VerbTSIGAdd:    h.adminTSIGAdd,
		admin.VerbTSIGList:   h.adminTSIGList,
		admin.VerbTSIGRemove: h.adminTSIGRemove,
	}
}

func (h *Hub) adminTSIGAdd(ctx context.Context, data []byte) (any, error) {
	var req admin.TSIGAddRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	name, err := store.TSIGName(req.Name)
	if err != nil {
		return nil, shared.Errorf(shared.CodeBadRequest, "%v", err)
	}
	alg := req.Algorithm
	size := 32
	switch alg {
	case "", "hmac-sha256":
		alg = "hmac-sha256"
	case "hmac-sha512":
		size = 64
	default:
		return nil, shared.Errorf(shared.CodeBadRequest, "--algorithm %q: want hmac-sha256 or hmac-sha512", alg)
	}
	if len(req.Allow) == 0 {
		return nil, shared.Errorf(shared.CodeBadRequest, "key %s: give at least one --allow name", name)
	}
	var allow []string
	for _, a := range req.Allow {
		a = shared.NormalizeName(strings.TrimPrefix(strings.TrimSpace(a), "_acme-challenge."))
		if err := shared.ValidateDNSName(a); err != nil {
			return nil, shared.Errorf(shared.CodeBadRequest, "--allow %q: %v", a, err)
		}
		allow = append(allow, a)
	}
	secret := make([]byte, size)
	if _, err := rand.Read(secret); err != nil {
		return nil, err
	}
	k := hub.TSIGKey{Name: name, Algorithm: alg, Secret: base64.StdEncoding.EncodeToString(secret), Allow: allow, Created: time.Now().UTC()}
	if err := h.store.CreateTSIG(ctx, k); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, shared.Errorf(shared.CodeBadRequest, "tsig key %s exists: remove it first to replace it", name)
		}
		return nil, err
	}
	h.log.Info("tsig key created", "name", name, "allow", allow)
	h.audit(ctx, store.AuditEvent{Kind: store.AuditTSIGAdded, Names: allow, Detail: "key " + name + " " + alg})
	return admin.TSIGAddReply{Key: k}, nil
}

func (h *Hub) adminTSIGList(ctx context.Context, _ []byte) (any, error) {
	keys, bad, err := h.store.ListTSIG(ctx)
	if err != nil {
		return nil, err
	}
	h.logDamaged("ListTSIG", bad)
	out := admin.TSIGList{Keys: []admin.TSIGEntry{}}
	for _, k := range keys {
		out.Keys = append(out.Keys, admin.TSIGEntry{Name: k.Name, Algorithm: k.Algorithm, Allow: k.Allow})
	}
	return out, nil
}

func (h *Hub) adminTSIGRemove(ctx context.Context, data []byte) (any, error) {
	var req admin.NameRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	if err := h.store.DeleteTSIG(ctx, req.Name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, shared.Errorf(shared.CodeNotFound, "no tsig key %q", req.Name)
		}
		return nil, err
	}
	h.log.Info("tsig key removed", "name", req.Name)
	h.audit(ctx, store.AuditEvent{Kind: store.AuditTSIGRemoved, Detail: "key " + req.Name})
	return struct{}{}, nil
}
