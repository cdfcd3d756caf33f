package packaging

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// entry is a file a package must hold: "ls -l"-style mode and owner.
type entry struct {
	mode, owner string
}

var debContents = map[string]map[string]entry{
	"certfleet-agent": {
		"./usr/bin/certfleet-agent":                           {"-rwxr-xr-x", "root/root"},
		"./lib/systemd/system/certfleet-agent.service":        {"-rw-r--r--", "root/root"},
		"./etc/certfleet-agent/config.toml":                   {"-rw-r-----", "root/root"},
		"./etc/certfleet-agent/":                              {"drwxr-x---", "root/root"},
		"./var/lib/certfleet-agent/":                          {"drwx------", "root/root"},
		"./etc/ssl/certfleet/":                                {"drwxr-xr-x", "root/root"},
		"./usr/share/doc/certfleet-agent/copyright":           {"-rw-r--r--", "root/root"},
		"./usr/share/doc/certfleet-agent/changelog.Debian.gz": {"-rw-r--r--", "0/0"},
	},
	"certfleet-hub": {
		"./usr/bin/certfleet-hub":                    {"-rwxr-xr-x", "root/root"},
		"./lib/systemd/system/certfleet-hub.service": {"-rw-r--r--", "root/root"},
		"./etc/certfleet/":                           {"drwxr-x---", "root/certfleet"},
		"./var/lib/certfleet-hub/":                   {"drwx------", "certfleet/certfleet"},
	},
}

func TestDebContents(t *testing.T) {
	dir := built(t)
	dpkgDeb := tool(t, "dpkg-deb", "dpkg")
	for name, want := range debContents {
		t.Run(name, func(t *testing.T) {
			deb := pkgFile(t, dir, name, "deb")
			got := map[string]entry{}
			for _, line := range strings.Split(run(t, dpkgDeb, "-c", deb), "\n") {
				f := strings.Fields(line)
				if len(f) >= 6 {
					got[f[5]] = entry{f[0], f[1]}
				}
			}
			for path, e := range want {
				if g, ok := got[path]; !ok {
					t.Errorf("%s missing", path)
				} else if g != e {
					t.Errorf("%s: %s %s, want %s %s", path, g.mode, g.owner, e.mode, e.owner)
				}
			}
			// Never start on install: no [Install]-driven enable in the
			// scripts, and no systemctl start/enable at all.
			control := run(t, dpkgDeb, "-I", deb)
			if !strings.Contains(control, "Version: "+testVersion+"-1") {
				t.Errorf("control lacks the version:\n%s", control)
			}
			scripts := t.TempDir()
			run(t, dpkgDeb, "-e", deb, scripts)
			for _, s := range []string{"postinst", "prerm", "postrm"} {
				b, err := os.ReadFile(filepath.Join(scripts, s))
				if err != nil {
					t.Fatalf("%s: %v", s, err)
				}
				for _, line := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(strings.TrimSpace(line), "echo ") {
						continue // the hint printed to the operator
					}
					for _, bad := range []string{"systemctl start", "systemctl enable", "systemctl restart"} {
						if strings.Contains(line, bad) {
							t.Errorf("%s runs %q: an unconfigured service must not start", s, bad)
						}
					}
				}
			}
		})
	}
}

