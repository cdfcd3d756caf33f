package issuer

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
)

// orderLog records the URLs Obtain hands to OnOrder.
type orderLog struct {
	mu   sync.Mutex
	urls []string
	err  error // OnOrder returns it after recording
}

func (l *orderLog) onOrder(u string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.urls = append(l.urls, u)
	return l.err
}

func (l *orderLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// only returns the one URL recorded, failing t unless there is exactly one.
func (l *orderLog) only(t *testing.T) string {
	t.Helper()
	urls := l.all()
	if len(urls) != 1 {
		t.Fatalf("OnOrder called %d times (%v), want once", len(urls), urls)
	}
	return urls[0]
}

// noOrder is an OnOrder for resumed calls: a new order there is a failure.
func noOrder(t *testing.T) func(string) error {
	return func(u string) error {
		t.Errorf("a new order %s was created; the order should have been resumed", u)
		return nil
	}
}

// wantStats fails t unless the CA created and finalized these many orders.
func wantStats(t *testing.T, ca *pebble.CA, created, finalized int64) {
	t.Helper()
	if s := ca.Stats(); s.OrdersCreated != created || s.OrdersFinalized != finalized {
		t.Errorf("CA stats %+v: want %d orders created, %d finalized", s, created, finalized)
	}
}

// wantState fails t unless the order is in state.
func wantState(t *testing.T, iss *Issuer, orderURL, state string) {
	t.Helper()
	got, err := iss.OrderState(testCtx(t), orderURL)
	if err != nil || got != state {
		t.Fatalf("OrderState = %q, %v; want %q", got, err, state)
	}
}

// A hub that crashed after the CA issued, before it stored the
// certificate, downloads the same certificate after restart.
func TestResumeValidOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	csr, key := newCSR(t, "www.example.org", "*.example.org")
	orders := &orderLog{}
	first, err := e.issuer(t).Obtain(testCtx(t), Request{CSR: csr, OnOrder: orders.onOrder})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	orderURL := orders.only(t)
	presents, _ := e.solver.calls()

	restarted := e.issuer(t) // same account directory: same account
	wantState(t, restarted, orderURL, "valid")
	again, err := restarted.Obtain(testCtx(t), Request{CSR: csr, OrderURL: orderURL, OnOrder: noOrder(t)})
	if err != nil {
		t.Fatalf("Obtain resuming %s: %v", orderURL, err)
	}
	checkIssued(t, e.ca, again, key, "www.example.org", "*.example.org")
	if !again.Leaf.Equal(first.Leaf) || again.ChainPEM != first.ChainPEM || again.CertURL != first.CertURL {
		t.Errorf("resumed certificate (serial %s) is not the issued one (serial %s)",
			again.Leaf.SerialNumber.Text(16), first.Leaf.SerialNumber.Text(16))
	}
	wantStats(t, e.ca, 1, 1)
	if now, _ := e.solver.calls(); len(now) != len(presents) {
		t.Errorf("resuming a valid order presented %d more challenge records", len(now)-len(presents))
	}
}

// An order that OnOrder says is surely not on record (another hub took
// the request over) is given up at once: its authorizations are
// deactivated, so nobody answers its challenges and it never issues.
func TestUnrecordedOrderAbandoned(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	csr, _ := newCSR(t, "c.example.net")
	lost := fmt.Errorf("%w: another hub took the request over", ErrOrderUnrecorded)
	orders := &orderLog{err: lost}
	iss := e.issuer(t)
	_, err := iss.Obtain(testCtx(t), Request{CSR: csr, OnOrder: orders.onOrder})
	if !errors.Is(err, ErrOrderUnrecorded) {
		t.Fatalf("Obtain: %v; want OnOrder's error", err)
	}
	if presents, _ := e.solver.calls(); len(presents) != 0 {
		t.Fatalf("challenge records presented for an unrecorded order: %v", presents)
	}
	wantState(t, iss, orders.only(t), "invalid")
	wantStats(t, e.ca, 1, 0)
}

