package integration

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/simfleet"
)

// envInt reads a positive integer from the environment, or def.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// BenchmarkFleet runs the fleet scenario (docs/benchmarks.md) with
// FLEET_AGENTS simulated agents (default 1,000), each holding a
// certificate, against the real hub process: connect, idle hub, status,
// renewal of FLEET_RENEWALS (default 1,000) certificates versus as many
// bare lego orders, and reconnection after the hub is killed and restarted.
func BenchmarkFleet(b *testing.B) {
	cfg := simfleet.Config{
		BinDir:      binDir,
		Agents:      envInt(b, "FLEET_AGENTS", 1000),
		Renewals:    envInt(b, "FLEET_RENEWALS", 1000),
		Concurrency: envInt(b, "FLEET_CONCURRENCY", 32),
		PprofListen: os.Getenv("FLEET_PPROF"),
		RetryAfter:  time.Duration(envInt(b, "FLEET_RETRY_AFTER", 0)) * time.Second,
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress:    func(s string) { b.Log(s) },
	}
	for range b.N {
		cfg.Dir = b.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Hour)
		rep, err := simfleet.Run(ctx, cfg)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		reportFleet(b, rep)
	}
}

func reportFleet(b *testing.B, r simfleet.Report) {
	b.Logf("\n%s", r.Markdown())
	b.ReportMetric(r.Connect.Seconds(), "connect-s")
	b.ReportMetric(r.Idle.CPU, "idle-hub-cpu-%")
	b.ReportMetric(float64(r.Idle.RSS)/(1<<20), "idle-hub-MB")
	b.ReportMetric(float64(r.StatusFirst.Milliseconds()), "status-first-ms")
	b.ReportMetric(float64(r.StatusWalk.Milliseconds()), "status-all-ms")
	b.ReportMetric(r.Renew.Seconds(), "renew-s")
	b.ReportMetric(r.Bare.Seconds(), "lego-s")
	b.ReportMetric(r.Renew.Seconds()/r.Bare.Seconds(), "renew/lego")
	b.ReportMetric(r.Regreet.Seconds(), "restart-back-s")
	if r.Failures > 0 {
		b.Errorf("%d certificate requests failed; last: %s", r.Failures, r.LastError)
	}
}

// BenchmarkFleetRealAgents runs FLEET_REAL_AGENTS real certfleet-agent
// processes (e.g. 200), each with a certificate, against the real hub:
// connect, idle hub and agents, status, reconnection after the hub is
// killed and restarted. It is skipped unless FLEET_REAL_AGENTS is set:
// hundreds of processes are too heavy for every `make bench`.
func BenchmarkFleetRealAgents(b *testing.B) {
	if os.Getenv("FLEET_REAL_AGENTS") == "" {
		b.Skip("set FLEET_REAL_AGENTS=N to run N real agent processes (docs/benchmarks.md)")
	}
	cfg := simfleet.RealConfig{
		BinDir:      binDir,
		Agents:      envInt(b, "FLEET_REAL_AGENTS", 200),
		Concurrency: envInt(b, "FLEET_CONCURRENCY", 32),
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Progress:    func(s string) { b.Log(s) },
	}
	for range b.N {
		cfg.Dir = b.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		rep, err := simfleet.RunReal(ctx, cfg)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("\n%s", rep.Markdown())
		b.ReportMetric(rep.Connect.Seconds(), "connect-s")
		b.ReportMetric(rep.Idle.CPU, "idle-hub-cpu-%")
		b.ReportMetric(float64(rep.Idle.RSS)/(1<<20), "idle-hub-MB")
		b.ReportMetric(float64(rep.AgentRSS)/(1<<20), "agent-MB")
		b.ReportMetric(float64(rep.StatusWalk.Milliseconds()), "status-all-ms")
		b.ReportMetric(rep.Reconnect.Seconds(), "restart-back-s")
	}
}
