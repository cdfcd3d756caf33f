package integration

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
)

// Fault tests of "renewal that never silently fails": crashes, outages and
// CA errors, with the real binaries as processes.

const corpZone = "corp.example.test"

// zoneAgent registers an agent allowed one name under corpZone, with one
// block "tls" for it.
func zoneAgent(t *testing.T, env *fleet.Env, name string) (*fleet.Agent, []string) {
	t.Helper()
	names := []string{name + "." + corpZone}
	a, err := env.NewAgent(ctx(t), name, names, fleet.CertSpec{Name: "tls", Names: names})
	if err != nil {
		t.Fatal(err)
	}
	return a, names
}

// TestFaultHubKilledDuringOrders kills the hub with SIGKILL while N orders
// are finalized at the CA but the hub has not heard back, restarts it, and
// expects every agent to end with a certificate and the CA to have issued
// exactly N: a restarted hub must resume its recorded orders, not order
// again.
func TestFaultHubKilledDuringOrders(t *testing.T) {
	const n = 6
	env, proxy := newFaultEnv(t, faultSetup{concurrency: 2 * n})
	c := ctx(t)
	if err := env.AddZone(c, corpZone); err != nil {
		t.Fatal(err)
	}
	agents := make([]*fleet.Agent, n)
	names := make([][]string, n)
	for i := range n {
		agents[i], names[i] = zoneAgent(t, env, fmt.Sprintf("app%d", i+1))
	}
	// Every finalize reaches the CA (which issues), but its answer is held
	// at the proxy: the hub dies not knowing.
	proxy.HoldFinalize(true)
	for _, a := range agents {
		startAgent(t, a)
	}
	if err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		return proxy.Held() == n && env.Pebble.Stats().OrdersFinalized == n, nil
	}); err != nil {
		t.Fatalf("%d of %d finalize responses held (CA stats %+v): %v", proxy.Held(), n, env.Pebble.Stats(), err)
	}
	env.KillHub()
	proxy.Pass()

	restart := time.Now()
	if err := env.StartHub(c); err != nil {
		t.Fatal(err)
	}
	for i, a := range agents {
		leaf, err := a.AwaitCert(c, "tls", names[i], 90*time.Second)
		if err != nil {
			r, _ := tryHubStatus(c, env)
			q, _ := latestRequest(r, a.Name)
			t.Fatalf("after the restart (%s ago), agent %s has no certificate; its request: state %q, attempts %d, order %q, error %q; CA %+v: %v",
				time.Since(restart).Round(time.Second), a.Name, q.State, q.Attempts, q.OrderURL, q.LastError, env.Pebble.Stats(), err)
		}
		checkSettled(t, env, a, "tls", leaf)
	}
	recovered := time.Since(restart)
	st := env.Pebble.Stats()
	t.Logf("SIGKILL with %d orders finalized at the CA: all certificates installed %s after the restart; CA saw %d orders, issued %d",
		n, recovered.Round(100*time.Millisecond), st.OrdersCreated, st.OrdersFinalized)
	if st.OrdersFinalized != n {
		t.Errorf("CA issued %d certificates for %d requests: the restarted hub ordered again instead of resuming", st.OrdersFinalized, n)
	}
	if st.OrdersCreated != n {
		t.Errorf("CA saw %d new orders for %d requests", st.OrdersCreated, n)
	}
}

