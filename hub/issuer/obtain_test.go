package issuer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/pebble"
)

func TestObtain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		names    []string
		profile  string
		validity time.Duration // 0: not checked
		// most values served at once at challenge name
		challenge string
		most      int
	}{
		{name: "one name", names: []string{"www.example.org"},
			challenge: "_acme-challenge.www.example.org.", most: 1},
		{name: "apex and wildcard", names: []string{"example.org", "*.example.org"},
			challenge: "_acme-challenge.example.org.", most: 2},
		{name: "several names", names: []string{"a.example.net", "b.example.net", "c.example.net"},
			challenge: "_acme-challenge.b.example.net.", most: 1},
		{name: "profile shortlived", names: []string{"short.example.org"}, profile: "shortlived",
			validity: 160 * time.Hour, challenge: "_acme-challenge.short.example.org.", most: 1},
		{name: "profile classic", names: []string{"classic.example.org"}, profile: "classic",
			validity: 90 * 24 * time.Hour, challenge: "_acme-challenge.classic.example.org.", most: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newTestEnv(t, pebble.Options{})
			iss := e.issuer(t)
			csr, key := newCSR(t, tc.names...)
			cert, err := iss.Obtain(testCtx(t), Request{CSR: csr, Profile: tc.profile})
			if err != nil {
				t.Fatalf("Obtain: %v", err)
			}
			checkIssued(t, e.ca, cert, key, tc.names...)
			if tc.validity > 0 {
				got := cert.Leaf.NotAfter.Sub(cert.Leaf.NotBefore)
				if got < tc.validity-time.Minute || got > tc.validity+time.Minute {
					t.Errorf("validity %s, want %s (profile %s)", got, tc.validity, tc.profile)
				}
			}
			if got := e.dns.most(tc.challenge); got != tc.most {
				t.Errorf("most values at %s at once: %d, want %d", tc.challenge, got, tc.most)
			}
			presents, cleanups := e.solver.calls()
			if len(presents) != len(tc.names) || cleanups != len(tc.names) {
				t.Errorf("solver: %d presents, %d cleanups; want %d each", len(presents), cleanups, len(tc.names))
			}
			if n := e.dns.records(); n != 0 {
				t.Errorf("%d challenge names still served after Obtain", n)
			}
			if s := e.ca.Stats(); s.OrdersCreated != 1 || s.OrdersFinalized != 1 {
				t.Errorf("CA stats %+v: want exactly one order created and finalized", s)
			}
		})
	}
}

func TestObtainUnknownProfile(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	csr, _ := newCSR(t, "www.example.org")
	_, err := iss.Obtain(testCtx(t), Request{CSR: csr, Profile: "tlsserver"})
	if !errors.Is(err, ErrUnknownProfile) {
		t.Fatalf("Obtain: %v; want ErrUnknownProfile", err)
	}
	for _, want := range []string{`"tlsserver"`, "classic, shortlived", "www.example.org"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	if s := e.ca.Stats(); s.OrdersCreated != 0 {
		t.Errorf("CA stats %+v: an order was made", s)
	}
	if presents, _ := e.solver.calls(); len(presents) != 0 {
		t.Errorf("solver was called: %v", presents)
	}
}

func TestProfiles(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{Profiles: map[string]pebble.Profile{
		"default": {Description: "The default"},
		"tiny":    {Description: "One day", Validity: 24 * time.Hour},
	}})
	got, err := e.issuer(t).Profiles(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"default": "The default", "tiny": "One day"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Profiles = %v, want %v", got, want)
	}
}

func TestObtainConcurrent(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	const n = 5
	var wg sync.WaitGroup
	errs := make([]error, n)
	certs := make([]*Certificate, n)
	start := time.Now()
	for k := range n {
		wg.Go(func() {
			// Two names each, one shared challenge name across orders
			// would be legal too; distinct names keep the checks exact.
			csr, _ := newCSR(t, fmt.Sprintf("host%d.example.org", k), fmt.Sprintf("*.host%d.example.org", k))
			certs[k], errs[k] = iss.Obtain(testCtx(t), Request{CSR: csr})
		})
	}
	wg.Wait()
	t.Logf("%d concurrent orders took %s", n, time.Since(start).Round(time.Millisecond))
	serials := map[string]bool{}
	for k := range n {
		if errs[k] != nil {
			t.Fatalf("order %d: %v", k, errs[k])
		}
		serials[certs[k].Leaf.SerialNumber.String()] = true
	}
	if len(serials) != n {
		t.Errorf("%d distinct serials, want %d", len(serials), n)
	}
	if s := e.ca.Stats(); s.OrdersCreated != n || s.OrdersFinalized != n {
		t.Errorf("CA stats %+v: want %d orders, no duplicates", s, n)
	}
}

