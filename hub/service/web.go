package service

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/hub/web"
	"github.com/certfleet/certfleet/shared"
)

// minPasswordLen is the shortest dashboard password accepted.
const minPasswordLen = 12

// webAdminHandlers are the admin verbs of the dashboard's users.
func (h *Hub) webAdminHandlers() map[string]func(context.Context, []byte) (any, error) {
	return map[string]func(context.Context, []byte) (any, error){
		admin.VerbUserAdd:    h.adminUserAdd,
		admin.VerbUserRemove: h.adminUserRemove,
		admin.VerbUserList:   h.adminUserList,
	}
}

func (h *Hub) adminUserAdd(ctx context.Context, data []byte) (any, error) {
	var req admin.UserAddRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	if err := store.ValidateUserName(req.Name); err != nil {
		return nil, shared.Errorf(shared.CodeBadRequest, "%v", err)
	}
	if req.Role != hub.RoleAdmin && req.Role != hub.RoleReadOnly {
		return nil, shared.Errorf(shared.CodeBadRequest, "--role %q: want admin or readonly", req.Role)
	}
	if len(req.Password) < minPasswordLen || len(req.Password) > 72 {
		return nil, shared.Errorf(shared.CodeBadRequest, "password: want %d to 72 characters", minPasswordLen)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), 12)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := time.Now().UTC()
	u := hub.User{Name: req.Name, Role: req.Role, Hash: string(hash), Created: now}
	if old, err := h.store.GetUser(ctx, req.Name); err == nil {
		u.Created, u.Updated = old.Created, now
	}
	if err := h.store.PutUser(ctx, u); err != nil {
		return nil, err
	}
	h.log.Info("dashboard user saved", "user", u.Name, "role", u.Role)
	return admin.UserInfo{Name: u.Name, Role: u.Role}, nil
}

func (h *Hub) adminUserRemove(ctx context.Context, data []byte) (any, error) {
	var req admin.NameRequest
	if err := decodeAdmin(data, &req); err != nil {
		return nil, err
	}
	if err := h.store.DeleteUser(ctx, req.Name); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, shared.Errorf(shared.CodeNotFound, "no user %q", req.Name)
		}
		return nil, err
	}
	return struct{}{}, nil
}

func (h *Hub) adminUserList(ctx context.Context, _ []byte) (any, error) {
	us, bad, err := h.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := admin.UserList{Users: []admin.UserInfo{}, Damaged: bad}
	for _, u := range us {
		out.Users = append(out.Users, admin.UserInfo{Name: u.Name, Role: u.Role})
	}
	return out, nil
}

// startWeb serves the dashboard on web.listen, when set.
func (h *Hub) startWeb() error {
	wc := h.cfg.Web
	if wc.Listen == "" {
		return nil
	}
	opts := web.Options{Backend: webBackend{h}, Log: h.log.With("component", "web"), Secure: wc.TLSCert != "",
		SilentAfter: h.cfg.Agents.SilentAfter.D(), Zone: h.cfg.DNS.Domain}
	if wc.Metrics {
		opts.Metrics = h.metrics.Handler()
	}
	srv, err := web.New(opts)
	if err != nil {
		return fmt.Errorf("set up the dashboard: %w", err)
	}
	ln, err := net.Listen("tcp", wc.Listen)
	if err != nil {
		return fmt.Errorf("listen web.listen %s: %w", wc.Listen, err)
	}
	scheme := "http"
	if wc.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(wc.TLSCert, wc.TLSKey)
		if err != nil {
			ln.Close()
			return fmt.Errorf("load web.tls_cert/web.tls_key: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	h.webSrv = &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute,
		// Handshake failures and the like are the client's problem: debug.
		ErrorLog: slog.NewLogLogger(h.log.With("component", "web").Handler(), slog.LevelDebug)}
	h.webURL = scheme + "://" + ln.Addr().String() + "/"
	go func() {
		if err := h.webSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("serve dashboard", "err", err)
		}
	}()
	h.log.Info("serving dashboard", "url", h.webURL)
	return nil
}

func (h *Hub) stopWeb() {
	if h.webSrv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.webSrv.Shutdown(ctx); err != nil {
		h.log.Warn("stop dashboard", "err", err)
	}
}

// webBackend runs the dashboard's operations through the same handlers as
// the admin API, so both enforce the same rules and write the same audit.
type webBackend struct{ h *Hub }

func call[T any](ctx context.Context, fn func(context.Context, []byte) (any, error), req any) (T, error) {
	var zero T
	b, err := json.Marshal(req)
	if err != nil {
		return zero, err
	}
	rep, err := fn(ctx, b)
	if err != nil {
		return zero, err
	}
	if v, ok := rep.(T); ok {
		return v, nil
	}
	return zero, fmt.Errorf("unexpected reply %T", rep)
}

// Status is the whole fleet from the snapshot: the dashboard runs in the
// hub, so no payload limit applies, and it pages and counts itself.
func (b webBackend) Status(context.Context) (admin.StatusReply, error) {
	return b.h.wholeFleet(), nil
}

func (b webBackend) Cert(ctx context.Context, req admin.CertRequest) (admin.CertReply, error) {
	return call[admin.CertReply](ctx, b.h.adminCertShow, req)
}

func (b webBackend) Audit(ctx context.Context, req admin.AuditRequest) (admin.AuditReply, error) {
	return call[admin.AuditReply](ctx, b.h.adminAudit, req)
}

func (b webBackend) Renew(ctx context.Context, req admin.RenewRequest) error {
	_, err := b.h.adminRenew(ctx, mustJSON(req))
	return err
}

func (b webBackend) AgentAdd(ctx context.Context, req admin.AgentAddRequest) (admin.AgentAddReply, error) {
	return call[admin.AgentAddReply](ctx, b.h.adminAgentAdd, req)
}

func (b webBackend) AgentRemove(ctx context.Context, req admin.AgentRemoveRequest) error {
	_, err := b.h.adminAgentRemove(ctx, mustJSON(req))
	return err
}

func (b webBackend) Domains(ctx context.Context) (admin.DomainList, error) {
	return call[admin.DomainList](ctx, b.h.adminDomainList, nil)
}

func (b webBackend) DomainAdd(ctx context.Context, req admin.DomainAddRequest) (admin.DomainAddReply, error) {
	return call[admin.DomainAddReply](ctx, b.h.adminDomainAdd, req)
}

func (b webBackend) DomainCheck(ctx context.Context, req admin.DomainCheckRequest) (admin.DomainCheckReply, error) {
	return call[admin.DomainCheckReply](ctx, b.h.adminDomainCheck, req)
}

func (b webBackend) User(ctx context.Context, name string) (hub.User, error) {
	return b.h.store.GetUser(ctx, name)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // admin request types always encode
	}
	return b
}
