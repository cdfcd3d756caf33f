package fleet

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/shared"
)

// filterFleet is a fleet with one agent per situation the filters tell
// apart, judged at now.
func filterFleet(now time.Time) *Snapshot {
	day := 24 * time.Hour
	s := New()
	cert := func(name string, left time.Duration, mod func(*shared.CertStatus)) shared.CertStatus {
		c := shared.CertStatus{Name: name, NotBefore: now.Add(left - 90*day), NotAfter: now.Add(left), LastResult: "ok"}
		if mod != nil {
			mod(&c)
		}
		return c
	}
	online := func(id string, certs ...shared.CertStatus) {
		s.PutStatus(hub.AgentStatus{AgentID: id, LastSeen: now.Add(-time.Minute), Connected: true, Report: shared.StatusReport{Certificates: certs}})
	}
	for _, id := range []string{"fine", "late", "gone", "dead", "broke", "retry", "fresh", "wait", "hubonly", "web-1", "web-2"} {
		s.PutAgent(hub.Agent{ID: id, Created: now.Add(-100 * day)})
	}
	online("fine", cert("web", 60*day, nil))
	online("late", cert("web", 10*day, nil))
	s.PutStatus(hub.AgentStatus{AgentID: "gone", LastSeen: now.Add(-2 * time.Hour), Report: shared.StatusReport{
		Certificates: []shared.CertStatus{cert("web", 60*day, nil)}}})
	online("dead", cert("web", -time.Hour, nil))
	online("broke", cert("web", 60*day, func(c *shared.CertStatus) { c.LastResult, c.Attempts = "failed", 2 }))
	online("retry", cert("web", 60*day, nil))
	s.PutRequest(hub.RequestState{AgentID: "retry", RequestID: "req-old", CertName: "web", State: hub.RequestFailed, Updated: now.Add(-time.Hour)})
	s.PutRequest(hub.RequestState{AgentID: "retry", RequestID: "req-new", CertName: "web", State: hub.RequestRetrying, Updated: now})
	online("wait", shared.CertStatus{Name: "web", LastResult: "pending"})
	s.PutRequest(hub.RequestState{AgentID: "wait", RequestID: "req-wait", CertName: "web", State: hub.RequestQueued, Updated: now})
	online("hubonly")
	s.PutCert(hub.CertRecord{AgentID: "hubonly", CertName: "api", NotBefore: now.Add(-85 * day), NotAfter: now.Add(5 * day)})
	online("web-1", cert("web", 60*day, nil))
	online("web-2", cert("web", 3*day, nil))
	// A failed request long replaced by an issued one does not count.
	s.PutRequest(hub.RequestState{AgentID: "web-1", RequestID: "req-a", CertName: "web", State: hub.RequestFailed, Updated: now.Add(-2 * time.Hour)})
	s.PutRequest(hub.RequestState{AgentID: "web-1", RequestID: "req-b", CertName: "web", State: hub.RequestIssued, Updated: now.Add(-time.Hour)})
	return s
}

func TestFilter(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	s := filterFleet(now)
	day := 24 * time.Hour
	cases := []struct {
		name string
		f    Filter
		want string
	}{
		{"everything", Filter{}, "broke,dead,fine,fresh,gone,hubonly,late,retry,wait,web-1,web-2"},
		{"glob", Filter{Glob: "web-*"}, "web-1,web-2"},
		{"expiring within 14 days, expired included, hub record when unreported", Filter{Expiring: 14 * day}, "dead,hubonly,late,web-2"},
		{"expiring within 4 days", Filter{Expiring: 4 * day}, "dead,web-2"},
		{"failed: on the agent or the latest hub request", Filter{States: []string{admin.StateFailed}}, "broke,retry"},
		{"pending", Filter{States: []string{admin.StatePending}}, "wait"},
		{"ok", Filter{States: []string{admin.StateOK}}, "fine,wait,web-1"},
		{"expiring state is late renewal", Filter{States: []string{admin.StateExpiring}}, "hubonly,late,web-2"},
		{"expired", Filter{States: []string{admin.StateExpired}}, "dead"},
		{"offline", Filter{States: []string{admin.StateOffline}}, "gone"},
		{"never", Filter{States: []string{admin.StateNever}}, "fresh"},
		{"online", Filter{States: []string{admin.StateOnline}}, "broke,dead,fine,hubonly,late,retry,wait,web-1,web-2"},
		{"any of several states", Filter{States: []string{admin.StateNever, admin.StateFailed}}, "broke,fresh,retry"},
		{"all filters at once", Filter{Glob: "web-*", Expiring: 14 * day, States: []string{admin.StateExpiring}}, "web-2"},
		{"nothing matches", Filter{Glob: "db*"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.Now = now
			if err := tc.f.Check(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range s.Page(Query{Limit: 100, Match: tc.f.Match}).Agents {
				got = append(got, a.ID())
			}
			if strings.Join(got, ",") != tc.want {
				t.Fatalf("got %v, want %s", got, tc.want)
			}
		})
	}
}

func TestFilterCheck(t *testing.T) {
	cases := []struct {
		name, want string
		f          Filter
	}{
		{"bad glob", "--agent", Filter{Glob: "[x"}},
		{"unknown state", "--state \"broken\"", Filter{States: []string{"broken"}}},
		{"negative expiry", "--expiring", Filter{Expiring: -time.Hour}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.f.Check()
			if shared.CodeOf(err) != shared.CodeBadRequest || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want bad_request naming %s", err, tc.want)
			}
		})
	}
}

// TestPage: cursor pages cover every agent once, in order; a budget ends
// a page early but never empty.
func TestPage(t *testing.T) {
	s := filterFleet(time.Now())
	var ids []string
	after := ""
	for {
		p := s.Page(Query{After: after, Limit: 3})
		for _, a := range p.Agents {
			ids = append(ids, a.ID())
		}
		if p.Next == "" {
			break
		}
		if p.Next != ids[len(ids)-1] {
			t.Fatalf("next %q is not the page's last agent", p.Next)
		}
		after = p.Next
	}
	if !slices.IsSorted(ids) || len(ids) != s.Len() || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Fatalf("pages gave %v", ids)
	}
	// A cursor need not be an agent id.
	if p := s.Page(Query{After: "g", Limit: 1}); p.Agents[0].ID() != "gone" {
		t.Fatalf("after %q: %s", "g", p.Agents[0].ID())
	}
	one := s.Get("broke").Size()
	if p := s.Page(Query{Limit: 100, Budget: 1}); len(p.Agents) != 1 || p.Next != "broke" {
		t.Fatalf("a budget below one agent: %d agents, next %q", len(p.Agents), p.Next)
	}
	if p := s.Page(Query{Limit: 100, Budget: one + s.Get("dead").Size()}); len(p.Agents) != 2 {
		t.Fatalf("a budget of two agents: %d agents", len(p.Agents))
	}
}
