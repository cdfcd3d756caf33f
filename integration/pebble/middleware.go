package pebble

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Pebble's ACME paths (wfe package constants, unexported there).
const (
	pathNewAccount = "/sign-me-up"
	pathNewOrder   = "/order-plz"
	pathFinalize   = "/finalize-order/"
	pathChallenge  = "/chalZ/"
	pathAuthz      = "/authZ/"
)

// Stats counts what the CA did since it started.
type Stats struct {
	// AccountsCreated counts newAccount requests that created an account
	// (201); requests that found an existing one are not counted.
	AccountsCreated int64
	// OrdersCreated counts newOrder requests that created an order (201).
	OrdersCreated int64
	// OrdersFinalized counts finalize requests the CA accepted (200): each
	// is one certificate issued.
	OrdersFinalized int64
	// RateLimited counts responses replaced by a rateLimited problem.
	RateLimited int64
}

// middleware wraps Pebble's ACME handler.
type middleware struct {
	next       http.Handler
	retryAfter string // Retry-After for challenge responses; "" = none

	accounts, orders, finalized, limited atomic.Int64

	// lockOrder keeps Pebble's new-order handler from running while an
	// authorization handler does. Pebble v2.10.3 takes their locks in
	// opposite orders: newOrder holds the store's read lock while it
	// read-locks every authorization (FindValidAuthorization), the authz
	// handler holds its authorization's write lock while it read-locks the
	// store (the account lookup). With any store writer waiting in between
	// (a certificate being stored, a challenge added) all three wait for
	// each other and the CA hangs for good; clients polling authorizations
	// while others place orders (a few hundred concurrent orders) hit it.
	lockOrder sync.RWMutex

	mu             sync.Mutex
	limitLeft      int
	limitRetryWait time.Duration
	dropFinalize   int // finalize responses still to lose
}

func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == pathNewOrder && m.takeLimit(w) {
		return
	}
	if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, pathFinalize) && m.dropsLeft() {
		m.finalizeMaybeLost(w, r)
		return
	}
	if m.retryAfter != "" && r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, pathChallenge) {
		// Pebble sends no Retry-After here; lego then polls the
		// authorization only after ~5 s. Set before Pebble writes.
		w.Header().Set("Retry-After", m.retryAfter)
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == pathNewOrder:
		m.lockOrder.Lock()
		defer m.lockOrder.Unlock()
	case strings.HasPrefix(r.URL.Path, pathAuthz):
		m.lockOrder.RLock()
		defer m.lockOrder.RUnlock()
	}
	sw := &statusWriter{ResponseWriter: w}
	m.next.ServeHTTP(sw, r)
	if r.Method != http.MethodPost {
		return
	}
	switch {
	case r.URL.Path == pathNewAccount && sw.status == http.StatusCreated:
		m.accounts.Add(1)
	case r.URL.Path == pathNewOrder && sw.status == http.StatusCreated:
		m.orders.Add(1)
	case strings.HasPrefix(r.URL.Path, pathFinalize) && sw.status == http.StatusOK:
		m.finalized.Add(1)
	}
}

// takeLimit answers with a rateLimited problem if one is pending.
func (m *middleware) takeLimit(w http.ResponseWriter) bool {
	m.mu.Lock()
	if m.limitLeft <= 0 {
		m.mu.Unlock()
		return false
	}
	m.limitLeft--
	wait := m.limitRetryWait
	m.mu.Unlock()
	m.limited.Add(1)

	secs := int((wait + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = fmt.Fprintf(w, `{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many new orders (injected by the test CA); retry after %d seconds","status":429}`, secs)
	return true
}

// dropsLeft reports whether finalize responses are still to be lost.
func (m *middleware) dropsLeft() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dropFinalize > 0
}

// takeDrop uses up one lost response, if any is left.
func (m *middleware) takeDrop() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dropFinalize <= 0 {
		return false
	}
	m.dropFinalize--
	return true
}

// finalizeMaybeLost lets Pebble handle a finalize request. If Pebble
// finalized the order, the connection breaks instead of the answer going
// out: the client cannot tell whether the CA acted. Refusals (a bad nonce,
// an order not ready) go out as they are.
func (m *middleware) finalizeMaybeLost(w http.ResponseWriter, r *http.Request) {
	rec := &bufferWriter{header: http.Header{}}
	m.next.ServeHTTP(rec, r)
	if rec.status == http.StatusOK {
		m.finalized.Add(1)
		if m.takeDrop() {
			// net/http aborts the response (HTTP/1 closes the
			// connection, HTTP/2 resets the stream) and logs nothing.
			panic(http.ErrAbortHandler)
		}
	}
	maps.Copy(w.Header(), rec.header)
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
}

func (m *middleware) stats() Stats {
	return Stats{
		AccountsCreated: m.accounts.Load(),
		OrdersCreated:   m.orders.Load(),
		OrdersFinalized: m.finalized.Load(),
		RateLimited:     m.limited.Load(),
	}
}

// statusWriter records the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// bufferWriter is a ResponseWriter that keeps the response.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }

func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferWriter) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}
