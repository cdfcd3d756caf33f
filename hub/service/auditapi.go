package service

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// adminAudit reads the audit log: the newest events, or (with After) one
// page forward from a position. Either way the reply is cut to fit the
// server's max payload: a forward page ends early (its Next says where
// the rest starts), the newest events drop their oldest (Omitted counts
// them).
func (h *Hub) adminAudit(ctx context.Context, data []byte) (any, error) {
	var req admin.AuditRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	limit := req.Limit
	switch {
	case limit <= 0:
		limit = admin.DefaultAuditLimit
	case limit > admin.MaxAuditLimit:
		return nil, shared.Errorf(shared.CodeBadRequest, "limit %d: at most %d per page", limit, admin.MaxAuditLimit)
	}
	if req.Agent != "" {
		if err := shared.ValidateAgentID(req.Agent); err != nil {
			return nil, err
		}
	}
	filter := store.AuditFilter{Agent: req.Agent, Since: req.Since, Limit: limit}
	budget := h.replyBudget()
	out := admin.AuditReply{Events: []json.RawMessage{}}
	if req.After == "" {
		evs, bad, err := h.store.ReadAudit(ctx, filter)
		if err != nil {
			return nil, err
		}
		out.Damaged, _ = capDamaged(bad)
		encoded := make([]json.RawMessage, len(evs))
		for i, ev := range evs {
			if encoded[i], err = json.Marshal(ev); err != nil {
				return nil, err
			}
		}
		// Newest first until the budget is spent.
		size, keep := 0, len(encoded)
		for keep > 0 && size+len(encoded[keep-1])+1 <= budget {
			size += len(encoded[keep-1]) + 1
			keep--
		}
		out.Omitted = keep
		out.Events = append(out.Events, encoded[keep:]...)
		return out, nil
	}
	after, err := strconv.ParseUint(req.After, 10, 64)
	if err != nil {
		return nil, shared.Errorf(shared.CodeBadRequest, "--after %q: want a position from a previous page (0 for the start)", req.After)
	}
	entries, bad, more, err := h.store.ReadAuditAfter(ctx, filter, after)
	if err != nil {
		return nil, err
	}
	out.Damaged, _ = capDamaged(bad)
	size := 0
	for i, e := range entries {
		b, err := json.Marshal(e.Event)
		if err != nil {
			return nil, err
		}
		if i > 0 && size+len(b)+1 > budget {
			more = true
			break
		}
		size += len(b) + 1
		out.Events = append(out.Events, b)
		out.Next = strconv.FormatUint(e.Seq, 10)
	}
	if !more {
		out.Next = ""
	}
	return out, nil
}
