package agent_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The agent binary runs on every managed host: it must not carry the
// hub's server, ACME or test-CA code.
var forbiddenDeps = []string{
	"github.com/nats-io/nats-server",
	"github.com/go-acme/lego",
	"github.com/letsencrypt/pebble",
}

func TestAgentBinaryDependencies(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go tool not available")
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("find go.mod: %q %v", gomod, err)
	}
	root := filepath.Dir(gomod)
	for _, goos := range []string{"linux", "windows", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "./agent/cmd/certfleet-agent")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=arm64")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			deps := strings.Fields(string(out))
			sawNATS := false
			for _, d := range deps {
				for _, f := range forbiddenDeps {
					if strings.HasPrefix(d, f) {
						t.Errorf("certfleet-agent links %s", d)
					}
				}
				sawNATS = sawNATS || d == "github.com/nats-io/nats.go"
			}
			if !sawNATS {
				t.Fatalf("dependency list looks wrong (no nats.go): %d packages", len(deps))
			}
		})
	}
}
