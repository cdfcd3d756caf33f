package integration

import (
	"log/slog"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/simfleet"
)

// TestSimFleetScenario runs the fleet benchmark's scenario with a handful
// of simulated agents, so the harness behind `make bench` (and
// certfleet-simfleet) keeps working: enrolment, connect, issuance, idle
// measurement, status, renewal against bare lego, hub restart.
func TestSimFleetScenario(t *testing.T) {
	rep, err := simfleet.Run(ctx(t), simfleet.Config{
		BinDir: binDir, Dir: t.TempDir(), Agents: 6, Renewals: 6, Concurrency: 4, IdleWindow: time.Second,
		Logger:   slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress: func(s string) { t.Log(s) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", rep.Markdown())
	if rep.Failures != 0 {
		t.Errorf("%d certificate requests failed; last: %s", rep.Failures, rep.LastError)
	}
	if rep.StatusPages != 1 {
		t.Errorf("status of 6 agents took %d pages, want 1", rep.StatusPages)
	}
	for name, d := range map[string]time.Duration{"connect": rep.Connect, "issue": rep.Issue, "renew": rep.Renew,
		"bare lego": rep.Bare, "hub start": rep.HubStart, "regreet": rep.Regreet} {
		if d <= 0 {
			t.Errorf("%s: %s, want a positive duration", name, d)
		}
	}
	if rep.Idle.RSS <= 0 || rep.RSSAfterRestart <= 0 {
		t.Errorf("hub RSS idle %d, after restart %d: want positive", rep.Idle.RSS, rep.RSSAfterRestart)
	}
}
