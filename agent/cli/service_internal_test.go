package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/shared/svcctl"
	"github.com/certfleet/certfleet/shared/svcctl/svctest"
)

func TestServiceConfig(t *testing.T) {
	c := &cmdEnv{Env: &Env{}}
	cfg := config.DefaultConfig()
	web := filepath.Join(cfg.StateDir, "..", "ssl", "web")
	private := filepath.Join(cfg.StateDir, "..", "ssl", "private")
	cfg.Certificates = []config.Certificate{{Name: "web", Cert: filepath.Join(web, "cert.pem"), Key: filepath.Join(private, "web.key")}}
	sc := c.serviceConfig("conf/agent.toml", cfg, "")
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
	if !strings.Contains(unit, svcctl.Quote(web)) || !strings.Contains(unit, svcctl.Quote(private)) || !strings.Contains(unit, svcctl.Quote(cfg.StateDir)) {
		t.Errorf("unit does not open exactly the needed directories:\n%s", unit)
	}
	if strings.Contains(unit, "User=") {
		t.Errorf("no --user: the agent runs as root:\n%s", unit)
	}
	if sc := c.serviceConfig("conf/agent.toml", cfg, "certfleet"); sc.UserName != "certfleet" ||
		!strings.Contains(sc.Option["SystemdScript"].(string), "\nUser=certfleet\nGroup=certfleet\n") {
		t.Errorf("--user not applied: %q\n%s", sc.UserName, sc.Option["SystemdScript"])
	}
}

// agentMaxExposure is the highest `systemd-analyze security` level the
// agent unit may reach (README, "Install"). The agent runs as root with
// a few capabilities to install files for other services, which is
// most of its score.
const agentMaxExposure = 3.0

// TestSystemdUnitVerifies lints the unit with systemd's own checker and
// holds its exposure level.
func TestSystemdUnitVerifies(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		user string
	}{
		{"root", ""},
		{"dedicated user", "certfleet-agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unit := SystemdUnit(exe, []string{"run", "--config", "/etc/certfleet-agent/config.toml"},
				[]string{"/var/lib/certfleet-agent", "/etc/ssl/web"}, tc.user)
			path := svctest.WriteUnit(t, ServiceName+".service", unit)
			svctest.Verify(t, path)
			svctest.Exposure(t, path, agentMaxExposure)
		})
	}
}

// packagedCertDir is the certificate directory the deb/rpm create and
// the packaged unit lets the agent write to.
const packagedCertDir = "/etc/ssl/certfleet"

// TestPackagedAgentUnit keeps packaging/systemd/certfleet-agent.service
// equal to what `service install` writes for the package's paths.
// CERTFLEET_UPDATE_UNITS=1 rewrites it.
func TestPackagedAgentUnit(t *testing.T) {
	path := filepath.Join("..", "..", "packaging", "systemd", ServiceName+".service")
	want := SystemdUnit("/usr/bin/certfleet-agent", []string{"run", "--config", "/etc/certfleet-agent/config.toml"},
		[]string{"/var/lib/certfleet-agent", packagedCertDir}, "")
	if os.Getenv("CERTFLEET_UPDATE_UNITS") == "1" {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%s is stale; regenerate with CERTFLEET_UPDATE_UNITS=1 go test ./agent/cli -run TestPackagedAgentUnit", path)
	}
}