// TestFaultNATSOutage stops the hub (and with it the embedded NATS) while
// agents run: a connected agent asks for a renewal and a new agent starts
// during the outage. After the hub is back, both reconnect by themselves
// and get their certificates.
func TestFaultNATSOutage(t *testing.T) {
	env, _ := newFaultEnv(t, faultSetup{})
	c := ctx(t)
	if err := env.AddZone(c, corpZone); err != nil {
		t.Fatal(err)
	}
	a, aNames := zoneAgent(t, env, "app1")
	b, bNames := zoneAgent(t, env, "app2")
	startAgent(t, a)
	first, err := a.AwaitCert(c, "tls", aNames, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}

	if err := env.StopHub(); err != nil {
		t.Fatalf("hub did not stop cleanly: %v", err)
	}
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		return logContains(a.LogPath(), "disconnected from hub"), nil
	}); err != nil {
		t.Fatalf("agent never noticed the outage: %v", err)
	}
	startAgent(t, b)
	renewed := make(chan error, 1)
	go func() {
		out, err := a.CLI(c, "renew", "tls")
		if err == nil && !strings.Contains(out, "issued") {
			err = fmt.Errorf("renew printed %q", out)
		}
		renewed <- err
	}()
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		return logContains(b.LogPath(), "agent started") && logContains(a.LogPath(), "renewal asked for locally"), nil
	}); err != nil {
		t.Fatalf("agents did not act during the outage: %v", err)
	}
	// The outage lasts a while: long enough for the agents' reconnect
	// back-off to grow past its first steps.
	time.Sleep(5 * time.Second)

	restart := time.Now()
	if err := env.StartHub(c); err != nil {
		t.Fatal(err)
	}
	var back time.Duration
	if err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		r, err := tryHubStatus(c, env)
		if err != nil {
			return false, nil
		}
		_, s, ok := reportedCert(r, a.Name, "tls")
		if ok && s.LastSeen.After(restart) {
			back = time.Since(restart)
			return true, nil
		}
		return false, nil
	}); err != nil {
		t.Fatalf("agent %s never reported to the restarted hub: %v", a.Name, err)
	}
	bLeaf, err := b.AwaitCert(c, "tls", bNames, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	gotB := time.Since(restart)
	select {
	case err := <-renewed:
		if err != nil {
			t.Fatalf("renewal asked for during the outage: %v", err)
		}
	case <-time.After(issueTimeout):
		t.Fatal("renewal asked for during the outage never finished")
	}
	gotA := time.Since(restart)
	second, err := a.Leaf("tls")
	if err != nil || second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("agent %s kept its old certificate after the renewal: %v", a.Name, err)
	}
	checkSettled(t, env, a, "tls", second)
	checkSettled(t, env, b, "tls", bLeaf)
	t.Logf("after the outage: %s reported again in %s, new agent's certificate in %s, renewal done in %s",
		a.Name, back.Round(100*time.Millisecond), gotB.Round(100*time.Millisecond), gotA.Round(100*time.Millisecond))
	if st := env.Pebble.Stats(); st.OrdersFinalized != 3 || st.OrdersCreated != 3 {
		t.Fatalf("CA saw %d orders and issued %d certificates, want 3 and 3", st.OrdersCreated, st.OrdersFinalized)
	}
}

