package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// RenewRequested is what `renew --json` prints.
type RenewRequested struct {
	Agent string `json:"agent"`
	// CertName is the certificate block asked for; empty for all of them.
	CertName  string `json:"cert_name"`
	Requested bool   `json:"requested"`
}

func renewCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "renew AGENT [CERT]",
		Short: "Ask an agent to renew now (all its certificates, or CERT)",
		Long: `renew sends a connected agent a renewal request, which it carries out at
once; an agent that is not connected does not get it (run renew again once
status shows it online). Follow the result in status.`,
		Example: `  certfleet-hub renew web1
  certfleet-hub renew web1 web --json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := admin.RenewRequest{Agent: args[0]}
			if len(args) > 1 {
				req.CertName = args[1]
			}
			if err := g.call(cmd.Context(), admin.VerbRenew, req, nil); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, RenewRequested{Agent: req.Agent, CertName: req.CertName, Requested: true})
			}
			fmt.Fprintf(g.out, "renewal requested from %s\n", args[0])
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeAgentThenCert
	return cmd
}
