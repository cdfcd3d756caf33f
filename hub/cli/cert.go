package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
)

func certCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "cert", Short: "Look at one certificate of an agent",
		Example: "  certfleet-hub cert show web1/web --chain"}
	cmd.AddCommand(certShowCmd(g))
	return cmd
}

func certShowCmd(g *globals) *cobra.Command {
	var asJSON, chain bool
	cmd := &cobra.Command{
		Use:   "show AGENT/CERT",
		Short: "Show one certificate: what the agent reports, what the hub issued, the latest request",
		Long: `show prints what the hub knows of one certificate block of an agent (CERT is
the block's name in the agent's config, as status shows it): the agent's
report of what it installed, the hub's record of the latest certificate it
issued, and the latest request. --chain adds the issued PEM chain, leaf
first (status and the listings never carry chains).`,
		Example: `  certfleet-hub cert show web1/web
  certfleet-hub cert show web1/web --chain --json | jq -r .chain`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			agent, name, ok := strings.Cut(args[0], "/")
			if !ok || agent == "" || name == "" {
				return fmt.Errorf("%q: want AGENT/CERT, e.g. web1/web", args[0])
			}
			var rep admin.CertReply
			if err := g.call(cmd.Context(), admin.VerbCertShow, admin.CertRequest{Agent: agent, Name: name, Chain: chain}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			return printCert(g, rep)
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.Flags().BoolVar(&chain, "chain", false, "include the PEM chain of the issued certificate")
	cmd.ValidArgsFunction = g.completeAgentSlashCert
	return cmd
}

func printCert(g *globals, r admin.CertReply) error {
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	row := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	row("agent", safe(r.Agent))
	row("cert", safe(r.Name))
	if c := r.Reported; c != nil {
		row("installed", fmt.Sprintf("serial %s, names %s", safe(c.Serial), safeList(c.Names, ",")))
		row("  not after", expiry(r.Now, c.NotAfter))
		row("  renew at", fmtTime(c.RenewAt))
		result := c.LastResult
		if c.LastError != "" {
			result += ": " + c.LastError
		}
		row("  last result", safe(result))
	} else {
		row("installed", "- (not reported by the agent)")
	}
	if c := r.Cert; c != nil {
		row("issued", fmt.Sprintf("serial %s, names %s, by %s", safe(c.Serial), safeList(c.Names, ","), safe(c.CA)))
		row("  issued at", fmtTime(c.Issued))
		row("  not before", fmtTime(c.NotBefore))
		row("  not after", expiry(r.Now, c.NotAfter))
		row("  renew at", fmtTime(c.RenewAt))
		if c.Profile != "" {
			row("  profile", safe(c.Profile))
		}
	} else {
		row("issued", "- (the hub issued none yet)")
	}
	if q := r.Request; q != nil {
		state := fmt.Sprintf("%s %s, attempt %d, updated %s", safe(q.RequestID), safe(q.State), q.Attempts, fmtTime(q.Updated))
		if !q.NextTry.IsZero() {
			state += ", next " + fmtTime(q.NextTry)
		}
		if q.LastError != "" {
			state += ": " + safe(q.LastError)
		}
		row("request", state)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.Cert != nil && r.Cert.Chain != "" {
		fmt.Fprintln(g.out)
		fmt.Fprint(g.out, safeLines(strings.TrimRight(r.Cert.Chain, "\n"))+"\n")
	}
	return nil
}
