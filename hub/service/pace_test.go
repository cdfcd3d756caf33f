package service

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/hub/dnsserver"
	"github.com/certfleet/certfleet/hub/pace"
	"github.com/certfleet/certfleet/integration/pebble"
	"github.com/certfleet/certfleet/shared"
)

// paceZone is the zone the pace tests' names are in, served by the hub.
const paceZone = "pace.test"

// issuingHub is a test hub that orders from an in-process Pebble, which
// validates against the hub's own DNS server.
type issuingHub struct {
	*testHub
	ca *pebble.CA
}

// newIssuingHub starts it; mutate adjusts the config before the
// concurrency limiter is made from it.
func newIssuingHub(t testing.TB, ca pebble.Options, mutate func(*config.Config)) *issuingHub {
	t.Helper()
	th := newTestHub(t)
	h := th.Hub
	ctx := testCtx(t)
	h.cfg.DNS.RateLimit = 0
	h.cfg.Issuance.CheckDelegation = false
	h.cfg.Issuance.RetryBase = config.Duration(time.Second)
	quiet := slog.New(slog.DiscardHandler)
	d, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0", Domain: h.cfg.DNS.Domain, NSName: "ns1." + h.cfg.DNS.Domain}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	h.dns = d
	if err := h.store.PutDomain(ctx, hub.Domain{Name: paceZone, Mode: hub.ModeZone, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// The watches feed the DNS server for as long as the test runs, not
	// just for testCtx's minute.
	wctx, stop := context.WithCancel(context.Background())
	t.Cleanup(stop)
	if err := h.loadDNS(wctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, w := range h.watches {
			w.Stop()
		}
	})
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	ca.DNSServer, ca.NoBadNonces, ca.Logger = d.TCPAddr().String(), true, quiet
	pca := pebble.StartTB(t, ca)
	useCA(t, h, pca)
	if mutate != nil {
		mutate(&h.cfg)
	}
	if err := h.setupPacing(); err != nil {
		t.Fatal(err)
	}
	return &issuingHub{testHub: th, ca: pca}
}

// request queues one certificate request of a new agent for host, the
// way the agent API does, and returns the agent id and request id.
func (ih *issuingHub) request(t testing.TB, host string) (string, string) {
	t.Helper()
	ctx := testCtx(t)
	agent := "ag-" + host
	if err := ih.store.PutAgent(ctx, hub.Agent{ID: agent, Allow: []string{"**." + paceZone}, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	name := host + "." + paceZone
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	req := shared.CertRequest{RequestID: shared.NewRequestID(), CertName: "web", Created: time.Now(),
		CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))}
	b, err := shared.Encode(&req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ih.store.Enqueue(ctx, agent, req.RequestID, b); err != nil {
		t.Fatal(err)
	}
	return agent, req.RequestID
}

// runOrders queues n requests, works the queue and the waiting requests
// until all are issued, and returns how long that took. during, if set,
// sees the count issued so far after each result.
func (ih *issuingHub) runOrders(t testing.TB, n int, during func(issued int)) time.Duration {
	t.Helper()
	// Count the results the hub delivers to agents: cheaper than listing
	// the request states, which would take the CPU the orders need.
	results := make(chan *nats.Msg, n+16)
	sub, err := ih.nc.ChanSubscribe(shared.Down("*", shared.VerbResult), results)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	for i := range n {
		ih.request(t, fmt.Sprintf("h%03d", i))
	}
	start := time.Now()
	ih.consume(t)
	ih.runWaiting(t)
	timeout := time.After(3 * time.Minute)
	issued := 0
	for issued < n {
		select {
		case m := <-results:
			var res shared.CertResult
			if err := shared.Decode(m.Data, &res); err != nil {
				t.Fatal(err)
			}
			if res.Status != shared.StatusIssued {
				t.Fatalf("request %s: %+v", res.RequestID, res.Error)
			}
			issued++
			if during != nil {
				during(issued)
			}
		case <-timeout:
			t.Fatalf("%d of %d certificates issued after %v; limiter %+v", issued, n, time.Since(start), ih.limiter.Stats())
		}
	}
	return time.Since(start)
}

// slowCA answers like a CA across a network: challenges and orders say
// Retry-After 1s, so an order takes a few seconds of waiting and little
// work, as at a public CA. Pebble's own pace (no Retry-After) makes an
// order a few hundred milliseconds of CPU, where the 2 shared cores of a
// test machine, not concurrency, bound the throughput.
var slowCA = pebble.Options{ChallengeRetryAfter: time.Second}

// TestIssuanceConcurrencyAdapts: against a CA that keeps up, concurrency
// "auto" grows far past the fixed 4 of old; a CA that answers
// rateLimited makes it back off, and the limited requests wait out the
// Retry-After outside the queue and are issued.
func TestIssuanceConcurrencyAdapts(t *testing.T) {
	t.Run("fixed 4", func(t *testing.T) {
		const n = 12
		ih := newIssuingHub(t, slowCA, func(c *config.Config) {
			c.Issuance.Concurrency, c.Issuance.MaxConcurrency = config.Fixed(4), 4
		})
		took := ih.runOrders(t, n, nil)
		s := ih.limiter.Stats()
		t.Logf("fixed 4: %d orders in %v (%.1f/s), peak in flight %d", n, took.Round(time.Millisecond), float64(n)/took.Seconds(), s.Peak)
		if s.Peak > 4 || s.PeakLimit != 4 {
			t.Fatalf("fixed concurrency 4 went to %d in flight (limit %d)", s.Peak, s.PeakLimit)
		}
	})
	t.Run("auto", func(t *testing.T) {
		const n = 200
		ih := newIssuingHub(t, slowCA, nil)
		limited := false
		var before pace.Stats
		var after pace.Stats
		took := ih.runOrders(t, n, func(issued int) {
			switch {
			case !limited && issued >= n/2:
				// Halfway, the CA starts refusing new orders for a second.
				limited = true
				before = ih.limiter.Stats()
				ih.ca.RateLimitOrders(10, time.Second)
			case limited && after.Drops == before.Drops:
				after = ih.limiter.Stats()
			}
		})
		s := ih.limiter.Stats()
		t.Logf("auto: %d orders in %v (%.1f/s), peak in flight %d, peak limit %d; on 429: limit %d -> %d; %d drops, %d 429s answered",
			n, took.Round(time.Millisecond), float64(n)/took.Seconds(), s.Peak, s.PeakLimit, before.Limit, after.Limit, s.Drops, ih.ca.Stats().RateLimited)
		if s.PeakLimit < 16 || s.Peak < 16 {
			t.Fatalf("auto reached a limit of %d and %d in flight, want at least 16 (4x the old fixed 4)", s.PeakLimit, s.Peak)
		}
		if ih.ca.Stats().RateLimited == 0 || after.Drops == before.Drops {
			t.Fatalf("%d 429s answered, drops %d -> %d: the rateLimited answers did not cut the limit", ih.ca.Stats().RateLimited, before.Drops, s.Drops)
		}
		if after.Limit > before.Limit/2+1 {
			t.Fatalf("limit %d after the 429s, from %d: want it about halved", after.Limit, before.Limit)
		}
	})
}

// BenchmarkIssuancePace issues 200 certificates from in-process Pebble,
// answering like a CA across a network (slowCA) and at its own pace,
// with concurrency fixed at 4 (the old default) and "auto". Run with
// -benchtime 1x; it reports orders/s and the concurrency reached.
func BenchmarkIssuancePace(b *testing.B) {
	for _, ca := range []struct {
		name string
		opts pebble.Options
	}{{"network-like", slowCA}, {"pebble-pace", pebble.Options{}}} {
		for _, arm := range []struct {
			name string
			conc func(*config.Config)
		}{
			{"fixed-4", func(c *config.Config) { c.Issuance.Concurrency, c.Issuance.MaxConcurrency = config.Fixed(4), 4 }},
			{"auto", nil},
		} {
			b.Run(ca.name+"/"+arm.name, func(b *testing.B) {
				const n = 200
				for b.Loop() {
					ih := newIssuingHub(b, ca.opts, arm.conc)
					took := ih.runOrders(b, n, nil)
					s := ih.limiter.Stats()
					b.ReportMetric(float64(n)/took.Seconds(), "orders/s")
					b.ReportMetric(float64(s.Peak), "peak-in-flight")
				}
			})
		}
	}
}
