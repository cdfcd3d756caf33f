package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/store"
	"github.com/certfleet/certfleet/shared"
)

// fleetBackend serves a fixed fleet; actions are refused.
type fleetBackend struct{ r admin.StatusReply }

var errReadOnly = errors.New("not in this test")

func (b fleetBackend) Status(context.Context) (admin.StatusReply, error) { return b.r, nil }
func (b fleetBackend) AgentStatus(_ context.Context, id string) (hub.AgentStatus, error) {
	for _, s := range b.r.Status {
		if s.AgentID == id {
			return s, nil
		}
	}
	return hub.AgentStatus{}, store.ErrNotFound
}
func (b fleetBackend) Cert(_ context.Context, req admin.CertRequest) (admin.CertReply, error) {
	for _, c := range b.r.Certs {
		if c.AgentID == req.Agent && c.CertName == req.Name {
			return admin.CertReply{Agent: req.Agent, Name: req.Name, Cert: &c}, nil
		}
	}
	return admin.CertReply{Agent: req.Agent, Name: req.Name}, nil
}
func (b fleetBackend) Audit(context.Context, admin.AuditRequest) (admin.AuditReply, error) {
	return admin.AuditReply{}, nil
}
func (b fleetBackend) Renew(context.Context, admin.RenewRequest) error { return errReadOnly }
func (b fleetBackend) AgentAdd(context.Context, admin.AgentAddRequest) (admin.AgentAddReply, error) {
	return admin.AgentAddReply{}, errReadOnly
}
func (b fleetBackend) AgentRemove(context.Context, admin.AgentRemoveRequest) error {
	return errReadOnly
}
func (b fleetBackend) Domains(context.Context) (admin.DomainList, error) {
	return admin.DomainList{}, nil
}
func (b fleetBackend) DomainAdd(context.Context, admin.DomainAddRequest) (admin.DomainAddReply, error) {
	return admin.DomainAddReply{}, errReadOnly
}
func (b fleetBackend) DomainCheck(context.Context, admin.DomainCheckRequest) (admin.DomainCheckReply, error) {
	return admin.DomainCheckReply{}, nil
}
func (b fleetBackend) User(_ context.Context, name string) (hub.User, error) {
	if name == "alice" {
		return hub.User{Name: "alice", Role: hub.RoleReadOnly}, nil
	}
	return hub.User{}, store.ErrNotFound
}

func (b fleetBackend) UserByEmail(context.Context, string) (hub.User, error) {
	return hub.User{}, store.ErrNotFound
}

// bigFleet has n agents with one certificate each, expiring over 90 days.
func bigFleet(n int) admin.StatusReply {
	now := time.Now().UTC()
	r := admin.StatusReply{Now: now}
	for i := range n {
		id := fmt.Sprintf("web-%05d", i)
		r.Agents = append(r.Agents, hub.Agent{ID: id, Allow: []string{id + ".example.org"}, Created: now})
		r.Status = append(r.Status, hub.AgentStatus{AgentID: id, LastSeen: now, Report: shared.StatusReport{AgentVersion: "1.0",
			Hostname: id, Certificates: []shared.CertStatus{{Name: "web", Names: []string{id + ".example.org"},
				NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Duration(i%90) * 24 * time.Hour), LastResult: "ok"}}}})
	}
	return r
}

func benchServer(tb testing.TB, n int) (*Server, *http.Cookie) {
	s, err := New(Options{Backend: fleetBackend{bigFleet(n)}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SilentAfter: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tok, _ := s.sessions.create("alice", hub.RoleReadOnly)
	return s, &http.Cookie{Name: sessionCookie, Value: tok}
}

func get(tb testing.TB, s *Server, c *http.Cookie, path string) string {
	r := httptest.NewRequest("GET", path, nil)
	r.AddCookie(c)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		tb.Fatalf("GET %s: %d", path, w.Code)
	}
	return w.Body.String()
}

// TestAgentsPaging: 10,000 agents are searched and paged, 50 a page.
func TestAgentsPaging(t *testing.T) {
	s, c := benchServer(t, 10000)
	body := get(t, s, c, "/agents?page=3")
	if !strings.Contains(body, "10000 of 10000 agents") || !strings.Contains(body, "page 3 of 200") ||
		!strings.Contains(body, `href="/agents/web-00100"`) || strings.Contains(body, `href="/agents/web-00150"`) {
		t.Fatal("page 3 does not hold agents 100-149")
	}
	body = get(t, s, c, "/agents?q=web-0999")
	if !strings.Contains(body, "10 of 10000 agents") {
		t.Fatal("search for web-0999 does not find its 10 agents")
	}
	body = get(t, s, c, "/")
	if !strings.Contains(body, `id="count-valid"`) || !strings.Contains(body, `id="timeline"`) {
		t.Fatal("overview lacks counts or the timeline")
	}
}

func BenchmarkAgentsPage10k(b *testing.B) {
	s, c := benchServer(b, 10000)
	for b.Loop() {
		get(b, s, c, "/agents?q=web-01&page=2")
	}
}

func BenchmarkOverview10k(b *testing.B) {
	s, c := benchServer(b, 10000)
	for b.Loop() {
		get(b, s, c, "/")
	}
}

// TestRemovedUserLosesSession: a session ends at the first request after
// its user is removed.
func TestRemovedUserLosesSession(t *testing.T) {
	s, _ := benchServer(t, 1)
	tok, _ := s.sessions.create("mallory", hub.RoleAdmin) // not (or no longer) a user
	r := httptest.NewRequest("GET", "/agents", nil)
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: tok})
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("GET with a removed user's session: %d, want 401", w.Code)
	}
	if s.sessions.get(tok) != nil {
		t.Fatal("session kept")
	}
}
