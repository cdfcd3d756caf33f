package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/certfleet/certfleet/agent/config"
)

func TestServiceConfig(t *testing.T) {
	c := &cmdEnv{Env: &Env{}}
	cfg := config.DefaultConfig()
	web := filepath.Join(cfg.StateDir, "..", "ssl", "web")
	private := filepath.Join(cfg.StateDir, "..", "ssl", "private")
	cfg.Certificates = []config.Certificate{{Name: "web", Cert: filepath.Join(web, "cert.pem"), Key: filepath.Join(private, "web.key")}}
	sc := c.serviceConfig("conf/agent.toml", cfg)
	abs, _ := filepath.Abs("conf/agent.toml")
	if strings.Join(sc.Arguments, " ") != "run --config "+abs {
		t.Errorf("arguments %v", sc.Arguments)
	}
	if sc.Name != ServiceName {
		t.Errorf("name %q", sc.Name)
	}
	// Windows recovery is only set when asked for, under these exact keys.
	if sc.Option["OnFailure"] != "restart" || sc.Option["OnFailureDelayDuration"] != "10s" {
		t.Errorf("windows recovery options: %v", sc.Option)
	}
	if _, ok := sc.Option["OnFailureResetPeriod"].(int); !ok {
		t.Error("OnFailureResetPeriod must be an int for the service library")
	}
	unit, _ := sc.Option["SystemdScript"].(string)
	if !strings.Contains(unit, systemdQuote(web)) || !strings.Contains(unit, systemdQuote(private)) || !strings.Contains(unit, systemdQuote(cfg.StateDir)) {
		t.Errorf("unit does not open exactly the needed directories:\n%s", unit)
	}
}

// TestSystemdUnitVerifies lints the unit with systemd's own checker.
func TestSystemdUnitVerifies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd is linux only")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	unit := filepath.Join(dir, ServiceName+".service")
	if err := os.WriteFile(unit, []byte(SystemdUnit(exe, []string{"run", "--config", "/etc/certfleet-agent/config.toml"}, []string{"/var/lib/certfleet-agent", "/etc/ssl/web"})), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	// Without a running systemd, verify still parses and checks the unit;
	// only complaints about this unit's own lines count.
	var problems []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, unit) {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("systemd-analyze verify (err %v):\n%s", err, strings.Join(problems, "\n"))
	}
	t.Logf("systemd-analyze verify: err %v, output %q", err, out)
}
