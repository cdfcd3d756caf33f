package pebble

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
)

// Profile is an ACME profile the CA offers.
type Profile struct {
	Description string
	// Validity is the lifetime of certificates issued under the profile;
	// 0 means Pebble's default (about five years).
	Validity time.Duration
}

// DefaultProfiles mirror Let's Encrypt's: a 90-day and a 160-hour profile.
func DefaultProfiles() map[string]Profile {
	return map[string]Profile{
		"classic":    {Description: "90-day certificates", Validity: 90 * 24 * time.Hour},
		"shortlived": {Description: "160-hour certificates", Validity: 160 * time.Hour},
	}
}

// Options configure the CA.
type Options struct {
	// DNSServer is the "host:port" Pebble's VA sends its TXT queries to
	// (one query per validation perspective, over TCP, RD set). Required,
	// so that validation never falls back to the system resolver.
	DNSServer string
	// Listen is the ACME API's address; default "127.0.0.1:0". The
	// management API listens on the same host, another free port.
	Listen string
	// Hosts are extra names or IPs for the HTTPS certificate; 127.0.0.1,
	// ::1 and localhost are always included.
	Hosts []string
	// Profiles offered in the directory; nil means DefaultProfiles. Pebble
	// picks one at random for orders that name none.
	Profiles map[string]Profile
	// EAB makes the CA require external account binding; a key is made at
	// start, see CA.EAB.
	EAB bool
	// AuthzReusePercent is how often Pebble reuses a valid authorization;
	// 0 (the default here; Pebble's own default is 50) validates every order.
	AuthzReusePercent int
	// NoBadNonces stops Pebble from rejecting 5% of good nonces (which
	// exercises the client's retries; lego retries after ~200 ms).
	NoBadNonces bool
	// ChallengeRetryAfter, when > 0, is sent as Retry-After (whole seconds,
	// at least 1) on challenge responses, and Pebble's own Retry-After on
	// pending authorizations and processing orders. 0 keeps Pebble's
	// behaviour: no Retry-After, so lego polls after ~5 s.
	ChallengeRetryAfter time.Duration
	// ChainLength is the number of intermediates; default 1.
	ChainLength int
	// Logger receives Pebble's (verbose) log at debug level; nil means
	// slog.Default().
	Logger *slog.Logger
}

// CA is a running in-process Pebble.
type CA struct {
	dirURL, mgmtURL string
	tlsRootPEM      []byte
	rootsPEM        []byte
	interPEM        []byte
	eabKID, eabHMAC string
	mw              *middleware
	servers         []*http.Server
	closeOnce       sync.Once
	closeErr        error
}

// envMu serializes Starts: Pebble reads its settings from the environment
// in va.New and wfe.New, so Start sets them, builds, and restores them.
var envMu sync.Mutex