func TestObtainSolverFails(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	e.solver.presentErr = errors.New("hub DNS store unavailable")
	iss := e.issuer(t)
	csr, _ := newCSR(t, "www.example.org")
	_, err := iss.Obtain(testCtx(t), Request{CSR: csr})
	if !errors.Is(err, ErrSolver) {
		t.Fatalf("Obtain: %v; want ErrSolver", err)
	}
	if errors.Is(err, ErrChallengeFailed) || errors.Is(err, ErrCARefused) {
		t.Errorf("solver failure also classified as a CA failure: %v", err)
	}
	for _, want := range []string{"hub DNS store unavailable", "_acme-challenge.www.example.org.", `CA "pebble"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, cleanups := e.solver.calls(); cleanups != 1 {
		t.Errorf("%d cleanups, want 1", cleanups)
	}
	if s := e.ca.Stats(); s.OrdersFinalized != 0 {
		t.Errorf("CA stats %+v: finalized despite failure", s)
	}
}

func TestObtainChallengeRejected(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	e.solver.wrongValue = true
	iss := e.issuer(t)
	csr, _ := newCSR(t, "www.example.org")
	_, err := iss.Obtain(testCtx(t), Request{CSR: csr})
	if !errors.Is(err, ErrChallengeFailed) {
		t.Fatalf("Obtain: %v; want ErrChallengeFailed", err)
	}
	p, ok := ProblemOf(err)
	if !ok || p.ShortType() != "unauthorized" || !strings.Contains(p.Detail, "Correct value not found") {
		t.Fatalf("ProblemOf = %+v, %v; want unauthorized with the CA's detail", p, ok)
	}
	if !strings.Contains(err.Error(), "Correct value not found") || !strings.Contains(err.Error(), "www.example.org") {
		t.Errorf("error %q lacks the CA's detail or the name", err)
	}
	if n := e.dns.records(); n != 0 {
		t.Errorf("%d challenge names left behind", n)
	}
	if s := e.ca.Stats(); s.OrdersFinalized != 0 {
		t.Errorf("CA stats %+v: finalized despite failure", s)
	}
}

func TestObtainRateLimited(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	e.ca.RateLimitOrders(1, 42*time.Second)
	csr, key := newCSR(t, "www.example.org")
	_, err := iss.Obtain(testCtx(t), Request{CSR: csr})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("Obtain: %v; want ErrRateLimited", err)
	}
	at, ok := RetryAfter(err)
	if want := time.Now().Add(42 * time.Second); !ok || at.Before(want.Add(-3*time.Second)) || at.After(want.Add(time.Second)) {
		t.Errorf("RetryAfter = %s, %v; want about %s", at, ok, want)
	}
	if s := e.ca.Stats(); s.OrdersCreated != 0 || s.RateLimited != 1 {
		t.Errorf("CA stats %+v", s)
	}
	// The limit was for one request: the next one goes through.
	cert, err := iss.Obtain(testCtx(t), Request{CSR: csr})
	if err != nil {
		t.Fatalf("Obtain after the limit: %v", err)
	}
	checkIssued(t, e.ca, cert, key, "www.example.org")
}

func TestObtainBadRequest(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, pebble.Options{})
	iss := e.issuer(t)
	tampered, _ := newCSR(t, "www.example.org")
	tampered.Signature[len(tampered.Signature)-1] ^= 0xff
	empty, _ := newCSR(t)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	good, _ := newCSR(t, "www.example.org")
	withIP, _ := newCSR(t, "www.example.org")
	withIP.IPAddresses = []net.IP{net.IPv4(192, 0, 2, 1)}

	tests := []struct {
		name string
		ctx  context.Context
		req  Request
		want string
		is   error
	}{
		{name: "no CSR", ctx: t.Context(), req: Request{}, want: "no CSR"},
		{name: "bad signature", ctx: t.Context(), req: Request{CSR: tampered}, want: "CSR signature"},
		{name: "no names", ctx: t.Context(), req: Request{CSR: empty}, want: "names no identifiers"},
		{name: "IP SAN", ctx: t.Context(), req: Request{CSR: withIP}, want: "only DNS names"},
		{name: "canceled", ctx: canceled, req: Request{CSR: good}, is: context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := iss.Obtain(tc.ctx, tc.req)
			if err == nil {
				t.Fatal("Obtain succeeded")
			}
			if tc.want != "" && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to say %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
	if s := e.ca.Stats(); s.OrdersCreated != 0 {
		t.Errorf("CA stats %+v: an order was made for a bad request", s)
	}
}
