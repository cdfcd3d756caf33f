package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// wine returns the wine loader, skipping the test without wine and the
// mingw compiler for the ProcessPrng shim (.ci/run installs both).
func wine(t *testing.T) string {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("wine runs windows/amd64 binaries on linux/amd64")
	}
	tool(t, "x86_64-w64-mingw32-gcc", "gcc-mingw-w64-x86-64-win32")
	for _, name := range []string{"wine64", "wine"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if _, err := os.Stat("/usr/lib/wine/wine64"); err == nil {
		return "/usr/lib/wine/wine64"
	}
	t.Skip("wine not installed (apt-get install wine64)")
	return ""
}

// TestWindowsUnderWine runs the Windows agent under wine: the certificate
// store tests (real LocalMachine store; ECDSA import is skipped there,
// wine lacks it) and the binary itself validating a Windows config with
// the store, a pfx output and a Windows service reload.
func TestWindowsUnderWine(t *testing.T) {
	wine(t)
	execSh, err := filepath.Abs("wine/exec.sh")
	if err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "WINEPREFIX="+winePrefix(t), "WINEDEBUG=-all")
	goCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		cmd.Env = append(env, "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		return cmd
	}
	if out, err := goCmd("test", "-count=1", "-v", "-exec", execSh, "./agent/certstore").CombinedOutput(); err != nil {
		t.Fatalf("windows certstore tests under wine: %v\n%s", err, out)
	} else if !strings.Contains(string(out), "--- PASS: TestSystemStoreReplace/rsa") {
		t.Fatalf("the real store test did not run:\n%s", out)
	}

	dir := t.TempDir()
	exe := filepath.Join(dir, "certfleet-agent.exe")
	if out, err := goCmd("build", "-o", exe, "./agent/cmd/certfleet-agent").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(cfg, []byte(`state_dir = 'C:\ProgramData\certfleet-agent'
[[certificate]]
name = "web"
names = ["www.example.org"]
cert = 'C:\certfleet\web.crt'
key = 'C:\certfleet\web.key'
pfx = 'C:\certfleet\web.pfx'
windows_store = "WebHosting"
reload_service = "W3SVC"
`), 0o644); err != nil {
		t.Fatal(err)
	}
	runWine := func(args ...string) (string, error) {
		cmd := exec.Command(execSh, append([]string{exe}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := runWine("version"); err != nil || !strings.Contains(out, "windows/amd64") {
		t.Fatalf("version under wine: %v %q", err, out)
	}
	out, err := runWine("check-config", "--config", `Z:`+strings.ReplaceAll(cfg, "/", `\`))
	if err != nil || !strings.Contains(out, "ok; 1 certificate block(s)") || !strings.Contains(out, `C:\ProgramData\certfleet-agent`) {
		t.Fatalf("check-config under wine: %v %q", err, out)
	}
}

// winePrefix returns a fresh wine prefix under the test's temp dir; at the
// end it waits for the prefix's wineserver to exit, since it writes the
// registry into the prefix as it goes, after the last program ended.
func winePrefix(t *testing.T) string {
	t.Helper()
	prefix := filepath.Join(t.TempDir(), "prefix")
	t.Cleanup(func() {
		server := "/usr/lib/wine/wineserver"
		if p, err := exec.LookPath("wineserver"); err == nil {
			server = p
		}
		cmd := exec.Command(server, "-w")
		cmd.Env = append(os.Environ(), "WINEPREFIX="+prefix)
		_ = cmd.Run() // no server left running is fine
	})
	return prefix
}
