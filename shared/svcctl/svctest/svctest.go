// Package svctest checks systemd units with systemd's own offline tools,
// for the tests of the commands that write them.
package svctest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// analyze returns systemd-analyze's path, skipping the test when it is
// missing (.ci/run installs it with the systemd package).
func analyze(t testing.TB) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("systemd units are linux only")
	}
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (apt-get install systemd)")
	}
	return p
}

// WriteUnit writes text as name (e.g. "certfleet-agent.service") into a
// temporary directory and returns its path.
func WriteUnit(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Verify runs `systemd-analyze verify` on the unit file and fails the
// test on any complaint about that unit. Without a running systemd,
// verify still parses every line and checks that ExecStart's program
// exists; complaints about other units (the host's) are ignored.
func Verify(t testing.TB, unitPath string) {
	t.Helper()
	bin := analyze(t)
	out, err := exec.Command(bin, "verify", unitPath).CombinedOutput()
	name := filepath.Base(unitPath)
	var problems []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, name) || strings.Contains(line, unitPath) {
			problems = append(problems, line)
		}
	}
	if len(problems) > 0 {
		t.Fatalf("systemd-analyze verify %s (exit: %v):\n%s", name, err, strings.Join(problems, "\n"))
	}
}

var exposureRe = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// Exposure runs `systemd-analyze security --offline=yes` on the unit and
// returns its overall exposure level (0 = fully sandboxed, 10 = not at
// all), failing the test when it is above max.
func Exposure(t testing.TB, unitPath string, max float64) float64 {
	t.Helper()
	bin := analyze(t)
	out, err := exec.Command(bin, "security", "--offline=yes", "--no-pager", unitPath).CombinedOutput()
	m := exposureRe.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security (exit: %v): no overall level in:\n%s", err, out)
	}
	level, perr := strconv.ParseFloat(string(m[1]), 64)
	if perr != nil {
		t.Fatalf("exposure level %q: %v", m[1], perr)
	}
	t.Logf("systemd-analyze security --offline=yes %s: exposure %.1f", filepath.Base(unitPath), level)
	if level > max {
		t.Errorf("exposure level %.1f, want at most %.1f:\n%s", level, max, out)
	}
	return level
}
