package web

import (
	"context"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
)

// Backend is what the dashboard reads and does: the hub's admin
// operations, called in-process.
type Backend interface {
	Status(ctx context.Context) (admin.StatusReply, error)
	// AgentStatus returns one agent's latest status, its unmanaged
	// certificates included (which Status leaves out).
	AgentStatus(ctx context.Context, id string) (hub.AgentStatus, error)
	// Cert is one certificate, with its PEM chain when asked for.
	Cert(ctx context.Context, req admin.CertRequest) (admin.CertReply, error)
	Audit(ctx context.Context, req admin.AuditRequest) (admin.AuditReply, error)
	Renew(ctx context.Context, req admin.RenewRequest) error
	AgentAdd(ctx context.Context, req admin.AgentAddRequest) (admin.AgentAddReply, error)
	AgentRemove(ctx context.Context, req admin.AgentRemoveRequest) error
	Domains(ctx context.Context) (admin.DomainList, error)
	DomainAdd(ctx context.Context, req admin.DomainAddRequest) (admin.DomainAddReply, error)
	DomainCheck(ctx context.Context, req admin.DomainCheckRequest) (admin.DomainCheckReply, error)
	// User returns the dashboard user called name (an error when unknown).
	User(ctx context.Context, name string) (hub.User, error)
	// UserByEmail returns the user with this e-mail address (lower
	// case); store.ErrNotFound when none, an error when several.
	UserByEmail(ctx context.Context, email string) (hub.User, error)
}
