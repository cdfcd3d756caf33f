package web

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the dashboard.
type Options struct {
	Backend Backend
	Log     *slog.Logger
	// Secure marks cookies Secure (the dashboard is served over HTTPS).
	Secure bool
	// SilentAfter: an agent not heard from for this long shows offline.
	SilentAfter time.Duration
	// Zone is the hub's DNS zone, shown in the header.
	Zone string
	// Metrics, when set, is served at /metrics without login.
	Metrics http.Handler
	// ClientCerts logs in by client certificate: a certificate the TLS
	// listener verified against its client CAs logs in as the user named
	// by its subject CN, else the user whose e-mail is in its SANs.
	ClientCerts bool
}

// Server is the dashboard's HTTP handler.
type Server struct {
	opts     Options
	sessions *sessions
	pages    map[string]*template.Template
	mux      *http.ServeMux
}

// dummyHash is compared against when the user does not exist, so a login
// takes as long for an unknown name as for a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("certfleet-dummy-password"), bcrypt.DefaultCost)

// New parses the templates and sets up the routes.
func New(opts Options) (*Server, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	s := &Server{opts: opts, sessions: newSessions(), pages: map[string]*template.Template{}, mux: http.NewServeMux()}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		s.pages[base] = t
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	m := s.mux
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.authed(false, s.logout))
	m.HandleFunc("GET /{$}", s.authed(false, s.overview))
	m.HandleFunc("GET /agents", s.authed(false, s.agents))
	m.HandleFunc("GET /agents/new", s.authed(true, s.enrollForm))
	m.HandleFunc("POST /agents", s.authed(true, s.enroll))
	m.HandleFunc("GET /agents/{id}", s.authed(false, s.agent))
	m.HandleFunc("GET /agents/{id}/certs/{cert}", s.authed(false, s.cert))
	m.HandleFunc("GET /agents/{id}/renew", s.authed(true, s.renewConfirm))
	m.HandleFunc("POST /agents/{id}/renew", s.authed(true, s.renew))
	m.HandleFunc("GET /agents/{id}/remove", s.authed(true, s.removeConfirm))
	m.HandleFunc("POST /agents/{id}/remove", s.authed(true, s.remove))
	m.HandleFunc("GET /audit", s.authed(false, s.audit))
	m.HandleFunc("GET /domains", s.authed(false, s.domains))
	m.HandleFunc("POST /domains", s.authed(true, s.domainAdd))
	if opts.Metrics != nil {
		m.Handle("GET /metrics", opts.Metrics)
	}
	return s, nil
}

// ServeHTTP sets the headers every response carries and routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	if s.opts.Secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	s.mux.ServeHTTP(w, r)
}

// handler is a page handler for a logged-in user.
type handler func(w http.ResponseWriter, r *http.Request, ss *session)

// authed requires a session (and the admin role when admin), and a valid
// CSRF token on every POST.
func (s *Server) authed(admin bool, fn handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var tok string
		var ss *session
		if c, err := r.Cookie(sessionCookie); err == nil {
			tok, ss = c.Value, s.sessions.get(c.Value)
		}
		if ss == nil && r.Method == http.MethodGet {
			// A page opened with a client certificate that names a user
			// logs in. Only on GET: a browser sends the certificate with
			// cross-site requests too, and a POST needs the session's
			// CSRF token, which a new session's page has not shown yet.
			tok, ss, _ = s.certLogin(w, r)
		}
		if ss == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			s.fail(w, r, nil, http.StatusUnauthorized, "not logged in (or the session expired): log in again")
			return
		}
		// The user is read on every request, so removing a user or
		// changing its role takes effect at once, not at session end.
		u, err := s.opts.Backend.User(r.Context(), ss.user)
		switch {
		case errors.Is(err, store.ErrNotFound):
			s.sessions.drop(tok)
			s.fail(w, r, nil, http.StatusUnauthorized, "your account was removed")
			return
		case err != nil:
			s.opts.Log.Warn("web: read user", "user", ss.user, "err", err)
			s.fail(w, r, nil, http.StatusServiceUnavailable, "the hub cannot read its store: try again shortly")
			return
		}
		ss.role = u.Role
		if r.Method == http.MethodPost && !tokenEqual(ss.csrf, r.PostFormValue("csrf")) {
			s.opts.Log.Warn("web request with a bad CSRF token refused", "user", ss.user, "path", r.URL.Path, "remote", clientAddr(r))
			s.fail(w, r, ss, http.StatusForbidden, "the form's security token is missing or stale: reload the page and try again")
			return
		}
		if admin && ss.role != hub.RoleAdmin {
			s.fail(w, r, ss, http.StatusForbidden, "your account is read-only: ask an admin")
			return
		}
		fn(w, r, ss)
	}
}

// page is what every template gets.
type page struct {
	Title   string
	User    string
	IsAdmin bool
	CSRF    string
	Zone    string
	Nav     string
	Error   string
	Data    any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, ss *session, status int, name, title string, data any) {
	t := s.pages[name]
	if t == nil {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	p := page{Title: title, Zone: s.opts.Zone, Data: data, Nav: name}
	if ss != nil {
		p.User, p.IsAdmin, p.CSRF = ss.user, ss.role == hub.RoleAdmin, ss.csrf
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout.html", p); err != nil {
		s.opts.Log.Error("render page", "page", name, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, ss *session, status int, msg string) {
	s.render(w, r, ss, status, "error", http.StatusText(status), msg)
}

// backendError shows a failed operation; the admin API's errors are
// meant for admins and name the cause.
func (s *Server) backendError(w http.ResponseWriter, r *http.Request, ss *session, what string, err error) {
	s.opts.Log.Warn("web: "+what, "user", ss.user, "err", err)
	status := http.StatusBadGateway
	var pe *shared.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case shared.CodeUnknownAgent, shared.CodeNotFound:
			status = http.StatusNotFound
		case shared.CodeInternal:
		default:
			status = http.StatusBadRequest
		}
	}
	s.fail(w, r, ss, status, what+": "+err.Error())
}
