package integration

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
)

// blocksAgent registers agent name allowed every name under corpZone, with
// n certificate blocks <name>-<i>.corp.example.test.
func blocksAgent(t *testing.T, env *fleet.Env, name string, n int) (*fleet.Agent, []fleet.CertSpec) {
	t.Helper()
	var specs []fleet.CertSpec
	for i := range n {
		host := fmt.Sprintf("%s-%d.%s", name, i, corpZone)
		specs = append(specs, fleet.CertSpec{Name: fmt.Sprintf("c%d", i), Names: []string{host}})
	}
	a, err := env.NewAgent(ctx(t), name, []string{"**." + corpZone}, specs...)
	if err != nil {
		t.Fatal(err)
	}
	return a, specs
}

// TestFaultNoHeadOfLineBlocking: requests waiting for a retry must not
// hold the issuance slots. Four requests the CA rate-limits with a long
// Retry-After (as many as the hub's concurrency, which used to be the
// consumer's ack-pending window) and twenty others: the twenty are issued
// at once, long before the four may be retried.
func TestFaultNoHeadOfLineBlocking(t *testing.T) {
	env, proxy := newFaultEnv(t, faultSetup{concurrency: 4})
	c := ctx(t)
	if err := env.AddZone(c, corpZone); err != nil {
		t.Fatal(err)
	}
	const wait = 2 * time.Minute
	proxy.FailNewOrders(http.StatusTooManyRequests, 4, wait)
	stuck, _ := blocksAgent(t, env, "stuck", 4)
	startAgent(t, stuck)
	if err := fleet.Await(c, 60*time.Second, func() (bool, error) {
		r, err := tryHubStatus(c, env)
		if err != nil {
			return false, nil
		}
		n := 0
		for _, q := range r.Requests {
			if q.AgentID == "stuck" && q.State == "retrying" {
				n++
			}
		}
		return n == 4, nil
	}); err != nil {
		t.Fatalf("the four rate-limited requests did not all wait for a retry: %v", err)
	}

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 4 {
		a, specs := blocksAgent(t, env, fmt.Sprintf("app%d", i), 5)
		startAgent(t, a)
		for _, s := range specs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := a.AwaitCert(c, s.Name, s.Names, wait/2); err != nil {
					errs <- fmt.Errorf("%s %s: %w", a.Name, s.Name, err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.Fatalf("with four requests waiting out a %s Retry-After, the others were held up", wait)
	}
	t.Logf("20 certificates issued in %s while 4 requests waited out a %s Retry-After", time.Since(start).Round(100*time.Millisecond), wait)
}
