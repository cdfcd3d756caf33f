package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/internal/cliusage/clitest"
)

// runHub runs the hub's command line in process with stdin, as main does.
func runHubIn(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := execute(context.Background(), args, strings.NewReader(stdin), &out, &errb, refuseRun)
	return code, out.String(), errb.String()
}

func runHub(args ...string) (int, string, string) { return runHubIn("", args...) }

// TestCommandTree walks every certfleet-hub command: examples that parse,
// --json on every printing command, the admin connection's flags on
// exactly the commands that talk to the hub, and the config file's on
// exactly those that read it; argument mistakes exit 2 naming the
// argument.
func TestCommandTree(t *testing.T) {
	const (
		foreground = "runs in the foreground until stopped: it logs, it prints no result"
		svc        = "drives the service manager: one line for a person, the exit code for scripts"
		script     = "prints a shell completion script"
	)
	adminCmd, configCmd, none := []string{groupConfig, groupAdmin}, []string{groupConfig}, []string{}
	clitest.Check(t, clitest.Spec{
		New: func() *cobra.Command { return NewRoot(io.Discard, io.Discard, refuseRun) },
		Run: runHub,
		NoJSON: map[string]string{
			"run": foreground, "relay": foreground,
			"service install": svc, "service uninstall": svc, "service start": svc, "service stop": svc,
			"service restart": svc, "service status": svc,
			"completion bash": script, "completion zsh": script, "completion fish": script, "completion powershell": script,
			"help": "prints help text",
		},
		Groups: map[string][]string{
			"init": configCmd, "run": configCmd, "check-config": configCmd,
			"service install": configCmd, "service uninstall": configCmd, "service start": configCmd,
			"service stop": configCmd, "service restart": configCmd, "service status": configCmd,

			"agent add": adminCmd, "agent remove": adminCmd, "agent revoke-key": adminCmd, "agent list": adminCmd,
			"domain add": adminCmd, "domain remove": adminCmd, "domain list": adminCmd, "domain check": adminCmd,
			"status": adminCmd, "audit": adminCmd, "renew": adminCmd, "cert show": adminCmd,
			"acmedns register": adminCmd, "acmedns list": adminCmd, "acmedns remove": adminCmd,
			"acmedns import": adminCmd, "acmedns check": adminCmd,
			"tsig add": adminCmd, "tsig list": adminCmd, "tsig remove": adminCmd,
			"user add": adminCmd, "user remove": adminCmd, "user list": adminCmd,

			"version": none, "relay": none, "nats-setup": none, "nats-setup revoke": none, "help": none,
			"completion bash": none, "completion zsh": none, "completion fish": none, "completion powershell": none,
		},
		GroupFlags: map[string][]string{groupConfig: {"config"}, groupAdmin: {"nats-url", "creds", "ca"}},
	})
}

// refuseRun stands in for service.Run: the tree tests need the run
// command in the tree, never a running hub.
func refuseRun(context.Context, config.Config, *slog.Logger, string) error {
	return errors.New("run is not available in this test")
}
