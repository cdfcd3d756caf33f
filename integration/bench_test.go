package integration

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
)

// benchEnv is newEnv for benchmarks.
func benchEnv(b *testing.B) (*fleet.Env, context.Context) {
	b.Helper()
	env, err := fleet.New(fleet.Options{Dir: b.TempDir(), BinDir: binDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(env.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	b.Cleanup(cancel)
	if err := env.StartHub(ctx); err != nil {
		b.Fatal(err)
	}
	if err := env.AddZone(ctx, "corp.example.test"); err != nil {
		b.Fatal(err)
	}
	return env, ctx
}

// BenchmarkIssuance measures, end to end with the real binaries and
// Pebble, the time from an agent's start to its certificate installed.
func BenchmarkIssuance(b *testing.B) {
	env, ctx := benchEnv(b)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		name := fmt.Sprintf("bench%d", i)
		host := name + ".corp.example.test"
		a, err := env.NewAgent(ctx, name, []string{host}, fleet.CertSpec{Name: "tls", Names: []string{host}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := a.Start(); err != nil {
			b.Fatal(err)
		}
		if _, err := a.AwaitCert(ctx, "tls", []string{host}, 90*time.Second); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		_ = a.Stop()
		b.StartTimer()
	}
}

// BenchmarkIdleMemory reports the resident memory of an idle hub and an
// idle agent holding one certificate (Linux /proc).
func BenchmarkIdleMemory(b *testing.B) {
	env, ctx := benchEnv(b)
	host := "idle.corp.example.test"
	a, err := env.NewAgent(ctx, "idle", []string{host}, fleet.CertSpec{Name: "tls", Names: []string{host}})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.Start(); err != nil {
		b.Fatal(err)
	}
	defer a.Stop()
	if _, err := a.AwaitCert(ctx, "tls", []string{host}, 90*time.Second); err != nil {
		b.Fatal(err)
	}
	var hub, agent float64
	for range b.N {
		hub = max(hub, rssMB(b, env.HubProc().Pid()))
		agent = max(agent, rssMB(b, a.Proc().Pid()))
	}
	b.ReportMetric(hub, "hub-MB")
	b.ReportMetric(agent, "agent-MB")
}

func rssMB(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.Atoi(f[1])
			return float64(kb) / 1024
		}
	}
	b.Fatalf("no VmRSS for %d", pid)
	return 0
}