// Start runs a Pebble CA. The returned CA serves until Close.
func Start(opts Options) (*CA, error) {
	if opts.DNSServer == "" {
		return nil, errors.New("start pebble: DNSServer is required")
	}
	if _, _, err := net.SplitHostPort(opts.DNSServer); err != nil {
		return nil, fmt.Errorf("start pebble: DNSServer %q: %w", opts.DNSServer, err)
	}
	if opts.AuthzReusePercent < 0 || opts.AuthzReusePercent > 100 {
		return nil, fmt.Errorf("start pebble: AuthzReusePercent %d: want 0-100", opts.AuthzReusePercent)
	}
	if opts.Listen == "" {
		opts.Listen = "127.0.0.1:0"
	}
	if opts.Profiles == nil {
		opts.Profiles = DefaultProfiles()
	}
	if len(opts.Profiles) == 0 {
		return nil, errors.New("start pebble: Profiles: at least one profile is needed")
	}
	if opts.ChainLength <= 0 {
		opts.ChainLength = 1
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	plog := slog.NewLogLogger(logger.With("component", "pebble").Handler(), slog.LevelDebug)

	c := &CA{}
	profiles := make(map[string]ca.Profile, len(opts.Profiles))
	for name, p := range opts.Profiles {
		profiles[name] = ca.Profile{Description: p.Description, ValidityPeriod: uint64(p.Validity / time.Second)}
	}
	retryAfter := 0
	if opts.ChallengeRetryAfter > 0 {
		retryAfter = max(1, int((opts.ChallengeRetryAfter+time.Second-1)/time.Second))
	}

	store := db.NewMemoryStore()
	if opts.EAB {
		c.eabKID = "certfleet-test-" + randomSerial().Text(36)[:8]
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("start pebble: EAB key: %w", err)
		}
		c.eabHMAC = base64.RawURLEncoding.EncodeToString(key)
		if err := store.AddExternalAccountKeyByID(c.eabKID, c.eabHMAC); err != nil {
			return nil, fmt.Errorf("start pebble: EAB key: %w", err)
		}
	}

	front := buildPebble(plog, store, opts, profiles, retryAfter)
	c.rootsPEM, c.interPEM = front.roots, front.intermediates

	hosts := append([]string{"127.0.0.1", "::1", "localhost"}, opts.Hosts...)
	cert, rootPEM, err := MakeTLS(hosts)
	if err != nil {
		return nil, fmt.Errorf("start pebble: %w", err)
	}
	c.tlsRootPEM = rootPEM
	tlsConf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	c.mw = &middleware{next: front.acme}
	if retryAfter > 0 {
		c.mw.retryAfter = strconv.Itoa(retryAfter)
	}

	acmeLn, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return nil, fmt.Errorf("start pebble: listen %s: %w", opts.Listen, err)
	}
	host, _, _ := net.SplitHostPort(acmeLn.Addr().String())
	mgmtLn, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		_ = acmeLn.Close()
		return nil, fmt.Errorf("start pebble: listen management: %w", err)
	}
	c.dirURL = "https://" + urlHost(acmeLn.Addr()) + wfe.DirectoryPath
	c.mgmtURL = "https://" + urlHost(mgmtLn.Addr())

	errLog := slog.NewLogLogger(logger.With("component", "pebble-http").Handler(), slog.LevelDebug)
	for _, s := range []struct {
		ln net.Listener
		h  http.Handler
	}{{acmeLn, c.mw}, {mgmtLn, front.mgmt}} {
		srv := &http.Server{
			Handler:           s.h,
			TLSConfig:         tlsConf.Clone(), // the server adds its ALPN protocols to it
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          errLog,
		}
		c.servers = append(c.servers, srv)
		go func(ln net.Listener) {
			// ServeTLS returns ErrServerClosed on Close; anything else
			// shows up as failing requests in the caller's test.
			_ = srv.ServeTLS(ln, "", "")
		}(s.ln)
	}
	return c, nil
}

// pebbleParts is what buildPebble assembles.
type pebbleParts struct {
	acme, mgmt           http.Handler
	roots, intermediates []byte
}

// buildPebble constructs Pebble's CA, VA and WFE with the environment set as
// opts asks. The VA keeps one goroutine for the life of the process (Pebble
// offers no way to stop it).
func buildPebble(plog *log.Logger, store *db.MemoryStore, opts Options, profiles map[string]ca.Profile, retryAfter int) pebbleParts {
	envMu.Lock()
	defer envMu.Unlock()
	nonceReject := "5"
	if opts.NoBadNonces {
		nonceReject = "0"
	}
	restore := setEnv(map[string]string{
		"PEBBLE_VA_NOSLEEP":      "1",
		"PEBBLE_VA_ALWAYS_VALID": "0", // validation is always real
		"PEBBLE_AUTHZREUSE":      strconv.Itoa(opts.AuthzReusePercent),
		"PEBBLE_WFE_NONCEREJECT": nonceReject,
	})
	defer restore()

	authority := ca.New(plog, store, "", "ecdsa", 0, opts.ChainLength, profiles)
	validator := va.New(plog, 5002, 5001, false, opts.DNSServer, store)
	front := wfe.New(plog, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, opts.EAB, retryAfter, retryAfter)

	var roots, inters bytes.Buffer
	for i := range authority.GetNumberOfRootCerts() {
		roots.Write(authority.GetRootCert(i).PEM())
		inters.Write(authority.GetIntermediateCert(i).PEM())
	}
	return pebbleParts{
		acme:          front.Handler(),
		mgmt:          front.ManagementHandler(),
		roots:         roots.Bytes(),
		intermediates: inters.Bytes(),
	}
}

