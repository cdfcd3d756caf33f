package acmedns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/certfleet/certfleet/hub"
)

// Defaults for zero Config fields.
const (
	DefaultMaxBody      = 4 << 10
	DefaultRate         = 5.0 // requests/s per client address on /register, /update
	DefaultBurst        = 20
	DefaultVisibleWait  = 3 * time.Second
	DefaultStoreTimeout = 10 * time.Second
)

// Store is what the API keeps registrations in (hub/store.Store).
type Store interface {
	CreateACMEDNS(ctx context.Context, r hub.ACMEDNSRegistration) error
	GetACMEDNS(ctx context.Context, username string) (hub.ACMEDNSRegistration, error)
	SetACMEDNSTXT(ctx context.Context, username, value string, now time.Time) (hub.ACMEDNSRegistration, error)
	DeleteACMEDNS(ctx context.Context, username string) error
}

// Config tunes the API.
type Config struct {
	// Zone is the hub's zone: a registration's record is
	// <subdomain>.<Zone> ("fulldomain").
	Zone string
	// DisableRegistration refuses POST /register; admins register with
	// `certfleet-hub acmedns register`.
	DisableRegistration bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// CORSOrigins allowed to call the API from a browser ("*" = any);
	// empty disables CORS.
	CORSOrigins []string
	// MaxBody bounds a request body in bytes.
	MaxBody int64
	// Rate (requests/s) and Burst per client address on /register,
	// /update and DELETE /register; Rate < 0 disables the limit.
	Rate  float64
	Burst int
	// Visible, if set, reports whether the hub's DNS answers value at
	// fqdn: /update then returns only once it does (or after
	// VisibleWait), so a client that asks the CA to validate at once is
	// not ahead of the DNS.
	Visible     func(fqdn, value string) bool
	VisibleWait time.Duration
	// OnChange, if set, is told of registrations created ("registered")
	// and deleted by their owner ("removed"), for the audit log.
	OnChange func(ctx context.Context, event string, reg hub.ACMEDNSRegistration)
	// Now is the clock (tests); nil = time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// API is the acme-dns HTTP API. Its Handler is safe for concurrent use.
type API struct {
	cfg     Config
	store   Store
	log     *slog.Logger
	limiter *limiter
	auth    *authCache
}

// New checks cfg and prepares the API.
func New(cfg Config, st Store) (*API, error) {
	cfg.Zone = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(cfg.Zone)), ".")
	if cfg.Zone == "" {
		return nil, errors.New("acme-dns api: zone required")
	}
	if st == nil {
		return nil, errors.New("acme-dns api: store required")
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.VisibleWait <= 0 {
		cfg.VisibleWait = DefaultVisibleWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnChange == nil {
		cfg.OnChange = func(context.Context, string, hub.ACMEDNSRegistration) {}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, o := range cfg.CORSOrigins {
		if o == "" {
			return nil, fmt.Errorf("acme-dns api: empty cors origin")
		}
	}
	a := &API{cfg: cfg, store: st, log: cfg.Logger, auth: newAuthCache()}
	if cfg.Rate > 0 {
		a.limiter = newLimiter(cfg.Rate, cfg.Burst)
	}
	return a, nil
}

// FullDomain is the name whose TXT records a registration sets.
func (a *API) FullDomain(subdomain string) string { return subdomain + "." + a.cfg.Zone }

// Handler routes the API's endpoints.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /register", a.limited(a.register))
	mux.HandleFunc("DELETE /register", a.limited(a.unregister))
	mux.HandleFunc("POST /update", a.limited(a.update))
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	return a.cors(mux)
}

// HTTPServer wraps Handler in a server with the timeouts a public
// endpoint needs (slow-loris, idle connections).
func (a *API) HTTPServer() *http.Server {
	return &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
}

// writeJSON writes body as acme-dns does: the status, a JSON
// Content-Type, the bytes as they are.
func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// jsonError is acme-dns's error body, byte for byte: {"error": "<code>"}.
// Codes are fixed identifiers, never user input.
func jsonError(code string) []byte { return []byte(`{"error": "` + code + `"}`) }

// Error codes. The first group is acme-dns's own.
const (
	errMalformedJSON  = "malformed_json_payload"
	errInvalidCIDR    = "invalid_allowfrom_cidr"
	errForbidden      = "forbidden"
	errBadSubdomain   = "bad_subdomain"
	errBadTXT         = "bad_txt"
	errDB             = "db_error"
	errRegDisabled    = "registration_disabled"
	errTooLarge       = "payload_too_large"
	errRateLimited    = "rate_limited"
	errNotFound       = "not_found"
	errJSONMarshaling = "json_error"
)