// A hub that crashed after ordering, before answering any challenge
// (here: OnOrder fails after recording), solves that same order after
// restart.
func TestResumePendingOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	csr, key := newCSR(t, "a.example.net", "b.example.net")
	crash := errors.New("hub killed")
	orders := &orderLog{err: crash}
	_, err := e.issuer(t).Obtain(testCtx(t), Request{CSR: csr, Profile: "shortlived", OnOrder: orders.onOrder})
	if !errors.Is(err, crash) {
		t.Fatalf("Obtain: %v; want OnOrder's error", err)
	}
	if errors.Is(err, ErrCARefused) || errors.Is(err, ErrCAUnreachable) {
		t.Errorf("OnOrder's error classified as the CA's: %v", err)
	}
	orderURL := orders.only(t)
	if !strings.Contains(err.Error(), orderURL) {
		t.Errorf("error %q does not name the order", err)
	}
	if presents, _ := e.solver.calls(); len(presents) != 0 {
		t.Fatalf("challenge records presented before OnOrder succeeded: %v", presents)
	}
	wantStats(t, e.ca, 1, 0)

	restarted := e.issuer(t)
	wantState(t, restarted, orderURL, "pending")
	cert, err := restarted.Obtain(testCtx(t), Request{CSR: csr, Profile: "shortlived", OrderURL: orderURL, OnOrder: noOrder(t)})
	if err != nil {
		t.Fatalf("Obtain resuming %s: %v", orderURL, err)
	}
	checkIssued(t, e.ca, cert, key, "a.example.net", "b.example.net")
	wantStats(t, e.ca, 1, 1)
	wantState(t, restarted, orderURL, "valid")
	if presents, cleanups := e.solver.calls(); len(presents) != 2 || cleanups != 2 {
		t.Errorf("solver: %d presents, %d cleanups; want 2 each", len(presents), cleanups)
	}
}

// cancelAfterCleanUp cancels the Obtain once its challenge records are
// removed: all authorizations are valid, the order is not yet finalized.
type cancelAfterCleanUp struct {
	*testSolver
	cancel context.CancelFunc
}

func (s cancelAfterCleanUp) CleanUp(ctx context.Context, fqdn, value string) error {
	defer s.cancel()
	return s.testSolver.CleanUp(ctx, fqdn, value)
}

// A hub that crashed between validation and finalization finalizes the
// ready order after restart, answering no challenge again.
func TestResumeReadyOrder(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	iss, err := New(testCtx(t), e.cfg, cancelAfterCleanUp{e.solver, cancel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.transport.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	csr, key := newCSR(t, "www.example.org")
	orders := &orderLog{}
	if _, err := iss.Obtain(ctx, Request{CSR: csr, OnOrder: orders.onOrder}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Obtain: %v; want it canceled", err)
	}
	orderURL := orders.only(t)
	wantStats(t, e.ca, 1, 0)

	restarted := e.issuer(t)
	wantState(t, restarted, orderURL, "ready")
	presents, _ := e.solver.calls()
	cert, err := restarted.Obtain(testCtx(t), Request{CSR: csr, OrderURL: orderURL, OnOrder: noOrder(t)})
	if err != nil {
		t.Fatalf("Obtain resuming %s: %v", orderURL, err)
	}
	checkIssued(t, e.ca, cert, key, "www.example.org")
	wantStats(t, e.ca, 1, 1)
	if now, _ := e.solver.calls(); len(now) != len(presents) {
		t.Errorf("resuming a ready order presented %d challenge records", len(now)-len(presents))
	}
}

// The CA finalized the order but its answer never arrived: retrying with
// the order's URL gets that certificate, not a second one.
func TestResumeAfterLostFinalizeResponse(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	e.ca.LoseFinalizeResponses(1)
	csr, key := newCSR(t, "www.example.org")
	orders := &orderLog{}
	_, err := iss.Obtain(testCtx(t), Request{CSR: csr, OnOrder: orders.onOrder})
	if !errors.Is(err, ErrCAUnreachable) {
		t.Fatalf("Obtain: %v; want ErrCAUnreachable", err)
	}
	orderURL := orders.only(t)
	wantStats(t, e.ca, 1, 1)

	cert, err := iss.Obtain(testCtx(t), Request{CSR: csr, OrderURL: orderURL, OnOrder: noOrder(t)})
	if err != nil {
		t.Fatalf("Obtain resuming %s: %v", orderURL, err)
	}
	checkIssued(t, e.ca, cert, key, "www.example.org")
	wantStats(t, e.ca, 1, 1)
}

// Orders that cannot be carried on are replaced by one new order.
func TestResumeNewOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state string // OrderState of the stored order; "" = not asked
		// setup returns the stored order URL; it may place orders (counted
		// in created) and finalize some (finalized).
		setup              func(t *testing.T, e *testEnv) string
		created, finalized int64
	}{
		{
			name: "unknown order",
			setup: func(t *testing.T, e *testEnv) string {
				return strings.Replace(e.ca.DirectoryURL(), "/dir", "/my-order/nosuchorder", 1)
			},
			created: 1, finalized: 1,
		},
		{
			name: "order at another CA",
			setup: func(*testing.T, *testEnv) string {
				return "https://ca.invalid/acme/order/1"
			},
			created: 1, finalized: 1,
		},
		{
			name:  "invalid order",
			state: "invalid",
			setup: func(t *testing.T, e *testEnv) string {
				e.solver.wrongValue = true
				defer func() { e.solver.wrongValue = false }()
				orders := &orderLog{}
				csr, _ := newCSR(t, "www.example.org")
				if _, err := e.issuer(t).Obtain(testCtx(t), Request{CSR: csr, OnOrder: orders.onOrder}); !errors.Is(err, ErrChallengeFailed) {
					t.Fatalf("failing Obtain: %v", err)
				}
				return orders.only(t)
			},
			created: 2, finalized: 1,
		},
		{
			name:  "order for other names",
			state: "pending",
			setup: func(t *testing.T, e *testEnv) string {
				return pendingOrder(t, e, e.cfg, "other.example.org")
			},
			created: 2, finalized: 1,
		},
		{
			name: "order of another account",
			setup: func(t *testing.T, e *testEnv) string {
				other := e.cfg
				other.AccountDir = filepath.Join(t.TempDir(), "other")
				return pendingOrder(t, e, other, "www.example.org")
			},
			created: 2, finalized: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, pebble.Options{})
			stored := tc.setup(t, e)
			iss := e.issuer(t)
			if tc.state != "" {
				wantState(t, iss, stored, tc.state)
			}
			csr, key := newCSR(t, "www.example.org")
			orders := &orderLog{}
			cert, err := iss.Obtain(testCtx(t), Request{CSR: csr, OrderURL: stored, OnOrder: orders.onOrder})
			if err != nil {
				t.Fatalf("Obtain with stored order %s: %v", stored, err)
			}
			checkIssued(t, e.ca, cert, key, "www.example.org")
			if u := orders.only(t); u == stored {
				t.Errorf("OnOrder got the stored order %s, want a new one", u)
			}
			wantStats(t, e.ca, tc.created, tc.finalized)
		})
	}
}

