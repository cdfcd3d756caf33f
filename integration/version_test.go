package integration

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeBuildStampsVersion builds both binaries exactly as `make build`
// does, with a given VERSION, and checks that each reports it: the agent
// once printed "dev" because the Makefile set only main.version.
func TestMakeBuildStampsVersion(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed: " + err.Error())
	}
	const version = "v9.8.7-stamp"
	bin := t.TempDir()
	cmd := exec.Command("make", "-C", "..", "build", "VERSION="+version, "BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	for _, tc := range []struct{ bin, want string }{
		{"certfleet-hub", "certfleet-hub " + version + "\n"},
		{"certfleet-agent", "certfleet-agent " + version + " "},
	} {
		out, err := exec.Command(filepath.Join(bin, tc.bin), "version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s version: %v\n%s", tc.bin, err, out)
		}
		if !strings.HasPrefix(string(out), tc.want) {
			t.Errorf("%s version = %q, want it to start with %q", tc.bin, out, tc.want)
		}
	}
}
