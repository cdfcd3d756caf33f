package web

import (
	"net/http/httptest"
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestSessionsExpire(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	s := newSessions()
	s.now = clk.now
	cases := []struct {
		name  string
		steps []time.Duration // time between uses
		alive bool
	}{
		{"used often", []time.Duration{30 * time.Minute, 30 * time.Minute, 30 * time.Minute}, true},
		{"idle past idleTTL", []time.Duration{idleTTL + time.Second}, false},
		{"past sessionTTL however used", []time.Duration{50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute, 50 * time.Minute}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, _ := s.create("alice", "admin")
			alive := true
			for _, d := range tc.steps {
				clk.t = clk.t.Add(d)
				alive = s.get(tok) != nil
				if !alive {
					break
				}
			}
			if alive != tc.alive {
				t.Fatalf("alive %v, want %v", alive, tc.alive)
			}
		})
	}
	if s.get("forged") != nil {
		t.Fatal("unknown token accepted")
	}
}

func TestLoginLockout(t *testing.T) {
	clk := &fakeClock{t: time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)}
	s := newSessions()
	s.now = clk.now
	for range maxNameFailures {
		if s.locked("bob", "192.0.2.1") {
			t.Fatal("locked before the limit")
		}
		s.fail("bob", "192.0.2.1")
	}
	if !s.locked("bob", "192.0.2.9") {
		t.Fatal("name not locked after the limit, from another address")
	}
	if s.locked("carol", "192.0.2.9") {
		t.Fatal("another name from another address locked")
	}
	// Spraying names from one address locks the address.
	for i := range maxAddrFailures {
		s.fail(string(rune('a'+i%26))+"user", "198.51.100.7")
	}
	if !s.locked("dave", "198.51.100.7") {
		t.Fatal("address not locked after spraying names")
	}
	clk.t = clk.t.Add(lockFor + time.Second)
	if s.locked("bob", "192.0.2.1") || s.locked("dave", "198.51.100.7") {
		t.Fatal("still locked after lockFor")
	}
}

func TestClientAddrGroupsIPv6(t *testing.T) {
	cases := []struct{ remote, want string }{
		{"192.0.2.1:5555", "192.0.2.1"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.1]:80", "192.0.2.1"},
	}
	for _, tc := range cases {
		t.Run(tc.remote, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			if got := clientAddr(r); got != tc.want {
				t.Fatalf("clientAddr = %q, want %q", got, tc.want)
			}
		})
	}
}
