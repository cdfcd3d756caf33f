package web

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/hub"
)

// TestHubRequestShown: a certificate's pending request at the hub shows
// on the agent, certificate and fleet pages as status prints it: its
// state, and for a waiting one why it waits and until when, escaped.
func TestHubRequestShown(t *testing.T) {
	r := bigFleet(1) // web-00000's certificate "web" expires now: on the fleet page's attention list
	now := r.Now
	next := now.Add(150 * time.Minute)
	const reason = `the budget of CA <script>alert(1)</script>'s new orders (300 per 3h) is used up`
	const escaped = `the budget of CA &lt;script&gt;alert(1)&lt;/script&gt;&#39;s new orders (300 per 3h) is used up`
	req := func(state string, updated time.Time, mod func(*hub.RequestState)) hub.RequestState {
		q := hub.RequestState{AgentID: "web-00000", RequestID: state + "-1", CertName: "web", State: state, Updated: updated}
		if mod != nil {
			mod(&q)
		}
		return q
	}
	cases := []struct {
		name     string
		requests []hub.RequestState
		want     []string
		absent   []string
	}{
		{name: "waiting for a CA budget: why and until when",
			requests: []hub.RequestState{req(hub.RequestWaiting, now, func(q *hub.RequestState) {
				q.NextTry, q.WaitReason, q.LastError = next, reason, "an older error"
			})},
			want:   []string{"hub: waiting</span> · next " + next.UTC().Format("2006-01-02 15:04 UTC") + " <small>(in 2h)</small>", escaped},
			absent: []string{"<script>", "an older error", "· attempt"}},
		{name: "retrying: the attempt, the hub driving it and the last error",
			requests: []hub.RequestState{req(hub.RequestRetrying, now, func(q *hub.RequestState) {
				q.Attempts, q.NextTry, q.Hub, q.LastError, q.WaitReason = 3, next, "hub-b", "rate limited by the CA", "the CA's Retry-After"
			})},
			want:   []string{"hub: retrying</span> on <code>hub-b</code> · attempt 3 · next ", "rate limited by the CA"},
			absent: []string{"the CA&#39;s Retry-After"}},
		{name: "due now: no time left shown",
			requests: []hub.RequestState{req(hub.RequestWaiting, now, func(q *hub.RequestState) {
				q.NextTry, q.WaitReason = now.Add(-time.Second), "behind 4 waiting requests"
			})},
			want:   []string{"hub: waiting</span> · next ", "behind 4 waiting requests"},
			absent: []string{"(in "}},
		{name: "issued: nothing from the hub",
			requests: []hub.RequestState{req(hub.RequestIssued, now, nil)},
			absent:   []string{`class="hub-request"`}},
		{name: "the newest request wins",
			requests: []hub.RequestState{
				req(hub.RequestWaiting, now.Add(-time.Hour), func(q *hub.RequestState) { q.NextTry, q.WaitReason = next, reason }),
				req(hub.RequestIssued, now, nil),
			},
			absent: []string{`class="hub-request"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fleet := r
			fleet.Requests = tc.requests
			s, err := New(Options{Backend: fleetBackend{fleet}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), SilentAfter: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := s.sessions.create("alice", hub.RoleReadOnly)
			c := &http.Cookie{Name: sessionCookie, Value: tok}
			for _, page := range []string{"/agents/web-00000", "/agents/web-00000/certs/web", "/"} {
				body := get(t, s, c, page)
				for _, w := range tc.want {
					if !strings.Contains(body, w) {
						t.Errorf("%s lacks %q", page, w)
					}
				}
				for _, a := range tc.absent {
					if strings.Contains(body, a) {
						t.Errorf("%s shows %q", page, a)
					}
				}
			}
		})
	}
}