// TestFaultCARateLimited has the CA answer the first new order with 429
// and Retry-After: the hub must not order again before then, must say so
// in its status, and the certificate must come after.
func TestFaultCARateLimited(t *testing.T) {
	base := retryUnit
	env, proxy := newFaultEnv(t, faultSetup{hubConfig: fastRetry})
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.test"}
	a, err := env.NewAgent(c, "web1", names, fleet.CertSpec{Name: "web", Names: names})
	if err != nil {
		t.Fatal(err)
	}
	// Longer than the hub's own first back-off (base, +20%), so the CA's
	// Retry-After is what decides.
	wait := 4 * base
	proxy.FailNewOrders(http.StatusTooManyRequests, 1, wait)
	startAgent(t, a)

	q := awaitRequest(t, env, "web1", 60*time.Second, "retrying after the rate limit", func(q hub.RequestState) bool {
		return q.State == "retrying"
	})
	hits := orderAttempts(proxy)
	if len(hits) != 1 || hits[0].Status != http.StatusTooManyRequests {
		t.Fatalf("new orders at the CA: %+v, want one answered 429", hits)
	}
	allowed := hits[0].At.Add(wait)
	if !strings.Contains(strings.ToLower(q.LastError), "rate") {
		t.Errorf("status last_error %q does not say the CA rate-limited", q.LastError)
	}
	if q.NextTry.Before(allowed) {
		t.Errorf("status next_try %s is before the CA's Retry-After (%s)", q.NextTry.Format(time.RFC3339Nano), allowed.Format(time.RFC3339Nano))
	}
	leaf, err := a.AwaitCert(c, "web", names, wait+issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	hits = orderAttempts(proxy)
	if len(hits) != 2 {
		t.Fatalf("the hub sent %d new orders, want 2 (one limited, one after Retry-After): %+v", len(hits), hits)
	}
	if hits[1].At.Before(allowed) {
		t.Errorf("the hub ordered again %s after the 429, before the CA's Retry-After of %s", hits[1].At.Sub(hits[0].At).Round(time.Millisecond), wait)
	}
	for _, h := range proxy.Hits("") {
		if h.At.After(hits[0].At) && h.At.Before(allowed) {
			t.Errorf("the hub sent %s %s to the CA %s after the 429, during Retry-After", h.Method, h.Kind, h.At.Sub(hits[0].At).Round(time.Millisecond))
		}
	}
	if leaf.NotBefore.Before(allowed.Truncate(time.Second)) {
		t.Errorf("certificate issued at %s, before the CA's Retry-After %s", leaf.NotBefore, allowed)
	}
	t.Logf("429 with Retry-After %s: second order %s after the first; %d requests to the CA in all",
		wait, hits[1].At.Sub(hits[0].At).Round(time.Millisecond), len(proxy.Hits("")))
}

// TestFaultCAErrors has the CA fail new orders with 500 for a while: the
// hub backs off (growing gaps), shows attempts and the last error in its
// status and alerts, and issues once the CA recovers.
func TestFaultCAErrors(t *testing.T) {
	base := retryUnit
	env, proxy := newFaultEnv(t, faultSetup{hubConfig: fastRetry})
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.test"}
	a, err := env.NewAgent(c, "web1", names, fleet.CertSpec{Name: "web", Names: names})
	if err != nil {
		t.Fatal(err)
	}
	proxy.FailNewOrders(http.StatusInternalServerError, 0, 0)
	startAgent(t, a)

	// Three failed attempts: the back-off gaps after the first two can be
	// compared. Attempt k+1 comes about base*2^(k-1) (±20%) after attempt k.
	q := awaitRequest(t, env, "web1", 30*base+60*time.Second, "failed three times", func(q hub.RequestState) bool {
		return q.State == "retrying" && q.Attempts >= 3
	})
	if !strings.Contains(q.LastError, "500") && !strings.Contains(q.LastError, "serverInternal") {
		t.Errorf("status last_error %q does not show the CA's error", q.LastError)
	}
	if q.NextTry.IsZero() || !q.NextTry.After(q.Updated) {
		t.Errorf("status next_try %v not after the last attempt %v", q.NextTry, q.Updated)
	}
	r := hubStatus(t, env)
	alerted := false
	for _, al := range r.Alerts {
		alerted = alerted || (al.Kind == "failing" && al.Agent == "web1")
	}
	if !alerted {
		t.Errorf("no failing alert for web1 while its request is retrying: %+v", r.Alerts)
	}
	proxy.Pass()
	if _, err := a.AwaitCert(c, "web", names, 30*base+issueTimeout); err != nil {
		t.Fatal(err)
	}
	var failed []fleet.Hit
	for _, h := range orderAttempts(proxy) {
		if h.Injected {
			failed = append(failed, h)
		}
	}
	if len(failed) < 3 {
		t.Fatalf("%d failed new orders, want at least 3", len(failed))
	}
	g1, g2 := failed[1].At.Sub(failed[0].At), failed[2].At.Sub(failed[1].At)
	if g1 < base/2 || g2 <= g1 {
		t.Errorf("no back-off: gaps between failed orders %s then %s (base %s)", g1, g2, base)
	}
	st := env.Pebble.Stats()
	if st.OrdersFinalized != 1 || st.OrdersCreated != 1 {
		t.Errorf("CA created %d orders and issued %d certificates, want 1 and 1", st.OrdersCreated, st.OrdersFinalized)
	}
	t.Logf("500s: %d failed new orders, gaps %s, %s; then %d order created and %d certificate issued",
		len(failed), g1.Round(time.Millisecond), g2.Round(time.Millisecond), st.OrdersCreated, st.OrdersFinalized)
}

// TestFaultCAUnreachableAtStart starts the hub while the CA refuses
// connections: the hub runs anyway, records why the request waits, and
// issues once the CA is back.
func TestFaultCAUnreachableAtStart(t *testing.T) {
	base := retryUnit
	env, proxy := newFaultEnv(t, faultSetup{hubConfig: fastRetry, caDown: true})
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.test"}
	a, err := env.NewAgent(c, "web1", names, fleet.CertSpec{Name: "web", Names: names})
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	q := awaitRequest(t, env, "web1", 60*time.Second, "retrying while the CA is down", func(q hub.RequestState) bool {
		return q.State == "retrying"
	})
	if !strings.Contains(q.LastError, "unreachable") {
		t.Errorf("status last_error %q does not say the CA is unreachable", q.LastError)
	}
	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	leaf, err := a.AwaitCert(c, "web", names, 10*base+issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	checkSettled(t, env, a, "web", leaf)
	t.Logf("CA back: certificate %s later", time.Since(up).Round(100*time.Millisecond))
}

// TestFaultAgentOfflineAtIssue kills the agent right after the hub
// accepted its request; the hub issues while it is away; the restarted
// agent installs that certificate with the key it kept, without a new
// order.
func TestFaultAgentOfflineAtIssue(t *testing.T) {
	env, proxy := newFaultEnv(t, faultSetup{})
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.test"}
	a, err := env.NewAgent(c, "web1", names, fleet.CertSpec{Name: "web", Names: names})
	if err != nil {
		t.Fatal(err)
	}
	// Hold the order at finalize so the agent is surely gone before the
	// result is pushed.
	proxy.HoldFinalize(true)
	startAgent(t, a)
	var reqID string
	if err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		st, err := readAgentState(a)
		if err != nil {
			return false, nil
		}
		p := st.Certificates["web"].Pending
		if p != nil && p.Published {
			reqID = p.RequestID
		}
		return reqID != "" && proxy.Held() == 1, nil
	}); err != nil {
		t.Fatalf("request never accepted and ordered (held %d): %v", proxy.Held(), err)
	}
	a.Kill()
	proxy.Pass()
	awaitRequest(t, env, "web1", 60*time.Second, "issued", func(q hub.RequestState) bool {
		return q.RequestID == reqID && q.State == "issued"
	})
	before := env.Pebble.Stats()
	if _, err := os.Stat(filepath.Join(a.Dir, "state", "pending-web.key")); err != nil {
		t.Fatalf("the agent did not keep its pending key: %v", err)
	}

	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	leaf, err := a.AwaitCert(c, "web", names, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	checkSettled(t, env, a, "web", leaf)
	after := env.Pebble.Stats()
	if after.OrdersCreated != before.OrdersCreated || after.OrdersCreated != 1 {
		t.Fatalf("CA saw %d orders (%d before the agent came back); want 1", after.OrdersCreated, before.OrdersCreated)
	}
	if st := agentStatus(t, a, "web"); st.Pending != "" || st.LastResult != "ok" {
		t.Fatalf("agent status after install: %+v", st)
	}
}

// TestFaultShortLivedRenewal issues certificates living one minute: the
// agent must renew at or after its renewal time and before expiry.
func TestFaultShortLivedRenewal(t *testing.T) {
	const life = 60 * time.Second
	env, _ := newFaultEnv(t, faultSetup{profiles: map[string]pebble.Profile{
		"classic": {Description: "90 days", Validity: 90 * 24 * time.Hour},
		"minute":  {Description: "one minute", Validity: life},
	}})
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.test"}
	a, err := env.NewAgent(c, "web1", names, fleet.CertSpec{Name: "web", Names: names, Profile: "minute"})
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	first, err := a.AwaitCert(c, "web", names, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if got := first.NotAfter.Sub(first.NotBefore); got > life {
		t.Fatalf("first certificate lives %s, want the profile's %s", got, life)
	}
	var renewAt time.Time
	if err := fleet.Await(c, 20*time.Second, func() (bool, error) {
		s := agentStatus(t, a, "web")
		renewAt = s.RenewAt
		return s.Serial != "" && !renewAt.IsZero(), nil
	}); err != nil {
		t.Fatalf("agent shows no renewal time: %v", err)
	}
	var second *x509.Certificate
	var seenAt time.Time
	err = fleet.Await(c, time.Until(first.NotAfter)+15*time.Second, func() (bool, error) {
		l, err := a.Leaf("web")
		if err == nil && l.SerialNumber.Cmp(first.SerialNumber) != 0 {
			second, seenAt = l, time.Now()
			return true, nil
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("no renewal: first certificate valid %s to %s, renew at %s: %v",
			first.NotBefore.Format(time.TimeOnly), first.NotAfter.Format(time.TimeOnly), renewAt.Format(time.TimeOnly), err)
	}
	t.Logf("first valid %s-%s, renew at %s, renewed certificate issued %s and installed %s",
		first.NotBefore.Format(time.TimeOnly), first.NotAfter.Format(time.TimeOnly), renewAt.Format(time.TimeOnly),
		second.NotBefore.Format(time.TimeOnly), seenAt.Format("15:04:05.000"))
	if !seenAt.Before(first.NotAfter) {
		t.Errorf("renewed certificate installed at %s, after the first expired at %s", seenAt.Format(time.TimeOnly), first.NotAfter.Format(time.TimeOnly))
	}
	if second.NotBefore.Before(renewAt.Truncate(time.Second)) {
		t.Errorf("renewed at %s, before the renewal time %s", second.NotBefore.Format(time.TimeOnly), renewAt.Format(time.TimeOnly))
	}
	if !renewAt.Before(first.NotAfter) || renewAt.Before(first.NotBefore) {
		t.Errorf("renewal time %s outside the first certificate's life %s-%s", renewAt, first.NotBefore, first.NotAfter)
	}
}

// TestFaultARIWindow checks that the renewal time the agent reports lies in
// the CA's ARI window. renew_fraction is set far from Pebble's window so
// that a hub ignoring ARI would be caught.
func TestFaultARIWindow(t *testing.T) {
	env, _ := newFaultEnv(t, faultSetup{hubConfig: "renew_fraction = 0.1"})
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.test"}
	a, err := env.NewAgent(c, "web1", names, fleet.CertSpec{Name: "web", Names: names, Profile: "classic"})
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	leaf, err := a.AwaitCert(c, "web", names, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	w := renewalInfo(t, env, leaf)
	// Pebble's formula: the ideal time is a third of the lifetime before
	// expiry, the window a day either side.
	ideal := leaf.NotAfter.Add(time.Second).Add(-leaf.NotAfter.Add(time.Second).Sub(leaf.NotBefore) / 3)
	if d := w.Start.Sub(ideal.Add(-24 * time.Hour)); d > time.Second || d < -time.Second {
		t.Fatalf("CA's ARI window %s-%s is not Pebble's formula (ideal %s)", w.Start, w.End, ideal)
	}
	var got time.Time
	if err := fleet.Await(c, 30*time.Second, func() (bool, error) {
		r, err := tryHubStatus(c, env)
		if err != nil {
			return false, nil
		}
		cs, _, ok := reportedCert(r, "web1", "web")
		if ok && cs.NotAfter.Equal(leaf.NotAfter) {
			got = cs.RenewAt
			return true, nil
		}
		return false, nil
	}); err != nil {
		t.Fatalf("agent never reported the certificate: %v", err)
	}
	t.Logf("ARI window %s - %s; agent reports renew_at %s (renew_fraction without ARI would give about %s)",
		w.Start.Format(time.DateTime), w.End.Format(time.DateTime), got.Format(time.DateTime),
		leaf.NotAfter.Add(-leaf.NotAfter.Sub(leaf.NotBefore)/10).Format(time.DateTime))
	if got.Before(w.Start) || got.After(w.End) {
		t.Errorf("agent reports renew_at %s, outside the CA's ARI window %s - %s", got, w.Start, w.End)
	}
	if s := agentStatus(t, a, "web"); !s.RenewAt.Equal(got) {
		t.Errorf("agent status renew_at %s differs from what it reported to the hub %s", s.RenewAt, got)
	}
	for _, rec := range hubStatus(t, env).Certs {
		if rec.AgentID == "web1" && (rec.RenewAt.Before(w.Start) || rec.RenewAt.After(w.End)) {
			t.Errorf("hub record renew_at %s outside the ARI window %s - %s", rec.RenewAt, w.Start, w.End)
		}
	}
}

// TestFaultReloadFails makes the reload command fail on a renewal: the
// agent must put the previous files back, run the reload again so the
// service keeps working, and report the failure; once reload works, the
// kept result is installed without a new order.
func TestFaultReloadFails(t *testing.T) {
	env, _ := newFaultEnv(t, faultSetup{})
	c := ctx(t)
	if _, err := env.AddDomain(c, "www.example.test"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	runs, broken := filepath.Join(dir, "runs"), filepath.Join(dir, "broken")
	// The reload logs each run and keeps a copy of the certificate it saw.
	reload := fmt.Sprintf(`echo "rollback=${CERTFLEET_ROLLBACK:-0}" >> %[1]s; cp "$CERTFLEET_CERT" "%[2]s/seen-$(wc -l < %[1]s | tr -d ' ').pem"; `+
		`if [ -e %[3]s ] && [ -z "$CERTFLEET_ROLLBACK" ]; then echo "service refused the new certificate" >&2; exit 3; fi`, runs, dir, broken)
	names := []string{"www.example.test"}
	a, err := env.NewAgent(c, "web1", names, fleet.CertSpec{Name: "web", Names: names, ReloadShell: reload})
	if err != nil {
		t.Fatal(err)
	}
	startAgent(t, a)
	first, err := a.AwaitCert(c, "web", names, issueTimeout)
	if err != nil {
		t.Fatal(err)
	}
	readRuns := func() []string {
		b, _ := os.ReadFile(runs)
		return strings.Fields(string(b))
	}
	seen := func(n int) *x509.Certificate {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("seen-%d.pem", n)))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("seen-%d.pem holds no PEM", n)
		}
		l, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// Settled: the first install's reload has finished before it breaks.
	checkSettled(t, env, a, "web", first)
	if got := readRuns(); !slices.Equal(got, []string{"rollback=0"}) {
		t.Fatalf("reload runs after the first install: %q", got)
	}
	if err := os.WriteFile(broken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := a.CLI(c, "renew", "web")
	if err == nil {
		t.Fatalf("renew succeeded although the reload fails:\n%s", out)
	}
	now, err := a.Leaf("web")
	if err != nil || now.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatalf("the previous certificate was not restored: %v", err)
	}
	checkInstalled(t, env, a, "web")
	if got := readRuns(); !slices.Equal(got, []string{"rollback=0", "rollback=0", "rollback=1"}) {
		t.Fatalf("reload runs %q: want the first install's, the failed one, then one after the rollback", got)
	}
	if seen(2).SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("the failed reload did not see the new certificate")
	}
	if seen(3).SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("the reload after the rollback did not see the previous certificate")
	}
	if s := agentStatus(t, a, "web"); s.LastResult != "failed" || !strings.Contains(s.LastError, "reload") {
		t.Errorf("agent status does not show the reload failure: %+v", s)
	}
	if err := fleet.Await(c, 20*time.Second, func() (bool, error) {
		cs, _, ok := reportedCert(hubStatus(t, env), "web1", "web")
		return ok && cs.LastResult == "failed" && strings.Contains(cs.LastError, "reload"), nil
	}); err != nil {
		t.Errorf("hub status never showed the reload failure: %v", err)
	}

	// Fixed: the result the hub kept is installed, no new order.
	if err := os.Remove(broken); err != nil {
		t.Fatal(err)
	}
	if out, err := a.CLI(c, "renew", "web"); err != nil {
		t.Fatalf("renew after the fix: %v\n%s", err, out)
	}
	after, err := a.Leaf("web")
	if err != nil || after.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatalf("the renewed certificate was not installed: %v", err)
	}
	checkInstalled(t, env, a, "web")
	if st := env.Pebble.Stats(); st.OrdersCreated != 2 {
		t.Errorf("CA saw %d orders, want 2: the kept result must be installed without a new order", st.OrdersCreated)
	}
}
