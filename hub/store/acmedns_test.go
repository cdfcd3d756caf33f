package store

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
)

func testReg(user, sub string) hub.ACMEDNSRegistration {
	return hub.ACMEDNSRegistration{Username: user, PasswordHash: "$2a$10$abcdefghijklmnopqrstuv", Subdomain: sub, Source: "api", Created: time.Now().UTC()}
}

func TestACMEDNSAccessors(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	const u1, u2 = "11111111-2222-4333-8444-555555555555", "66666666-7777-4888-9999-000000000000"
	must(t, s.CreateACMEDNS(ctx, testReg(u1, "sub1")))
	must(t, s.CreateACMEDNS(ctx, testReg(u2, "sub2")))
	if err := s.CreateACMEDNS(ctx, testReg(u1, "other")); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate username: %v", err)
	}
	for _, bad := range []string{"", "NOT-A-UUID", "AAAAAAAA-2222-4333-8444-555555555555", "../x"} {
		if _, err := s.GetACMEDNS(ctx, bad); !errors.Is(err, ErrNotFound) {
			t.Fatalf("get %q: %v", bad, err)
		}
	}
	var watched sync.Map
	w, err := s.WatchACMEDNS(ctx, func(put bool, user string, r hub.ACMEDNSRegistration) {
		if put {
			watched.Store(user, len(r.TXT))
		} else {
			watched.Delete(user)
		}
	})
	must(t, err)
	defer w.Stop()
	for i, v := range []string{"a", "b", "c"} {
		r, err := s.SetACMEDNSTXT(ctx, u1, v, time.Unix(int64(i), 0))
		must(t, err)
		if n := min(i+1, hub.ACMEDNSKeep); len(r.TXT) != n || r.TXT[n-1].Value != v {
			t.Fatalf("after %s: %+v", v, r.TXT)
		}
	}
	r, err := s.GetACMEDNS(ctx, u1)
	must(t, err)
	if len(r.TXT) != 2 || r.TXT[0].Value != "b" || r.TXT[1].Value != "c" {
		t.Fatalf("want b, c kept: %+v", r.TXT)
	}
	if _, err := s.SetACMEDNSTXT(ctx, u1, strings.Repeat("x", 256), time.Now()); err == nil {
		t.Fatal("256-byte value stored")
	}
	eventually(t, 5*time.Second, "watch sees two values", func() bool { n, _ := watched.Load(u1); return n == 2 })

	// Apex and wildcard of one order update at once: both values land.
	var wg sync.WaitGroup
	for _, v := range []string{"apex", "wild"} {
		wg.Go(func() {
			if _, err := s.SetACMEDNSTXT(ctx, u2, v, time.Now()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	r, err = s.GetACMEDNS(ctx, u2)
	must(t, err)
	if len(r.TXT) != 2 || r.TXT[0].Value == r.TXT[1].Value {
		t.Fatalf("concurrent updates: %+v", r.TXT)
	}

	list, _, err := s.ListACMEDNS(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Username != u1 {
		t.Fatalf("list: %+v", list)
	}
	must(t, s.DeleteACMEDNS(ctx, u1))
	mustNotFound(t, s.DeleteACMEDNS(ctx, u1))
	if _, err := s.SetACMEDNSTXT(ctx, u1, "d", time.Now()); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of a deleted registration: %v", err)
	}
	eventually(t, 5*time.Second, "watch sees the removal", func() bool { _, ok := watched.Load(u1); return !ok })
}

func TestTSIGAccessors(t *testing.T) {
	s, _, _ := newStore(t)
	ctx := testCtx(t)
	k := hub.TSIGKey{Name: "Certbot-Key.", Algorithm: "hmac-sha256", Secret: "c2VjcmV0", Allow: []string{"www.example.org"}}
	must(t, s.CreateTSIG(ctx, k))
	if err := s.CreateTSIG(ctx, k); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate: %v", err)
	}
	got, err := s.GetTSIG(ctx, "certbot-key")
	must(t, err)
	if got.Name != "certbot-key" || got.Secret != k.Secret {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range []string{"", "a b", "x..y", "-x"} {
		if _, err := TSIGName(bad); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	list, _, err := s.ListTSIG(ctx)
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("list: %+v", list)
	}
	must(t, s.DeleteTSIG(ctx, "certbot-key"))
	mustNotFound(t, s.DeleteTSIG(ctx, "certbot-key"))
}
