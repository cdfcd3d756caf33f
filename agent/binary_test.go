//go:build linux

package agent_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certfleet/certfleet/shared"
)

// TestBinaryEndToEnd builds certfleet-agent and drives the real binary:
// enroll, run until the certificate is installed, measure its resident
// memory while idle, stop it with SIGTERM, and read status.
func TestBinaryEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Skip("go tool not available")
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "certfleet-agent")
	build := exec.Command("go", "build", "-o", bin, "./agent/cmd/certfleet-agent")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}

	w := newWorld(t)
	b := w.cfg.Certificates[0]
	q := func(s string) string { j, _ := json.Marshal(s); return string(j) }
	cfgPath := filepath.Join(filepath.Dir(w.cfg.StateDir), "config.toml")
	toml := fmt.Sprintf("state_dir = %s\n[[certificate]]\nname = \"web\"\nnames = [\"www.example.org\", \"example.org\"]\ncert = %s\nfullchain = %s\nkey = %s\n",
		q(filepath.Join(filepath.Dir(w.cfg.StateDir), "state2")), q(b.Cert), q(b.Fullchain), q(b.Key))
	if err := os.WriteFile(cfgPath, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	e := &shared.Enrollment{Type: shared.TypeEnrollment, AgentID: agentID, URLs: []string{w.url}, Created: time.Now()}
	e.Creds, _ = testCreds(t)
	token, _ := e.Token()
	if out, err := exec.Command(bin, "enroll", token, "--config", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "run", "--config", cfgPath)
	logFile, _ := os.Create(filepath.Join(t.TempDir(), "agent.log"))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			data, _ := os.ReadFile(logFile.Name())
			t.Logf("agent log:\n%s", data)
		}
	})
	w.waitInstalled(t, "")

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("agent exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not stop on SIGTERM")
	}
	out, err = exec.Command(bin, "status", "--config", cfgPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "www.example.org") || !strings.Contains(string(out), " ok") {
		t.Fatalf("status: %v\n%s", err, out)
	}
}
