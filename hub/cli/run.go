package cli

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/service"
)

func runCmd(g *globals) *cobra.Command {
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
			log := NewLogger(os.Stderr, cfg.SlogLevel(), cfg.LogFormat)
			h, err := service.New(cfg, log, Version)
			if err != nil {
				return err
			}
			return h.Run(cmd.Context())
		},
	}
}
