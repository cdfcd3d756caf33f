package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kardianos/service"

	"github.com/certfleet/certfleet/shared/svcctl/svctest"
)

// hubMaxExposure is the highest `systemd-analyze security` level the hub
// unit may reach (README, "Install").
const hubMaxExposure = 2.0

// packagedUnit is the unit the deb/rpm ship: the default paths.
func packagedUnit() string {
	return SystemdUnit("/usr/bin/certfleet-hub", []string{"run", "--config", DefaultConfigPath}, "/var/lib/certfleet-hub", DefaultServiceUser)
}

func TestHubSystemdUnit(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dataDir, user string
		want, notWant       []string
	}{
		{
			name: "default", dataDir: "/var/lib/certfleet-hub", user: DefaultServiceUser,
			want: []string{"User=certfleet\n", "StateDirectory=certfleet-hub\n", "AmbientCapabilities=CAP_NET_BIND_SERVICE\n",
				"CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n", "Restart=on-failure\n", "StartLimitBurst=5\n"},
			notWant: []string{"ReadWritePaths"},
		},
		{
			name: "data dir elsewhere, root", dataDir: "/srv/certfleet hub", user: "root",
			want:    []string{`ReadWritePaths=-"/srv/certfleet hub"` + "\n", "CapabilityBoundingSet=CAP_NET_BIND_SERVICE\n"},
			notWant: []string{"User=", "AmbientCapabilities", "StateDirectory"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unit := SystemdUnit(exe, []string{"run", "--config", "/etc/certfleet/hub.toml"}, tc.dataDir, tc.user)
			for _, w := range tc.want {
				if !strings.Contains(unit, w) {
					t.Errorf("unit lacks %q", w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(unit, w) {
					t.Errorf("unit has %q", w)
				}
			}
			path := svctest.WriteUnit(t, ServiceName+".service", unit)
			svctest.Verify(t, path)
			svctest.Exposure(t, path, hubMaxExposure)
		})
	}
}

// TestPackagedHubUnit keeps packaging/systemd/certfleet-hub.service equal
// to what `service install` writes for the default paths.
// CERTFLEET_UPDATE_UNITS=1 rewrites it.
func TestPackagedHubUnit(t *testing.T) {
	path := filepath.Join("..", "..", "packaging", "systemd", ServiceName+".service")
	want := packagedUnit()
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
		t.Errorf("%s is stale; regenerate with CERTFLEET_UPDATE_UNITS=1 go test ./hub/cli -run TestPackagedHubUnit", path)
	}
}

// recordingService records the definition the commands install.
type recordingService struct {
	service.Service
	def       *service.Config
	installed bool
}

func (r *recordingService) Install() error { r.installed = true; return nil }
func (r *recordingService) Status() (service.Status, error) {
	return service.StatusUnknown, service.ErrNotInstalled
}
func (r *recordingService) Platform() string { return "test" }

func TestServiceInstallCommand(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hub.toml")
	dataDir := filepath.Join(dir, "data")
	cfg := "data_dir = \"" + dataDir + "\"\n[dns]\ndomain = \"acme.example.org\"\n[nats]\nadvertise = [\"tls://hub.example.org:4222\"]\n"
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rec := &recordingService{}
	newService = func(_ service.Interface, c *service.Config) (service.Service, error) {
		rec.def = c
		return rec, nil
	}
	t.Cleanup(func() { newService = nil })
	var out, errOut bytes.Buffer
	root := NewRoot(&out, &errOut, nil)
	root.SetArgs([]string{"service", "install", "--config", cfgPath, "--user", "root"})
	if err := root.Execute(); err != nil {
		t.Fatalf("install: %v (%s)", err, errOut.String())
	}
	if !rec.installed || rec.def.Name != ServiceName || strings.Join(rec.def.Arguments, " ") != "run --config "+cfgPath {
		t.Fatalf("definition %+v installed %v", rec.def, rec.installed)
	}
	unit, _ := rec.def.Option["SystemdScript"].(string)
	if !strings.Contains(unit, `ReadWritePaths=-"`+dataDir+`"`) {
		t.Errorf("unit does not open the configured data_dir:\n%s", unit)
	}
	if !strings.Contains(out.String(), "certfleet-hub: installed") {
		t.Errorf("output %q", out.String())
	}
}
