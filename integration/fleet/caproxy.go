package fleet

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
)

// Kinds of ACME requests the proxy tells apart, by Pebble's paths.
const (
	KindDirectory   = "directory"
	KindNonce       = "nonce"
	KindAccount     = "account"
	KindNewOrder    = "new-order"
	KindOrder       = "order"
	KindFinalize    = "finalize"
	KindAuthz       = "authz"
	KindChallenge   = "challenge"
	KindCert        = "cert"
	KindRenewalInfo = "renewal-info"
	KindOther       = "other"
)

// kindOf classifies a request path (Pebble's wfe paths).
func kindOf(path string) string {
	switch {
	case path == "/dir":
		return KindDirectory
	case path == "/nonce-plz":
		return KindNonce
	case path == "/sign-me-up" || strings.HasPrefix(path, "/my-account/"):
		return KindAccount
	case path == "/order-plz":
		return KindNewOrder
	case strings.HasPrefix(path, "/my-order/"):
		return KindOrder
	case strings.HasPrefix(path, "/finalize-order/"):
		return KindFinalize
	case strings.HasPrefix(path, "/authZ/"):
		return KindAuthz
	case strings.HasPrefix(path, "/chalZ/"):
		return KindChallenge
	case strings.HasPrefix(path, "/certZ/"):
		return KindCert
	case strings.Contains(path, "/renewalInfo/"):
		return KindRenewalInfo
	}
	return KindOther
}

// Hit is one request the proxy answered.
type Hit struct {
	Kind   string
	Method string
	// At is when the request arrived.
	At time.Time
	// Status is what the client got (the injected status for faults;
	// 0 when the client went away first).
	Status int
	// Injected is true when the proxy answered instead of the CA.
	Injected bool
}

// CAProxy is a fault-injecting HTTPS reverse proxy in front of an ACME CA
// (Pebble) for tests: the hub's [[ca]] directory points at it, and a test
// makes the CA fail new orders with 500 or 429 + Retry-After, go down
// (connections refused), or hold finalize responses, and counts every
// request. The CA builds its URLs from the Host header, which the proxy
// keeps, and any absolute URL naming the CA itself is rewritten to the
// proxy, so the client never talks to the CA directly.
type CAProxy struct {
	log      *slog.Logger
	upstream *url.URL
	rp       *httputil.ReverseProxy
	cert     tls.Certificate
	rootPEM  []byte
	addr     string // host:port, fixed for the proxy's life
	closed   chan struct{}

	mu         sync.Mutex
	srv        *http.Server // nil while down
	ln         net.Listener
	hits       []Hit
	failStatus int // 0 = pass
	failLeft   int // remaining injected failures; <0 = until Pass
	retryAfter time.Duration
	hold       chan struct{} // non-nil while finalize responses are held
	held       int
	closeOnce  sync.Once
}

// StartCAProxy starts a proxy on 127.0.0.1 in front of the ACME directory
// upstreamDir, trusting upstreamRootPEM for the upstream's HTTPS.
func StartCAProxy(upstreamDir string, upstreamRootPEM []byte, logger *slog.Logger) (*CAProxy, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	u, err := url.Parse(upstreamDir)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("start ca proxy: upstream %q: want an https directory URL", upstreamDir)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(upstreamRootPEM) {
		return nil, errors.New("start ca proxy: no certificate in the upstream root PEM")
	}
	// An HTTPS identity of its own, trusted by the hub through ca_bundle
	// as it would trust a real CA's WebPKI chain.
	cert, rootPEM, err := pebble.MakeTLS([]string{"127.0.0.1", "::1", "localhost"})
	if err != nil {
		return nil, fmt.Errorf("start ca proxy: %w", err)
	}
	p := &CAProxy{log: logger, upstream: &url.URL{Scheme: u.Scheme, Host: u.Host}, cert: cert, rootPEM: rootPEM,
		closed: make(chan struct{})}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(p.upstream)
			// The CA builds every URL it hands out (and checks the JWS
			// "url") from Host: keep the proxy's.
			r.Out.Host = r.In.Host
			// Bodies are rewritten below; keep them plain.
			r.Out.Header.Del("Accept-Encoding")
		},
		Transport: &http.Transport{
			TLSClientConfig:       &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			ResponseHeaderTimeout: 30 * time.Second,
			MaxIdleConnsPerHost:   16,
		},
		ModifyResponse: p.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.log.Debug("ca proxy: upstream failed", "path", r.URL.Path, "err", err)
			w.WriteHeader(http.StatusBadGateway)
		},
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start ca proxy: %w", err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	return p, nil
}

// DirectoryURL is the proxied ACME directory.
func (p *CAProxy) DirectoryURL() string { return "https://" + p.addr + "/dir" }

// RootPEM is the root the proxy's HTTPS certificate chains to.
func (p *CAProxy) RootPEM() []byte { return bytes.Clone(p.rootPEM) }

// WriteRoot writes RootPEM to path (public, 0644).
func (p *CAProxy) WriteRoot(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write proxy root: %w", err)
	}
	if err := os.WriteFile(path, p.rootPEM, 0o644); err != nil {
		return fmt.Errorf("write proxy root: %w", err)
	}
	return nil
}

