package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/config"
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
	email, err := userEmail(ctx, h, req)
	if err != nil {
		return nil, err
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), 12)
	if err != nil {
		return nil, fmt.Errorf("hash password: %w", err)
	}
	now := time.Now().UTC()
	u := hub.User{Name: req.Name, Role: req.Role, Hash: string(hash), Email: email, Created: now}
	if old, err := h.store.GetUser(ctx, req.Name); err == nil {
		u.Created, u.Updated = old.Created, now
	}
	if err := h.store.PutUser(ctx, u); err != nil {
		return nil, err
	}
	h.log.Info("dashboard user saved", "user", u.Name, "role", u.Role, "email", u.Email)
	return admin.UserInfo{Name: u.Name, Role: u.Role, Email: u.Email}, nil
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
		out.Users = append(out.Users, admin.UserInfo{Name: u.Name, Role: u.Role, Email: u.Email})
	}
	return out, nil
}

// startWeb serves the dashboard on web.listen, when set: over TLS from
// files (reloaded when they change) or with a certificate the hub
// obtains for web.hostname itself, and with web.client_ca, logging users
// in by client certificate.
func (h *Hub) startWeb(ctx context.Context) error {
	wc := h.cfg.Web
	if wc.Listen == "" {
		return nil
	}
	mode := wc.TLSMode()
	opts := web.Options{Backend: webBackend{h}, Log: h.log.With("component", "web"), Secure: mode != config.WebTLSOff,
		SilentAfter: h.cfg.Agents.SilentAfter.D(), Zone: h.cfg.DNS.Domain, ClientCerts: wc.ClientCA != ""}
	if wc.Metrics {
		opts.Metrics = h.metrics.Handler()
	}
	srv, err := web.New(opts)
	if err != nil {
		return fmt.Errorf("set up the dashboard: %w", err)
	}
	tlsCfg, err := h.webTLS(ctx)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", wc.Listen)
	if err != nil {
		h.stopWebCert()
		return fmt.Errorf("listen web.listen %s: %w", wc.Listen, err)
	}
	scheme := "http"
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
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
	h.log.Info("serving dashboard", "url", h.webURL, "tls", mode, "client_certificates", wc.ClientCA != "")
	return nil
}

// webTLS is the dashboard's TLS configuration (nil for plain HTTP).
// Certificates come through GetCertificate, so a renewed one (new files,
// or one the hub obtained) is served from the next handshake on.
func (h *Hub) webTLS(ctx context.Context) (*tls.Config, error) {
	wc := h.cfg.Web
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch wc.TLSMode() {
	case config.WebTLSOff:
		return nil, nil
	case config.WebTLSFiles:
		fc, err := newFileCert(wc.TLSCert, wc.TLSKey, "web.tls_cert/web.tls_key")
		if err != nil {
			return nil, err
		}
		cfg.GetCertificate = fc.get
	case config.WebTLSSelf:
		sc, err := h.newSelfCert(ctx, selfCertSpec{what: "dashboard", name: wc.Hostname,
			dir: h.dir().Web(), base: "web", account: "web"})
		if err != nil {
			return nil, err
		}
		h.webCert = sc
		cfg.GetCertificate = sc.get
	}
	if wc.ClientCA != "" {
		pem, err := os.ReadFile(wc.ClientCA)
		if err != nil {
			h.stopWebCert()
			return nil, fmt.Errorf("read web.client_ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			h.stopWebCert()
			return nil, fmt.Errorf("read web.client_ca %s: no PEM certificate in it", wc.ClientCA)
		}
		// Asked for, not required: without a certificate the password
		// form still works. One that is sent must verify (and carry the
		// clientAuth extended key usage), or the handshake fails.
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

func (h *Hub) stopWebCert() {
	if h.webCert != nil {
		h.webCert.stop()
		h.webCert = nil
	}
}

func (h *Hub) stopWeb() {
	defer h.stopWebCert()
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

func (b webBackend) AgentStatus(ctx context.Context, id string) (hub.AgentStatus, error) {
	return b.h.store.GetStatus(ctx, id)
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

func (b webBackend) UserByEmail(ctx context.Context, email string) (hub.User, error) {
	return userByEmail(ctx, b.h, email, "")
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // admin request types always encode
	}
	return b
}
