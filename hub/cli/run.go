package cli

import (
	"context"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/config"
)

// Runner runs the hub configured by cfg until ctx ends. certfleet-hub's
// main passes service.Run. The command tree takes it as a value, rather
// than importing hub/service, so that the admin commands, and the
// integration harness and tools that import this package, do not link
// the hub's server (a test keeps it so).
type Runner func(ctx context.Context, cfg config.Config, log *slog.Logger, version string) error

func runCmd(g *globals, run Runner) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the hub in the foreground (DNS, NATS, ACME) until interrupted",
		Long: `run serves challenge DNS, NATS and the admin API and drives the ACME CAs until
it gets SIGINT or SIGTERM; it logs to standard error (log_level, log_format).
This is what the service runs.`,
		Example: "  certfleet-hub run --config /etc/certfleet/hub.toml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			// slog is set up once, here, from the config.
			return run(cmd.Context(), cfg, g.logger(cfg), Version)
		},
	}
}
