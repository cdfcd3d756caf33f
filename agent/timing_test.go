package agent_test

import (
	"testing"
	"time"

	"github.com/certfleet/certfleet/agent/internal/fakehub"
	"github.com/certfleet/certfleet/shared"
)

// TestWakesWhenDue: with an hour between polls, the agent still renews a
// short-lived certificate inside its window and retries a failure at its
// retry time, because it sets a timer for the earliest due time.
func TestWakesWhenDue(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup prepares the hub: the lifetime of what it issues (zero:
		// the default) and a failure for the first request, if any.
		setup func(h *fakehub.Hub) (lifetime time.Duration, fail *fakehub.Failure)
		// window is when the second request must arrive, given the
		// first request's result.
		window func(res *shared.CertResult) (from, to time.Time)
	}{
		{
			name: "renewal of a 6s certificate",
			setup: func(h *fakehub.Hub) (time.Duration, *fakehub.Failure) {
				h.SetBackdate(0)
				return 6 * time.Second, nil
			},
			// Default renewal: two thirds into the lifetime; it must be
			// renewed before it expires.
			window: func(res *shared.CertResult) (time.Time, time.Time) {
				life := res.NotAfter.Sub(res.NotBefore)
				return res.NotBefore.Add(life * 2 / 3), res.NotAfter.Add(-time.Second)
			},
		},
		{
			name: "retry at the hub's retry-after",
			setup: func(h *fakehub.Hub) (time.Duration, *fakehub.Failure) {
				return 0, &fakehub.Failure{Code: shared.CodeRateLimited, Message: "slow down", RetryAfter: time.Now().Add(2 * time.Second)}
			},
			window: func(res *shared.CertResult) (time.Time, time.Time) {
				return res.RetryAfter, res.RetryAfter.Add(time.Second)
			},
		},
		{
			name: "retry after the back-off",
			setup: func(h *fakehub.Hub) (time.Duration, *fakehub.Failure) {
				return 0, &fakehub.Failure{Code: shared.CodeCAError, Message: "CA down"}
			},
			// RetryBase 1.5s, less up to a fifth.
			window: func(res *shared.CertResult) (time.Time, time.Time) {
				return res.Finished.Add(1200 * time.Millisecond), res.Finished.Add(2500 * time.Millisecond)
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			lifetime, fail := tc.setup(w.hub)
			if lifetime > 0 {
				w.hub.SetLifetime(lifetime)
			}
			if fail != nil {
				w.hub.FailNext(*fail)
			}
			opts := fastOptions()
			opts.PollInterval = time.Hour
			opts.StatusInterval = time.Hour
			opts.RetryBase = 1500 * time.Millisecond
			opts.RetryMax = time.Hour
			startAgentWith(t, w.cfg, opts)
			reqs := w.waitRequests(t, 1)
			w.hub.Wait(t, 10*time.Second, "first result", func() bool { return w.hub.Result(agentID, reqs[0].Req.RequestID) != nil })
			res := w.hub.Result(agentID, reqs[0].Req.RequestID)
			from, to := tc.window(res)
			reqs = w.waitRequests(t, 2)
			got := reqs[1].Received
			if got.Before(from) || got.After(to) {
				t.Fatalf("second request at %s, want between %s and %s",
					got.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
			}
			w.waitInstalled(t, res.Serial)
		})
	}
}
