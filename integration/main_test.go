package integration

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/certfleet/certfleet/integration/fleet"
	"github.com/certfleet/certfleet/integration/pebble"
)

// binDir holds the binaries, built once for the whole package.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("integration: skipped in -short mode")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "certfleet-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	for _, b := range []string{"certfleet-hub", "certfleet-agent"} {
		pkg := "../hub/cmd/certfleet-hub"
		if b == "certfleet-agent" {
			pkg = "../agent/cmd/certfleet-agent"
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// newEnv starts a test world with a running hub; logs of every process
// are printed when the test fails.
func newEnv(t *testing.T, hubConfig string) *fleet.Env {
	t.Helper()
	env := newStoppedEnv(t, hubConfig)
	if err := env.StartHub(ctx(t)); err != nil {
		t.Fatal(err)
	}
	return env
}

// newStoppedEnv is newEnv without starting the hub.
func newStoppedEnv(t *testing.T, hubConfig string) *fleet.Env {
	t.Helper()
	dir := t.TempDir()
	env, err := fleet.New(fleet.Options{
		Dir: dir, BinDir: binDir, HubConfig: hubConfig,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		// Pebble as shipped: no Retry-After, so the issuer polls from 100 ms.
		Pebble: pebble.Options{},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			dumpLogs(t, dir)
		}
		env.Close()
	})
	return env
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return c
}

func dumpLogs(t *testing.T, dir string) {
	_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Ext(p) == ".log" {
			b, _ := os.ReadFile(p)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("==== %s\n%s", p, b)
		}
		return nil
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
