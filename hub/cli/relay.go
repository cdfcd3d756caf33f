package cli

import (
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/relay"
	"github.com/certfleet/certfleet/internal/cliusage"
)

func relayCmd(g *globals) *cobra.Command {
	var cfg relay.Config
	var level string
	cmd := &cobra.Command{
		Use:   "relay --listen ADDR --to HUB:PORT [--proxy URL]",
		Short: "Relay a site's agents to the hub: forwards TCP to the hub's NATS port, holds no credentials",
		Long: `Run on the one machine of a site that may reach the hub (or a proxy to it).
Agents at the site connect to this relay instead of the hub: set in their
config [hub] urls = ["tls://RELAY:PORT"] and tls_server_name = "HUB NAME".
The relay forwards each connection byte for byte to --to (the hub's tls://
port, or its wss:// port), directly or through the HTTP CONNECT proxy
--proxy. TLS and NATS authentication stay end to end between each agent
and the hub: the relay has no credentials and cannot read, alter or
impersonate anyone's traffic. It needs no config file and no hub data.`,
		Example: `  certfleet-hub relay --listen 0.0.0.0:4222 --to hub.example.org:4222
  certfleet-hub relay --listen 0.0.0.0:4222 --to hub.example.org:443 --proxy http://proxy.corp.example:3128`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(level)); err != nil {
				return cliusage.Usagef(cmd, "--log-level %q: want debug, info, warn or error", level)
			}
			r, err := relay.Listen(cfg, NewLogger(os.Stderr, lv, "text"))
			if err != nil {
				return err
			}
			return r.Serve(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Listen, "listen", ":4222", "address agents connect to")
	f.StringVar(&cfg.To, "to", "", "the hub's NATS address, host:port (its tls:// or wss:// port)")
	f.StringVar(&cfg.Proxy, "proxy", "", "HTTP CONNECT proxy to reach the hub through, http://[user:password@]host:port")
	f.IntVar(&cfg.MaxConns, "max-conns", relay.DefaultMaxConns, "connections relayed at once; more are refused")
	f.DurationVar(&cfg.DialTimeout, "dial-timeout", relay.DefaultDialTimeout, "time to reach the hub")
	f.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	_ = cmd.RegisterFlagCompletionFunc("log-level", cobra.FixedCompletions([]string{"debug", "info", "warn", "error"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagRequired("to")
	return cmd
}
