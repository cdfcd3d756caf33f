package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The admin CLI and the integration harness find the hub through its data
// directory (hub/datadir) and talk to it over NATS: they must not link the
// hub itself. Only certfleet-hub's main joins the two (cli.Runner).
func TestNoHubServiceDependency(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not available")
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("find go.mod: %q %v", gomod, err)
	}
	root := filepath.Dir(gomod)
	const forbidden = "github.com/certfleet/certfleet/hub/service"
	for _, pkg := range []string{"./hub/cli", "./integration/fleet"} {
		t.Run(pkg, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", pkg)
			cmd.Dir = root
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			deps := strings.Fields(string(out))
			if !slices.Contains(deps, "github.com/certfleet/certfleet/hub/datadir") {
				t.Fatalf("dependency list looks wrong (no hub/datadir): %d packages", len(deps))
			}
			if slices.Contains(deps, forbidden) {
				t.Errorf("%s depends on %s", pkg, forbidden)
			}
		})
	}
}
