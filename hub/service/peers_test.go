package service

import (
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub/dnsserver"
	"github.com/certfleet/certfleet/hub/store"
)

func withDNS(t *testing.T, h *Hub) *Hub {
	t.Helper()
	d, err := dnsserver.New(dnsserver.Config{Listen: "127.0.0.1:0", Domain: "acme.example.test", NSName: "ns1.acme.example.test"}, h.log)
	if err != nil {
		t.Fatal(err)
	}
	h.dns = d
	return h
}

// TestPeersServe: before the CA may validate, a hub waits until every
// other running hub's DNS serves the challenge; a hub that is announced but
// no longer runs is not waited for.
func TestPeersServe(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	a, b := withDNS(t, th.peer("hub-a")), withDNS(t, th.peer("hub-b"))
	if err := b.subscribePeers(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.stopIntake)
	for _, h := range []*Hub{a, b} {
		h.started = time.Now().UTC()
		h.announce(ctx)
	}
	const fqdn = "x1.acme.example.test."
	lag := 200 * time.Millisecond
	time.AfterFunc(lag, func() { b.dns.PutTXT(fqdn, "k1", "token-1") })
	start := time.Now()
	a.awaitPeersServe(ctx, fqdn, "token-1")
	if took := time.Since(start); took < lag || took > serveWait {
		t.Fatalf("waited %v for a peer whose DNS serves the value after %v", took, lag)
	}
	if l := th.logs.String(); strings.Contains(l, "does not serve") || strings.Contains(l, "did not say") {
		t.Fatalf("peer that serves the value logged as not serving:\n%s", l)
	}

	// A hub that is announced but gone (its entry not lapsed yet): no
	// responders, no wait.
	if err := th.store.AnnounceHub(ctx, store.HubEntry{ID: "hub-gone", Started: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	b.dns.PutTXT(fqdn, "k2", "token-2")
	start = time.Now()
	a.awaitPeersServe(ctx, fqdn, "token-2")
	if took := time.Since(start); took > serveWait/2 {
		t.Fatalf("waited %v for a hub that no longer runs", took)
	}
}

// TestHousekeepingLease: of two hubs, one does the housekeeping.
func TestHousekeepingLease(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	a, b := th.peer("hub-a"), th.peer("hub-b")
	a.tryLead(ctx)
	b.tryLead(ctx)
	a.tryLead(ctx)
	if !a.leading() || b.leading() {
		t.Fatalf("leading: hub-a %v, hub-b %v; want hub-a only", a.leading(), b.leading())
	}
}
