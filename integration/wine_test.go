package integration

import (
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	pkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/certfleet/certfleet/integration/fleet"
)

// TestWindowsAgentUnderWine runs the real Windows agent binary under wine
// against a real hub on loopback: `enroll` with an enrollment file, `run`
// in the foreground, and the agent gets a certificate from Pebble through
// the hub and writes the PEM files and a password-protected PFX; then it
// stops cleanly on Ctrl-C.
func TestWindowsAgentUnderWine(t *testing.T) {
	w := newWine(t)
	env := newEnv(t, "")
	c := ctx(t)
	if _, err := env.AddDomain(c, "win.example.test"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "win1")
	certs := filepath.Join(dir, "certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	enroll := filepath.Join(dir, "win1.enroll.json")
	if _, err := env.Hub(c, "agent", "add", "win1", "--allow", "win.example.test", "--out", enroll); err != nil {
		t.Fatal(err)
	}
	const pfxPassword = "wine-test-pfx"
	cfg := filepath.Join(dir, "agent.toml")
	file := func(name string) string { return winPath(filepath.Join(certs, name)) }
	// Literal TOML strings: Windows paths as an operator writes them.
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`state_dir = '%s'
log_level = "debug"

[[certificate]]
name = "web"
names = ["win.example.test"]
cert = '%s'
chain = '%s'
fullchain = '%s'
key = '%s'
pfx = '%s'
pfx_password = '%s'
`, winPath(filepath.Join(dir, "state")), file("cert.pem"), file("chain.pem"), file("fullchain.pem"),
		file("key.pem"), file("web.pfx"), pfxPassword)), 0o600); err != nil {
		t.Fatal(err)
	}

	if out, err := w.run("enroll", winPath(enroll), "--config", winPath(cfg)); err != nil {
		t.Fatalf("enroll under wine: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "enrollment.json")); err != nil {
		t.Fatalf("enroll wrote no enrollment into the state dir: %v", err)
	}

	log := filepath.Join(dir, "agent.log")
	p, err := w.start(log, "run", "--config", winPath(cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)

	var leaf *x509.Certificate
	err = fleet.Await(c, 60*time.Second, func() (bool, error) {
		if p.Exited() {
			return false, fmt.Errorf("agent exited: %v\n%s", p.Err(), p.LogTail(40))
		}
		b, err := os.ReadFile(filepath.Join(certs, "web.pfx"))
		if err != nil {
			return false, nil
		}
		key, l, chain, err := pkcs12.DecodeChain(b, pfxPassword)
		if err != nil {
			return false, fmt.Errorf("web.pfx: %w", err)
		}
		if key == nil || len(chain) == 0 {
			return false, fmt.Errorf("web.pfx: key %T, %d intermediates", key, len(chain))
		}
		leaf = l
		return true, nil
	})
	if err != nil {
		t.Fatalf("no certificate under wine: %v\nagent log:\n%s", err, p.LogTail(40))
	}
	// The PEM files are written before the PFX; they hold the same leaf,
	// a key that matches it, and a chain to Pebble's root. (Their modes
	// are not checked: the agent restricts them with Windows ACLs, which
	// wine keeps to itself.)
	if pem := checkInstalledFiles(t, env, certs); !pem.Equal(leaf) {
		t.Fatal("web.pfx and cert.pem hold different certificates")
	}
	if got := leaf.DNSNames; len(got) != 1 || got[0] != "win.example.test" {
		t.Fatalf("leaf names %v", got)
	}

	if err := w.stop(p, 30*time.Second); err != nil {
		t.Fatalf("agent under wine did not stop cleanly: %v\n%s", err, p.LogTail(40))
	}
	logText := p.LogTail(200)
	if !strings.Contains(logText, "agent stopped") {
		t.Fatalf("agent log has no clean stop:\n%s", logText)
	}
	// Whatever wine lacks (unix sockets for the control channel) the
	// agent reports as a warning with the way around it, not as a fault.
	if strings.Contains(logText, "level=ERROR") {
		t.Fatalf("agent under wine logged errors:\n%s", logText)
	}
}

// wine runs the Windows agent binary in a fresh wine prefix.
type wine struct {
	execSh string
	exe    string
	vars   []string // WINEPREFIX and WINEDEBUG
}

// newWine builds certfleet-agent.exe and makes a fresh wine prefix,
// skipping the test without wine64 or the mingw compiler the ProcessPrng
// shim needs (.ci/run installs both). At the end it waits for the
// prefix's wineserver to exit: it writes the registry into the prefix
// after the last program ended.
func newWine(t *testing.T) *wine {
	t.Helper()
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("wine runs windows/amd64 binaries on linux/amd64")
	}
	if _, err := exec.LookPath("x86_64-w64-mingw32-gcc"); err != nil {
		t.Skip("x86_64-w64-mingw32-gcc not installed (apt-get install gcc-mingw-w64-x86-64-win32)")
	}
	found := false
	for _, p := range []string{"wine64", "wine", "/usr/lib/wine/wine64"} {
		if _, err := exec.LookPath(p); err == nil {
			found = true
			break
		}
	}
	if !found {
		t.Skip("wine not installed (apt-get install wine64)")
	}
	execSh, err := filepath.Abs("../packaging/wine/exec.sh")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "certfleet-agent.exe")
	build := exec.Command("go", "build", "-o", exe, "../agent/cmd/certfleet-agent")
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the Windows agent: %v\n%s", err, out)
	}
	prefix := filepath.Join(dir, "prefix")
	t.Cleanup(func() {
		server := "/usr/lib/wine/wineserver"
		if p, err := exec.LookPath("wineserver"); err == nil {
			server = p
		}
		cmd := exec.Command(server, "-w")
		cmd.Env = append(os.Environ(), "WINEPREFIX="+prefix)
		_ = cmd.Run() // no server left running is fine
	})
	return &wine{execSh: execSh, exe: exe, vars: []string{"WINEPREFIX=" + prefix, "WINEDEBUG=-all"}}
}

// run runs the agent with args to the end and returns its output.
func (w *wine) run(args ...string) (string, error) {
	cmd := exec.Command(w.execSh, append([]string{w.exe}, args...)...)
	cmd.Env = append(os.Environ(), w.vars...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// start starts the agent with args, logging to log.
func (w *wine) start(log string, args ...string) (*fleet.Proc, error) {
	// exec.sh execs wine, which becomes the Windows process: signals
	// sent to the pid reach the agent.
	return fleet.StartProc("env", log, slices.Concat(w.vars, []string{w.execSh, w.exe}, args)...)
}

// stop stops the agent as Ctrl-C in its console does: wine turns SIGINT
// into CTRL_C_EVENT, which Go delivers as os.Interrupt.
func (w *wine) stop(p *fleet.Proc, timeout time.Duration) error {
	return p.StopWith(syscall.SIGINT, timeout)
}

// winPath is a Linux path as wine's Z: drive shows it.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }
