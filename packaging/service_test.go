package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceCommandsSysV drives `certfleet-agent service` against the
// real service manager of a machine without systemd (these containers,
// where kardianos/service picks SysV): install, install again, status,
// uninstall, uninstall again. It writes /etc/init.d, so it runs only as
// root, without systemd, and where no certfleet-agent service exists.
func TestServiceCommandsSysV(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("installing a service needs root")
	}
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Skip("systemd runs here: this test is for the SysV fallback (the unit is checked by systemd-analyze elsewhere)")
	}
	tool(t, "service", "init-system-helpers")
	script := "/etc/init.d/certfleet-agent"
	if _, err := os.Stat(script); err == nil {
		t.Skip("a certfleet-agent service exists on this machine; not touching it")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "certfleet-agent")
	build := exec.Command("go", "build", "-o", bin, "./agent/cmd/certfleet-agent")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(cfg, []byte("state_dir = \""+filepath.Join(dir, "state")+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	svc := func(args ...string) string {
		t.Helper()
		return run(t, bin, append([]string{"service"}, append(args, "--config", cfg)...)...)
	}
	t.Cleanup(func() {
		exec.Command(bin, "service", "uninstall", "--config", cfg).Run()
		links, _ := filepath.Glob("/etc/rc[0-6].d/[SK][0-9][0-9]certfleet-agent")
		for _, l := range links {
			os.Remove(l)
		}
	})
	for _, step := range []struct{ args, want string }{
		{"uninstall", "certfleet-agent: not installed, nothing to remove (unix-systemv)"},
		{"install", "certfleet-agent: installed; start it with `certfleet-agent service start` (unix-systemv)"},
		{"install", "certfleet-agent: was installed: definition updated (unix-systemv)"},
		{"status", "certfleet-agent: stopped (unix-systemv)"},
	} {
		if out := svc(strings.Fields(step.args)...); strings.TrimSpace(out) != step.want {
			t.Fatalf("service %s: %q, want %q", step.args, out, step.want)
		}
	}
	text, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), `cmd="`+bin+` "run" "--config" "`+cfg+`""`) {
		t.Errorf("%s does not run %s run --config %s:\n%s", script, bin, cfg, text)
	}
	for _, step := range []struct{ args, want string }{
		{"uninstall", "certfleet-agent: uninstalled (unix-systemv)"},
		{"uninstall", "certfleet-agent: not installed, nothing to remove (unix-systemv)"},
	} {
		if out := svc(step.args); strings.TrimSpace(out) != step.want {
			t.Fatalf("service %s: %q, want %q", step.args, out, step.want)
		}
	}
	if _, err := os.Stat(script); !os.IsNotExist(err) {
		t.Errorf("%s left after uninstall (%v)", script, err)
	}
	if links, _ := filepath.Glob("/etc/rc[0-6].d/[SK][0-9][0-9]certfleet-agent"); len(links) != 0 {
		t.Errorf("rc links left after uninstall: %v", links)
	}
}
