package web

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/shared"
)

// TestAgentPageUnmanaged: the agent page lists what the agent found in
// its [inventory] paths, with expiry state, escaped, and says nothing
// about it for an agent that found none.
func TestAgentPageUnmanaged(t *testing.T) {
	r := bigFleet(2)
	now := r.Now
	r.Status[0].Report.Unmanaged = []shared.UnmanagedCert{
		{Path: "/etc/ssl/old.pem", Subject: "CN=<b>old</b>", Issuer: "CN=Legacy CA", SANs: []string{"old.example.org"}, SANsOmitted: 2,
			NotAfter: now.Add(3 * 24 * time.Hour), SHA256: strings.Repeat("ab", 32), Duplicates: 1},
		{Path: "/etc/ssl/gone.pem", Subject: "CN=gone", NotAfter: now.Add(-time.Hour), SHA256: strings.Repeat("cd", 32)},
		{Path: "/etc/ssl/fine.pem", Subject: "CN=fine", NotAfter: now.Add(200 * 24 * time.Hour), SHA256: strings.Repeat("ef", 32)},
	}
	r.Status[0].Report.UnmanagedOmitted = 4
	s, err := New(Options{Backend: fleetBackend{r}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SilentAfter: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := s.sessions.create("alice", hub.RoleReadOnly)
	c := &http.Cookie{Name: sessionCookie, Value: tok}
	body := get(t, s, c, "/agents/"+r.Agents[0].ID)
	for _, want := range []string{
		`id="unmanaged"`, "<code>/etc/ssl/old.pem</code>", "(+1 copies)", "old.example.org (+2)", "CN=&lt;b&gt;old&lt;/b&gt;",
		`<tr class="state-expiring">`, `<tr class="state-expired">`, `<tr class="state-valid">`, "4 more, expiring later",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("agent page lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>old</b>") {
		t.Error("a subject from an agent rendered as HTML")
	}
	if body := get(t, s, c, "/agents/"+r.Agents[1].ID); strings.Contains(body, `id="unmanaged"`) {
		t.Error("unmanaged section for an agent that reported none")
	}
}
