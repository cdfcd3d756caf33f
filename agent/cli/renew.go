package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/control"
	"github.com/certfleet/certfleet/internal/cliusage"
)

func (c *cmdEnv) renewCommand() *cobra.Command {
	var timeout time.Duration
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "renew [NAME]",
		Short: "Renew a certificate block (or all) now and wait for the outcome",
		Long: `renew asks the running agent, over its control socket, to renew now and waits
for the certificate to be issued and installed. When no agent is running it does
the renewal in this process and exits. --json prints the outcomes as an
array of {"cert", "status", "serial", "not_after", "error"}; it exits 1 if
any failed.`,
		Example: `  certfleet-agent renew
  certfleet-agent renew web --config /etc/certfleet-agent/config.toml --timeout 2m --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
				if _, ok := cfg.Block(name); !ok {
					return fmt.Errorf("no certificate block %q in %s", name, *c.cfgPath)
				}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			outs, err := control.Renew(ctx, cfg.ControlSocket(), name)
			if errors.Is(err, control.ErrNoAgent) {
				if !asJSON {
					fmt.Fprintln(c.Stderr, "no running agent; renewing in this process")
				}
				a, nerr := agent.New(cfg, agent.Options{Logger: c.Logger})
				if nerr != nil {
					return nerr
				}
				outs, err = a.RenewOnce(ctx, name)
			}
			if asJSON {
				if perr := cliusage.PrintJSON(c.Stdout, outs); perr != nil {
					return perr
				}
				return err
			}
			for _, o := range outs {
				if o.Status == "issued" {
					fmt.Fprintf(c.Stdout, "%s: issued, serial %s, valid until %s\n", o.Cert, o.Serial, o.NotAfter.Local().Format(time.RFC3339))
				} else {
					fmt.Fprintf(c.Stdout, "%s: %s: %s\n", o.Cert, o.Status, o.Error)
				}
			}
			return err
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for the outcome")
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = c.completeBlocks
	return cmd
}
