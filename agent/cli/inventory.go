package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/inventory"
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/shared"
)

func (c *cmdEnv) inventoryCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "Scan the [inventory] paths now and show the certificates this agent does not manage",
		Long: `inventory scans the configuration's [inventory] paths once, as the running
agent does every interval, and prints what it would report to the hub:
certificates found there that are not this agent's own, soonest expiry first,
then what it passed over and why. It reads no private key.`,
		Example: `  certfleet-agent inventory
  certfleet-agent inventory --config /etc/certfleet/agent.toml --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			if len(cfg.Inventory.Paths) == 0 {
				return fmt.Errorf("%s has no [inventory] paths", *c.cfgPath)
			}
			res := inventory.Scan(cmd.Context(), agent.InventoryOptions(cfg))
			if asJSON {
				if res.Certs == nil {
					res.Certs = []shared.UnmanagedCert{}
				}
				return cliusage.PrintJSON(c.Stdout, res)
			}
			tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PATH\tSUBJECT\tNAMES\tISSUER\tNOT AFTER\tSHA-256")
			for _, u := range res.Certs {
				path := u.Path
				if u.Duplicates > 0 {
					path += fmt.Sprintf(" (+%d copies)", u.Duplicates)
				}
				fmt.Fprintf(tw, "%q\t%q\t%q\t%q\t%s\t%s\n", path, u.Subject, strings.Join(u.SANs, ","), u.Issuer, stamp(u.NotAfter), u.SHA256[:16])
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(c.Stdout, "\n%d unmanaged certificate(s)", len(res.Certs)+res.Omitted)
			if res.Omitted > 0 {
				fmt.Fprintf(c.Stdout, " (%d not listed: the hub is sent the %d expiring first)", res.Omitted, len(res.Certs))
			}
			fmt.Fprintf(c.Stdout, "; %d file(s) read", res.Read)
			for _, k := range slices.Sorted(maps.Keys(res.Skipped)) {
				fmt.Fprintf(c.Stdout, ", %d %s", res.Skipped[k], k)
			}
			fmt.Fprintln(c.Stdout)
			if res.Truncated {
				fmt.Fprintf(c.Stdout, "the walk stopped after %d directory entries: narrow the patterns\n", inventory.DefaultMaxEntries)
			}
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}