func (p *CAProxy) serve(ln net.Listener) {
	srv := &http.Server{
		Handler:           http.HandlerFunc(p.handle),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{p.cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	p.mu.Lock()
	p.srv, p.ln = srv, ln
	p.mu.Unlock()
	go func() { _ = srv.ServeTLS(ln, "", "") }()
}

// Down closes the listener and every open connection: until Up, clients
// get "connection refused", as from a CA that is down.
func (p *CAProxy) Down() {
	p.mu.Lock()
	srv, ln := p.srv, p.ln
	p.srv, p.ln = nil, nil
	p.mu.Unlock()
	if srv != nil {
		// Close the listener here too: Serve may not have taken it yet,
		// and Down must refuse connections once it returns.
		_ = ln.Close()
		_ = srv.Close()
	}
}

// Up listens again on the same address after Down.
func (p *CAProxy) Up() error {
	p.mu.Lock()
	up := p.srv != nil
	p.mu.Unlock()
	if up {
		return nil
	}
	select {
	case <-p.closed:
		return errors.New("ca proxy: closed")
	default:
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return fmt.Errorf("ca proxy: listen again on %s: %w", p.addr, err)
	}
	p.serve(ln)
	return nil
}

// FailNewOrders makes the next n newOrder requests (n <= 0: every one
// until Pass) fail with status without reaching the CA: 500 answers a
// serverInternal problem, 429 a rateLimited problem with Retry-After
// (whole seconds, rounded up).
func (p *CAProxy) FailNewOrders(status, n int, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failStatus, p.failLeft, p.retryAfter = status, n, retryAfter
	if n <= 0 {
		p.failLeft = -1
	}
}

// Pass stops injecting failures and releases held responses.
func (p *CAProxy) Pass() {
	p.mu.Lock()
	p.failStatus, p.failLeft = 0, 0
	p.mu.Unlock()
	p.HoldFinalize(false)
}

// HoldFinalize, while on, holds every finalize response the CA accepted
// (200: the certificate is issued at the CA, the client does not know
// yet) until it is turned off or the client goes away.
func (p *CAProxy) HoldFinalize(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case on && p.hold == nil:
		p.hold = make(chan struct{})
	case !on && p.hold != nil:
		close(p.hold)
		p.hold = nil
	}
}

// Held is the number of finalize responses held now.
func (p *CAProxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// Hits returns the requests of kind ("" = all) answered so far.
func (p *CAProxy) Hits(kind string) []Hit {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Hit
	for _, h := range p.hits {
		if kind == "" || h.Kind == kind {
			out = append(out, h)
		}
	}
	return out
}

// Close stops the proxy and releases anything held.
func (p *CAProxy) Close() {
	p.closeOnce.Do(func() { close(p.closed) })
	p.Down()
}

func (p *CAProxy) record(h Hit) {
	p.mu.Lock()
	p.hits = append(p.hits, h)
	p.mu.Unlock()
}

// takeFault returns the status to inject for a newOrder, or 0.
func (p *CAProxy) takeFault() (int, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failStatus == 0 || p.failLeft == 0 {
		return 0, 0
	}
	if p.failLeft > 0 {
		p.failLeft--
	}
	return p.failStatus, p.retryAfter
}

func (p *CAProxy) handle(w http.ResponseWriter, r *http.Request) {
	// Arrival time: the client cannot have seen an answer before it.
	at := time.Now()
	kind := kindOf(r.URL.Path)
	if kind == KindNewOrder && r.Method == http.MethodPost {
		if status, wait := p.takeFault(); status != 0 {
			p.inject(w, status, wait)
			p.record(Hit{Kind: kind, Method: r.Method, At: at, Status: status, Injected: true})
			return
		}
	}
	sw := &proxyStatusWriter{ResponseWriter: w}
	p.rp.ServeHTTP(sw, r)
	p.record(Hit{Kind: kind, Method: r.Method, At: at, Status: sw.status})
}

// inject answers an ACME problem as the CA would.
func (p *CAProxy) inject(w http.ResponseWriter, status int, wait time.Duration) {
	typ, detail := "serverInternal", "the CA failed (injected by the test proxy)"
	if status == http.StatusTooManyRequests {
		secs := int((wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		typ, detail = "rateLimited", fmt.Sprintf("too many new orders (injected by the test proxy); retry after %d seconds", secs)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"type":"urn:ietf:params:acme:error:%s","detail":%q,"status":%d}`, typ, detail, status)
}

// maxBody bounds a response body the proxy rewrites.
const maxBody = 4 << 20

// modifyResponse rewrites absolute URLs naming the CA to the proxy and
// holds finalize responses while asked to.
func (p *CAProxy) modifyResponse(resp *http.Response) error {
	req := resp.Request
	self := "https://" + req.Host
	from := p.upstream.String()
	for _, h := range []string{"Location", "Link"} {
		vals := resp.Header.Values(h)
		for i, v := range vals {
			vals[i] = strings.ReplaceAll(v, from, self)
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_ = resp.Body.Close()
	if err != nil {
		return fmt.Errorf("read upstream body: %w", err)
	}
	body = bytes.ReplaceAll(body, []byte(from), []byte(self))
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Set("Content-Length", strconv.Itoa(len(body)))

	// Only a finalize the CA accepted is held; an error (a bad nonce the
	// client will retry) goes through.
	if kindOf(req.URL.Path) != KindFinalize || resp.StatusCode != http.StatusOK {
		return nil
	}
	p.mu.Lock()
	hold := p.hold
	if hold != nil {
		p.held++
	}
	p.mu.Unlock()
	if hold == nil {
		return nil
	}
	defer func() {
		p.mu.Lock()
		p.held--
		p.mu.Unlock()
	}()
	select {
	case <-hold:
		return nil
	case <-p.closed:
		return errors.New("ca proxy closed")
	case <-req.Context().Done():
		return context.Cause(req.Context())
	}
}

// proxyStatusWriter records the status sent to the client.
type proxyStatusWriter struct {
	http.ResponseWriter
	status int
}

func (s *proxyStatusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (s *proxyStatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *proxyStatusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}