// pendingOrder places an order for names with cfg's account and leaves it
// pending (OnOrder fails), returning its URL.
func pendingOrder(t *testing.T, e *testEnv, cfg Config, names ...string) string {
	t.Helper()
	iss, err := New(testCtx(t), cfg, e.solver)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(iss.transport.(interface{ CloseIdleConnections() }).CloseIdleConnections)
	orders := &orderLog{err: errors.New("stop here")}
	csr, _ := newCSR(t, names...)
	if _, err := iss.Obtain(testCtx(t), Request{CSR: csr, OnOrder: orders.onOrder}); err == nil {
		t.Fatal("Obtain succeeded despite OnOrder failing")
	}
	return orders.only(t)
}

// A CSR with another key than the one a valid order was finalized with
// gets a new order: the issued certificate is useless to it.
func TestResumeValidOrderOtherKey(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	csr, _ := newCSR(t, "www.example.org")
	orders := &orderLog{}
	if _, err := iss.Obtain(testCtx(t), Request{CSR: csr, OnOrder: orders.onOrder}); err != nil {
		t.Fatal(err)
	}
	stored := orders.only(t)
	csr2, key2 := newCSR(t, "www.example.org")
	orders2 := &orderLog{}
	cert, err := iss.Obtain(testCtx(t), Request{CSR: csr2, OrderURL: stored, OnOrder: orders2.onOrder})
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	checkIssued(t, e.ca, cert, key2, "www.example.org")
	if u := orders2.only(t); u == stored {
		t.Error("the stored order was reused")
	}
	wantStats(t, e.ca, 2, 2)
}

func TestOrderStateErrors(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	for name, u := range map[string]string{
		"unknown":     strings.Replace(e.ca.DirectoryURL(), "/dir", "/my-order/nosuchorder", 1),
		"another CA":  "https://ca.invalid/acme/order/1",
		"not a URL":   "%zz",
		"plain http":  "http://" + mustHost(t, e.ca.DirectoryURL()) + "/my-order/x",
		"empty value": "",
	} {
		t.Run(name, func(t *testing.T) {
			state, err := iss.OrderState(testCtx(t), u)
			if !errors.Is(err, ErrOrderNotFound) {
				t.Fatalf("OrderState = %q, %v; want ErrOrderNotFound", state, err)
			}
		})
	}
}

func mustHost(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// Retry-After on challenge and order responses is waited out.
func TestObtainHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{ChallengeRetryAfter: 2 * time.Second})
	iss := e.issuer(t)
	csr, key := newCSR(t, "www.example.org")
	start := time.Now()
	cert, err := iss.Obtain(testCtx(t), Request{CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	checkIssued(t, e.ca, cert, key, "www.example.org")
	// 2 s after answering the challenge, then Pebble's Retry-After on the
	// processing order: 2 s, or an HTTP date in whole seconds (> 1 s).
	if took < 3*time.Second {
		t.Errorf("Obtain took %s; the CA asked for at least 3 s of waiting", took)
	}
}
