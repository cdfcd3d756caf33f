package cli_test

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent/cli"
	"github.com/certfleet/certfleet/internal/cliusage/clitest"
)

// TestCommandTree walks every certfleet-agent command: examples that
// parse, --json on every printing command, --config on exactly the
// commands that read the configuration, and argument mistakes exit 2
// naming the argument.
func TestCommandTree(t *testing.T) {
	const (
		svc    = "drives the service manager: one line for a person, the exit code for scripts"
		script = "prints a shell completion script"
	)
	withConfig, none := []string{cli.GroupConfig}, []string{}
	clitest.Check(t, clitest.Spec{
		New: func() *cobra.Command { return cli.NewCommand(&cli.Env{Stdout: io.Discard, Stderr: io.Discard}) },
		Run: func(args ...string) (int, string, string) { return run(t, args...) },
		NoJSON: map[string]string{
			"run":             "runs in the foreground until stopped: it logs, it prints no result",
			"example-config":  "prints the TOML configuration file itself",
			"service install": svc, "service uninstall": svc, "service start": svc, "service stop": svc,
			"service restart": svc, "service status": svc,
			"completion bash": script, "completion zsh": script, "completion fish": script, "completion powershell": script,
			"help": "prints help text",
		},
		Groups: map[string][]string{
			"run": withConfig, "enroll": withConfig, "status": withConfig, "renew": withConfig, "check-config": withConfig, "inventory": withConfig,
			"service install": withConfig, "service uninstall": withConfig, "service start": withConfig,
			"service stop": withConfig, "service restart": withConfig, "service status": withConfig,
			"version": none, "example-config": none, "help": none,
			"completion bash": none, "completion zsh": none, "completion fish": none, "completion powershell": none,
		},
		GroupFlags: map[string][]string{cli.GroupConfig: {"config"}},
	})
}

// TestJSONOutput: the agent's printing commands print one JSON value with
// snake_case keys and nothing on stderr; a failure prints nothing on
// stdout and exits 1.
func TestJSONOutput(t *testing.T) {
	path, cfg := setup(t, "")
	token, _ := enrollment(t, "host-a", "nats://127.0.0.1:4222").Token()
	for _, tc := range []struct {
		name string
		args []string
		want map[string]string
	}{
		{"version", []string{"version"}, map[string]string{"protocol": "2"}},
		{"check-config before enroll", []string{"check-config", "--config", path}, map[string]string{"ok": "true", "certificates": "1", "enrolled": "false", "state_dir": cfg.StateDir}},
		{"enroll", []string{"enroll", token, "--config", path}, map[string]string{"agent": "host-a", "urls": "[nats://127.0.0.1:4222]", "state_dir": cfg.StateDir}},
		{"check-config after enroll", []string{"check-config", "--config", path}, map[string]string{"enrolled": "true", "agent": "host-a", "enrollment_error": "<nil>"}},
		{"status", []string{"status", "--config", path}, map[string]string{"0.name": "web", "0.names": "[www.example.org]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--json")
			code, out, errOut := run(t, args...)
			if code != 0 || errOut != "" {
				t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
			}
			v := clitest.OneJSONValue(t, strings.Join(args, " "), out)
			for p, want := range tc.want {
				if got := fmt.Sprint(clitest.Field(v, p)); got != want {
					t.Errorf("%s = %q, want %q\n%s", p, got, want, out)
				}
			}
		})
	}
	t.Run("failure", func(t *testing.T) {
		code, out, errOut := run(t, "renew", "nosuch", "--config", path, "--json")
		if code != 1 || out != "" || !strings.Contains(errOut, `no certificate block "nosuch"`) {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

// TestRenewJSON: renew --json prints the outcome of each block (renewing
// in this process, which logs on stderr as it goes).
func TestRenewJSON(t *testing.T) {
	path, cfg := setup(t, "")
	liveWorld(t, path, cfg)
	code, out, errOut := run(t, "renew", "web", "--config", path, "--timeout", "20s", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	v := clitest.OneJSONValue(t, "renew --json", out)
	if clitest.Field(v, "0.cert") != "web" || clitest.Field(v, "0.status") != "issued" || clitest.Field(v, "0.serial") == nil || clitest.Field(v, "0.not_after") == nil {
		t.Fatalf("renew --json: %s", out)
	}
}

// TestCompletion: renew completes the configuration's block names; enroll
// completes file names (an enrollment file).
func TestCompletion(t *testing.T) {
	path, _ := setup(t, "")
	runIt := func(args ...string) (int, string, string) { return run(t, args...) }
	for _, tc := range []struct {
		name      string
		args      []string
		want      []string
		directive cobra.ShellCompDirective
	}{
		{"blocks", []string{"renew", "--config", path, ""}, []string{"web"}, cobra.ShellCompDirectiveNoFileComp},
		{"block prefix", []string{"renew", "--config", path, "x"}, nil, cobra.ShellCompDirectiveNoFileComp},
		{"one block only", []string{"renew", "--config", path, "web", ""}, nil, cobra.ShellCompDirectiveNoFileComp},
		{"no config", []string{"renew", "--config", path + ".missing", ""}, nil, cobra.ShellCompDirectiveNoFileComp},
		{"enrollment file", []string{"enroll", ""}, nil, cobra.ShellCompDirectiveDefault},
		{"no arguments", []string{"status", ""}, nil, cobra.ShellCompDirectiveNoFileComp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, d := clitest.Complete(t, runIt, tc.args...)
			if !slices.Equal(got, tc.want) || d != tc.directive {
				t.Errorf("__complete %v = %v, %d; want %v, %d", tc.args, got, d, tc.want, tc.directive)
			}
		})
	}
}
