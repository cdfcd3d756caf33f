package packaging

import (
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certfleet/certfleet/shared/svcctl/svctest"
)

// TestDebInstallRemovePurge installs both .debs for real with dpkg, checks
// the files, user and permissions against what the units expect, then
// removes and purges them. It changes the machine, so it runs only as
// root (CI runs as root on a throwaway machine) and only where neither
// package is installed already; it always purges what it installed.
func TestDebInstallRemovePurge(t *testing.T) {
	dir := built(t)
	dpkg := tool(t, "dpkg", "dpkg")
	if os.Geteuid() != 0 {
		t.Skip("dpkg -i needs root")
	}
	pkgs := []string{"certfleet-agent", "certfleet-hub"}
	for _, p := range pkgs {
		if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", p).Output(); err == nil && strings.Contains(string(out), "installed") {
			t.Skipf("%s is installed on this machine; not touching it", p)
		}
	}
	if _, err := user.Lookup("certfleet"); err == nil {
		t.Skip("a certfleet user exists already; not touching it")
	}
	t.Cleanup(func() {
		if out, err := dpkgRun(dpkg, append([]string{"--purge"}, pkgs...)...); err != nil {
			t.Errorf("cleanup purge: %v\n%s", err, out)
		}
	})
	out := mustDpkg(t, dpkg, "-i", pkgFile(t, dir, "certfleet-hub", "deb"), pkgFile(t, dir, "certfleet-agent", "deb"))
	// Not configured: the scripts say so and start nothing.
	for _, want := range []string{"certfleet-hub: not configured and not started", "certfleet-agent: not enrolled and not started"} {
		if !strings.Contains(out, want) {
			t.Errorf("dpkg -i output lacks %q:\n%s", want, out)
		}
	}

	hubUser, err := user.Lookup("certfleet")
	if err != nil {
		t.Fatalf("system user: %v", err)
	}
	if hubUser.HomeDir != "/var/lib/certfleet-hub" {
		t.Errorf("certfleet home %q", hubUser.HomeDir)
	}
	if pw := run(t, "getent", "passwd", "certfleet"); !strings.HasSuffix(strings.TrimSpace(pw), ":/usr/sbin/nologin") {
		t.Errorf("certfleet login shell: %s", pw)
	}
	for _, tc := range []struct {
		path  string
		mode  fs.FileMode
		owner string
	}{
		{"/usr/bin/certfleet-agent", 0o755, "root:root"},
		{"/usr/bin/certfleet-hub", 0o755, "root:root"},
		{"/etc/certfleet-agent/config.toml", 0o640, "root:root"},
		{"/etc/certfleet-agent", fs.ModeDir | 0o750, "root:root"},
		{"/var/lib/certfleet-agent", fs.ModeDir | 0o700, "root:root"},
		{"/etc/ssl/certfleet", fs.ModeDir | 0o755, "root:root"},
		{"/etc/certfleet", fs.ModeDir | 0o750, "root:certfleet"},
		{"/var/lib/certfleet-hub", fs.ModeDir | 0o700, "certfleet:certfleet"},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if fi.Mode() != tc.mode {
			t.Errorf("%s: mode %v, want %v", tc.path, fi.Mode(), tc.mode)
		}
		if got := owner(t, fi); got != tc.owner {
			t.Errorf("%s: owner %s, want %s", tc.path, got, tc.owner)
		}
	}
	// The binaries run, the shipped agent config is valid as is.
	if v := run(t, "/usr/bin/certfleet-agent", "version"); !strings.Contains(v, testVersion) {
		t.Errorf("agent version %q", v)
	}
	run(t, "/usr/bin/certfleet-agent", "check-config", "--config", "/etc/certfleet-agent/config.toml")
	// `init` as root writes a config the service user can read.
	run(t, "/usr/bin/certfleet-hub", "init", "--config", "/etc/certfleet/hub.toml", "--domain", "acme.example.org",
		"--public-ip", "192.0.2.7", "--public-host", "hub.example.org", "--email", "ops@example.org")
	if fi, err := os.Stat("/etc/certfleet/hub.toml"); err != nil || fi.Mode().Perm() != 0o640 || owner(t, fi) != "root:certfleet" {
		t.Errorf("hub.toml after init: %v %v", fi, err)
	}
	if runuser, err := exec.LookPath("runuser"); err == nil {
		run(t, runuser, "-u", "certfleet", "--", "/usr/bin/certfleet-hub", "check-config", "--config", "/etc/certfleet/hub.toml")
	}
	// Each installed unit points at files that are there.
	for _, unit := range []string{"/lib/systemd/system/certfleet-agent.service", "/lib/systemd/system/certfleet-hub.service"} {
		checkUnitPaths(t, unit)
		svctest.Verify(t, unit)
	}

	// Remove keeps configuration and state, purge removes everything.
	if err := os.WriteFile("/var/lib/certfleet-agent/state.json", []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustDpkg(t, dpkg, "--remove", "certfleet-agent", "certfleet-hub")
	for _, gone := range []string{"/usr/bin/certfleet-agent", "/usr/bin/certfleet-hub", "/lib/systemd/system/certfleet-agent.service"} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s still there after remove (%v)", gone, err)
		}
	}
	for _, kept := range []string{"/etc/certfleet-agent/config.toml", "/var/lib/certfleet-agent/state.json"} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s gone after remove (only purge may delete it): %v", kept, err)
		}
	}
	mustDpkg(t, dpkg, "--purge", "certfleet-agent", "certfleet-hub")
	for _, gone := range []string{"/etc/certfleet-agent", "/var/lib/certfleet-agent", "/etc/ssl/certfleet", "/etc/certfleet", "/var/lib/certfleet-hub"} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("%s still there after purge (%v)", gone, err)
		}
	}
	if _, err := user.Lookup("certfleet"); err == nil {
		t.Error("certfleet user still there after purge")
	}
}

func owner(t *testing.T, fi fs.FileInfo) string {
	t.Helper()
	st := fi.Sys().(*syscall.Stat_t)
	u, err := user.LookupId(strconv.FormatUint(uint64(st.Uid), 10))
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(strconv.FormatUint(uint64(st.Gid), 10))
	if err != nil {
		t.Fatal(err)
	}
	return u.Username + ":" + g.Name
}

var quoted = regexp.MustCompile(`"([^"]*)"`)

// checkUnitPaths: ExecStart's program and config, and every
// ReadWritePaths directory, exist on the installed system.
func checkUnitPaths(t *testing.T, unit string) {
	t.Helper()
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		switch key {
		case "ExecStart":
			words := quoted.FindAllStringSubmatch(val, -1)
			if len(words) < 4 {
				t.Fatalf("%s: ExecStart %q", unit, val)
			}
			if fi, err := os.Stat(words[0][1]); err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("%s: program %s: %v", unit, words[0][1], err)
			}
			// The agent's config ships in the package; the hub's is
			// written by `certfleet-hub init` into the shipped directory.
			cfg := words[len(words)-1][1]
			if strings.Contains(unit, "hub") {
				cfg = filepath.Dir(cfg)
			}
			if _, err := os.Stat(cfg); err != nil {
				t.Errorf("%s: config: %v", unit, err)
			}
		case "ReadWritePaths":
			for _, w := range quoted.FindAllStringSubmatch(val, -1) {
				if fi, err := os.Stat(w[1]); err != nil || !fi.IsDir() {
					t.Errorf("%s: ReadWritePaths %s: %v", unit, w[1], err)
				}
			}
		}
	}
}

// dpkgRun runs dpkg, waiting (up to 5 minutes) while another package
// manager holds the dpkg lock: on a shared machine apt may be running.
func dpkgRun(dpkg string, args ...string) (string, error) {
	deadline := time.Now().Add(5 * time.Minute)
	for {
		out, err := exec.Command(dpkg, args...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "lock") || time.Now().After(deadline) {
			return string(out), err
		}
		time.Sleep(2 * time.Second) // the lock holder gives no signal to wait on
	}
}

func mustDpkg(t *testing.T, dpkg string, args ...string) string {
	t.Helper()
	out, err := dpkgRun(dpkg, args...)
	if err != nil {
		t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}
