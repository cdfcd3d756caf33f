package service

import (
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
)

// TestDNSCurrent: the DNS data counts as current only once every zone,
// challenge and acme-dns value the store holds is served.
func TestDNSCurrent(t *testing.T) {
	th := newTestHub(t)
	ctx := testCtx(t)
	h := withDNS(t, th.peer("hub-a"))
	check := func(want bool) {
		t.Helper()
		got, err := h.dnsCurrent(ctx)
		if err != nil || got != want {
			t.Fatalf("dnsCurrent = %v, %v; want %v", got, err, want)
		}
	}
	steps := []struct {
		name  string
		store func()
		serve func()
	}{
		{"a delegated zone", func() {
			if err := th.store.PutDomain(ctx, hub.Domain{Name: "corp.example.test", Mode: hub.ModeZone, Created: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}, func() { h.dns.SetZones([]string{"corp.example.test"}) }},
		{"a challenge", func() {
			c := hub.Challenge{FQDN: "_acme-challenge.a.corp.example.test.", Value: "v1", Created: time.Now()}
			if err := th.store.PutChallenge(ctx, challengeKey(c.FQDN, c.Value), c); err != nil {
				t.Fatal(err)
			}
		}, func() { h.dns.PutTXT("_acme-challenge.a.corp.example.test.", "k", "v1") }},
	}
	check(true) // nothing stored, nothing to serve
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.store()
			check(false)
			st.serve()
			check(true)
		})
	}
}