func TestRPMContents(t *testing.T) {
	dir := built(t)
	rpm := tool(t, "rpm", "rpm")
	for _, tc := range []struct {
		name string
		want []string // "mode owner group path"
	}{
		{"certfleet-agent", []string{
			"-rwxr-xr-x root root /usr/bin/certfleet-agent",
			"-rw-r--r-- root root /usr/lib/systemd/system/certfleet-agent.service",
			"-rw-r----- root root /etc/certfleet-agent/config.toml",
			"drwx------ root root /var/lib/certfleet-agent",
		}},
		{"certfleet-hub", []string{
			"-rwxr-xr-x root root /usr/bin/certfleet-hub",
			"-rw-r--r-- root root /usr/lib/systemd/system/certfleet-hub.service",
			"drwxr-x--- root certfleet /etc/certfleet",
			"drwx------ certfleet certfleet /var/lib/certfleet-hub",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pkgFile(t, dir, tc.name, "rpm")
			list := run(t, rpm, "-qp", "--qf", `[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]`, p)
			for _, w := range tc.want {
				if !strings.Contains(list, w+"\n") {
					t.Errorf("rpm lacks %q:\n%s", w, list)
				}
			}
			if cfg := run(t, rpm, "-qpc", p); tc.name == "certfleet-agent" && strings.TrimSpace(cfg) != "/etc/certfleet-agent/config.toml" {
				t.Errorf("config files %q", cfg)
			}
			scripts := run(t, rpm, "-qp", "--scripts", p)
			if !strings.Contains(scripts, "preuninstall scriptlet") || strings.Contains(scripts, "systemctl start") {
				t.Errorf("scriptlets:\n%s", scripts)
			}
		})
	}
}

func TestLintian(t *testing.T) {
	dir := built(t)
	lintian := tool(t, "lintian", "lintian")
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	// Overrides ship in the packages (packaging/lintian); every other
	// error or warning fails.
	out, err := runErr(lintian, append([]string{"--no-cfg", "--fail-on", "error,warning"}, debs...)...)
	if err != nil {
		t.Fatalf("lintian: %v\n%s", err, out)
	}
	t.Logf("lintian: clean (%d packages)", len(debs))
}

func TestRpmlint(t *testing.T) {
	dir := built(t)
	rpmlint := tool(t, "rpmlint", "rpmlint")
	rpms, _ := filepath.Glob(filepath.Join(dir, "*.rpm"))
	out, err := runErr(rpmlint, append([]string{"-c", "rpmlint.toml"}, rpms...)...)
	if err != nil || !strings.Contains(out, "0 errors, 0 warnings") {
		t.Fatalf("rpmlint: %v\n%s", err, out)
	}
}

// TestReproducible builds the packages a second time and wants the same
// bytes.
func TestReproducible(t *testing.T) {
	dir := built(t)
	again := t.TempDir()
	// build.sh takes SOURCE_DATE_EPOCH from the last commit both times.
	if err := build(again); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(filepath.Join(again, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	// 4 packages and 2 SBOMs.
	if string(first) != string(second) || strings.Count(string(first), "\n") != 6 {
		t.Errorf("two builds differ:\n%s\n---\n%s", first, second)
	}
}

// TestSBOM: each binary has a CycloneDX SBOM listing the modules linked
// into it, at the package's version.
func TestSBOM(t *testing.T) {
	dir := built(t)
	for _, tc := range []struct {
		cmd, must, mustNot string
	}{
		{"certfleet-agent", "github.com/nats-io/nats.go", "github.com/nats-io/nats-server/v2"},
		{"certfleet-hub", "github.com/nats-io/nats-server/v2", ""},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, tc.cmd+"_"+testVersion+"_linux_"+pkgArch+".cdx.json"))
			if err != nil {
				t.Fatal(err)
			}
			var bom struct {
				BOMFormat string `json:"bomFormat"`
				Metadata  struct {
					Component struct{ Name, Version string }
				}
				Components []struct{ Name, Version string }
			}
			if err := json.Unmarshal(data, &bom); err != nil {
				t.Fatal(err)
			}
			if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Version != testVersion {
				t.Errorf("format %q, version %q", bom.BOMFormat, bom.Metadata.Component.Version)
			}
			var names []string
			for _, c := range bom.Components {
				names = append(names, c.Name)
			}
			if !slices.Contains(names, tc.must) || (tc.mustNot != "" && slices.Contains(names, tc.mustNot)) {
				t.Errorf("components %v: want %s, not %q", names, tc.must, tc.mustNot)
			}
		})
	}
}