// setEnv sets vars and returns a function restoring the previous values.
func setEnv(vars map[string]string) func() {
	type prev struct {
		value string
		set   bool
	}
	old := make(map[string]prev, len(vars))
	for k, v := range vars {
		pv, ok := os.LookupEnv(k)
		old[k] = prev{pv, ok}
		_ = os.Setenv(k, v)
	}
	return func() {
		for k, p := range old {
			if p.set {
				_ = os.Setenv(k, p.value)
			} else {
				_ = os.Unsetenv(k)
			}
		}
	}
}

// urlHost is addr as a URL host; an unspecified IP becomes loopback.
func urlHost(addr net.Addr) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// DirectoryURL is the ACME directory, e.g. "https://127.0.0.1:40123/dir".
func (c *CA) DirectoryURL() string { return c.dirURL }

// ManagementURL is the base of Pebble's management API (/roots/0,
// /intermediates/0, /cert-status-by-serial/, /set-renewal-info/).
func (c *CA) ManagementURL() string { return c.mgmtURL }

// RootsPEM returns the issuing root certificates (what /roots/N serves).
func (c *CA) RootsPEM() []byte { return bytes.Clone(c.rootsPEM) }

// IntermediatesPEM returns the intermediates that sign leaves.
func (c *CA) IntermediatesPEM() []byte { return bytes.Clone(c.interPEM) }

// TLSRootPEM returns the root the HTTPS servers' certificate chains to:
// what an ACME client must trust to reach DirectoryURL.
func (c *CA) TLSRootPEM() []byte { return bytes.Clone(c.tlsRootPEM) }

// WriteTLSRoot writes TLSRootPEM to path (0644: it is public), creating the
// directory if needed.
func (c *CA) WriteTLSRoot(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write TLS root: %w", err)
	}
	if err := os.WriteFile(path, c.tlsRootPEM, 0o644); err != nil {
		return fmt.Errorf("write TLS root: %w", err)
	}
	return nil
}

// EAB returns the external account binding key id and base64url HMAC key
// when Options.EAB is set, else empty strings.
func (c *CA) EAB() (keyID, hmacKey string) { return c.eabKID, c.eabHMAC }

// Stats returns the counters since start.
func (c *CA) Stats() Stats { return c.mw.stats() }

// RateLimitOrders makes the next n newOrder requests fail with HTTP 429 and
// an ACME rateLimited problem carrying Retry-After: wait (rounded up to
// whole seconds). No order is created for them.
func (c *CA) RateLimitOrders(n int, wait time.Duration) {
	c.mw.mu.Lock()
	c.mw.limitLeft = n
	c.mw.limitRetryWait = wait
	c.mw.mu.Unlock()
}

// LoseFinalizeResponses makes the responses to the next n finalize
// requests that Pebble accepts get lost: the order is finalized (and
// counted in OrdersFinalized), but the connection breaks before the client
// hears of it, as when the client crashes or the network fails
// mid-request. Refused finalize requests are answered normally.
func (c *CA) LoseFinalizeResponses(n int) {
	c.mw.mu.Lock()
	c.mw.dropFinalize = n
	c.mw.mu.Unlock()
}

// Close stops the HTTPS servers, waiting up to five seconds for requests in
// flight. It is safe to call more than once.
func (c *CA) Close() error {
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, s := range c.servers {
			if err := s.Shutdown(ctx); err != nil {
				_ = s.Close()
				c.closeErr = errors.Join(c.closeErr, fmt.Errorf("close pebble: %w", err))
			}
		}
	})
	return c.closeErr
}
