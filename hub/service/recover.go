package service

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certfleet/certfleet/hub/pace"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// requestHook, when set, runs before each queued request is handled.
// Tests set it to make the handling of one request panic; it is nil in
// production.
var requestHook func(msg jetstream.Msg)

// safely runs fn and keeps a panic in it from ending the hub: the panic is
// logged with its stack and reported as panicked. name says what fn was
// doing, for the log. Every handler of input from agents runs under it, so
// one hostile or unforeseen message cannot crash the hub for the fleet.
func (h *Hub) safely(name string, fn func()) (panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			panicked = true
			h.log.Error("recovered from a panic; the hub keeps serving", "in", name,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
	return false
}

// handleRequestSafely is handleRequest under safely. A request whose
// handling panicked is terminated (a redelivery would panic again), audited
// as failed, and failed for the agent with code internal, so it stops
// waiting.
func (h *Hub) handleRequestSafely(ctx context.Context, msg jetstream.Msg, tok *pace.Token) {
	if !h.safely("certificate request on "+msg.Subject(), func() {
		if hook := requestHook; hook != nil {
			hook(msg)
		}
		h.handleRequest(ctx, msg, tok)
	}) {
		return
	}
	_ = msg.Term()
	id, ok := shared.ParseQueueSubject(msg.Subject())
	if !ok {
		return
	}
	var req shared.CertRequest
	decoded := shared.Decode(msg.Data(), &req) == nil && shared.ValidateRequestID(req.RequestID) == nil
	ev := store.AuditEvent{Kind: store.AuditFailed, Agent: id, Detail: "the hub failed on this request (panic, see the hub log); request dropped"}
	if decoded {
		ev.CertName, ev.RequestID = req.CertName, req.RequestID
	}
	h.safely("audit a panicked request", func() { h.audit(ctx, ev) })
	if !decoded {
		return
	}
	h.safely("fail a panicked request", func() {
		perr := shared.Errorf(shared.CodeInternal, "the hub failed on request %s; it was dropped, send a new one", req.RequestID)
		st, err := h.store.GetRequest(ctx, id, req.RequestID)
		switch {
		case err == nil:
			_ = h.finishFailed(ctx, nil, id, req, &st, perr, time.Time{})
		case errors.Is(err, store.ErrNotFound):
			_ = h.finishFailed(ctx, nil, id, req, nil, perr, time.Time{})
		default:
			h.log.Warn("read state of a panicked request", "agent", id, "request", req.RequestID, "err", err)
			_ = h.finishFailed(ctx, nil, id, req, nil, perr, time.Time{})
		}
	})
}
