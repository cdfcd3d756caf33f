package packaging

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// testVersion is the version the test packages carry.
const testVersion = "0.0.0+test"

// pkgArch is the Debian architecture name of the test machine.
var pkgArch = map[string]string{"amd64": "amd64", "arm64": "arm64"}[runtime.GOARCH]

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

// built returns the directory holding this machine's packages, built once
// for the whole test binary with build.sh.
func built(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" || pkgArch == "" {
		t.Skipf("packages are built for linux amd64/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	}
	buildOnce.Do(func() {
		builtDir, buildErr = os.MkdirTemp("", "certfleet-packages-")
		if buildErr == nil {
			buildErr = build(builtDir)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// build runs build.sh into dir.
func build(dir string) error {
	cmd := exec.Command("./build.sh", dir, testVersion, pkgArch)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build.sh: %w\n%s", err, out)
	}
	return nil
}

// pkgFile is one package file's path in dir, by name and format.
func pkgFile(t testing.TB, dir, name, format string) string {
	t.Helper()
	pattern := name + "_*.deb"
	if format == "rpm" {
		pattern = name + "-*.rpm"
	}
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) != 1 {
		t.Fatalf("%s %s package in %s: %v %v", name, format, dir, m, err)
	}
	return m[0]
}

// tool returns a program's path, skipping the test when it is missing
// (.ci/run installs every one of them).
func tool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func runErr(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}
