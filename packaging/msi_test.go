package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMSI builds the agent's MSI with wixl, checks its tables with
// msiinfo and, under wine, installs it (binary in Program Files, service
// registered, not started) and removes it again (both gone).
func TestMSI(t *testing.T) {
	tool(t, "wixl", "wixl")
	msiinfo := tool(t, "msiinfo", "msitools")
	dir := t.TempDir()
	cmd := exec.Command("./build-msi.sh", dir, "1.2.3+test")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("build-msi.sh: %v\n%s", err, out)
	}
	msi := filepath.Join(dir, strings.TrimSpace(lastLine(string(out))))
	if sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS")); !strings.Contains(string(sums), filepath.Base(msi)) {
		t.Errorf("SHA256SUMS lacks the MSI: %s", sums)
	}
	for _, tc := range []struct{ table, want string }{
		{"ServiceInstall", "certfleet-agent\tcertfleet agent\t16\t2\t1\t\t\tLocalSystem\t\trun --config \"[CommonAppDataFolder]certfleet-agent\\config.toml\""},
		{"ServiceControl", "certfleet-agent\t162\t\t1"}, // stop on install and uninstall, remove on uninstall; no start
		{"File", "certfleet-agent.exe"},
		{"Property", "ProductVersion\t1.2.3"},
		{"Upgrade", "{6C1F3B0E-4E7A-4A43-9D7B-2C6A1B5E8F10}\t0.0.0\t1.2.3"},
	} {
		if got := run(t, msiinfo, "export", msi, tc.table); !strings.Contains(got, tc.want) {
			t.Errorf("table %s lacks %q:\n%s", tc.table, tc.want, got)
		}
	}
	if info := run(t, msiinfo, "suminfo", msi); !strings.Contains(info, "Template: x64;1033") {
		t.Errorf("not an x64 package:\n%s", info)
	}

	wine(t)
	execSh, err := filepath.Abs("wine/exec.sh")
	if err != nil {
		t.Fatal(err)
	}
	prefix := winePrefix(t)
	runWine := func(args ...string) string {
		t.Helper()
		c := exec.Command(execSh, args...)
		c.Env = append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all")
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("wine %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	winMSI := `Z:` + strings.ReplaceAll(msi, "/", `\`)
	runWine("msiexec", "/i", winMSI, "/qn")
	exe := filepath.Join(prefix, "drive_c", "Program Files", "certfleet", "certfleet-agent.exe")
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("after install: %v", err)
	}
	key := `HKLM\System\CurrentControlSet\Services\certfleet-agent`
	svc := runWine("reg", "query", key)
	for _, want := range []string{`certfleet-agent.exe run --config "C:\ProgramData\certfleet-agent\config.toml"`, "Start    REG_DWORD    0x2", "LocalSystem"} {
		if !strings.Contains(svc, want) {
			t.Errorf("service registration lacks %q:\n%s", want, svc)
		}
	}
	runWine("msiexec", "/x", winMSI, "/qn")
	if _, err := os.Stat(exe); !os.IsNotExist(err) {
		t.Errorf("binary left after removal (%v)", err)
	}
	// Wine's service manager deletes the registration after msiexec
	// returns, in its own process: wait for it to go. On a loaded machine
	// (make test runs the integration package beside this one) that took
	// over a minute once.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		c := exec.Command(execSh, "reg", "query", key)
		c.Env = append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all")
		out, err := c.CombinedOutput()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("service still registered 3 minutes after removal:\n%s", out)
			break
		}
		time.Sleep(time.Second)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
