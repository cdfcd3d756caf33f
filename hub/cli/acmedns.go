package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
)

func acmednsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acmedns",
		Short: "Manage registrations of the acme-dns compatible API",
		Long: `The hub can serve the acme-dns HTTP API ([acmedns] in the config), so clients
written for acme-dns keep working. These commands manage its registrations
through the running hub; import reads an existing acme-dns database.`,
		Example: `  certfleet-hub acmedns register --allow-from 192.0.2.0/24 --name www.example.org
  certfleet-hub acmedns list`,
	}
	cmd.AddCommand(acmednsRegisterCmd(g), acmednsListCmd(g), acmednsRemoveCmd(g), acmednsImportCmd(g), acmednsCheckCmd(g))
	return cmd
}

func acmednsRegisterCmd(g *globals) *cobra.Command {
	var allow, names []string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Create a registration (works with disable_registration) and print its credentials once",
		Long: `Creates a registration as POST /register would and prints its username, key
(shown only now) and the name to point _acme-challenge CNAMEs at.
--json prints exactly what acme-dns's /register returns, which acme-dns
clients accept as their stored account.`,
		Example: `  certfleet-hub acmedns register --allow-from 192.0.2.0/24 --name www.example.org
  certfleet-hub acmedns register --name app.example.org --json > /etc/acme-dns-client/app.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var acct admin.ACMEDNSAccount
			if err := g.call(cmd.Context(), admin.VerbACMEDNSRegister, admin.ACMEDNSRegisterRequest{AllowFrom: allow, Names: names}, &acct); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, acct)
			}
			fmt.Fprintf(g.out, "username:   %s\npassword:   %s\nfulldomain: %s\nsubdomain:  %s\nallowfrom:  %s\n",
				acct.Username, acct.Password, acct.Fulldomain, acct.Subdomain, strings.Join(acct.Allowfrom, ", "))
			fmt.Fprintf(g.errOut, "The password is shown only now. Point each name's challenge here:\n  _acme-challenge.<name>. CNAME %s.\n", acct.Fulldomain)
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&allow, "allow-from", nil, "CIDR the client may call /update from (repeatable; none = anywhere)")
	cmd.Flags().StringSliceVar(&names, "name", nil, "name whose _acme-challenge will CNAME here (repeatable; acmedns check verifies its CNAME)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the acme-dns /register JSON (README, JSON output)")
	return cmd
}

func acmednsListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List registrations (never their keys)",
		Example: "  certfleet-hub acmedns list\n  certfleet-hub acmedns list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep admin.ACMEDNSList
			if err := g.call(cmd.Context(), admin.VerbACMEDNSList, struct{}{}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USERNAME\tFULLDOMAIN\tALLOWFROM\tNAMES\tSOURCE\tLAST UPDATE")
			for _, r := range rep.Registrations {
				af := strings.Join(r.AllowFrom, ",")
				if af == "" {
					af = "any"
				}
				nm := strings.Join(r.Names, ",")
				if nm == "" {
					nm = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", safe(r.Username), safe(r.Fulldomain), safe(af), safe(nm), safe(r.Source), fmtTime(r.LastUpdate))
			}
			return tw.Flush()
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

// ACMEDNSRemoved is what `acmedns remove --json` prints.
type ACMEDNSRemoved struct {
	Username string `json:"username"`
	Removed  bool   `json:"removed"`
}

func acmednsRemoveCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "remove USERNAME|SUBDOMAIN",
		Short:   "Delete a registration; its TXT records stop being served",
		Example: "  certfleet-hub acmedns remove 6f8a9b3e-2c1d-4e5f-8a7b-9c0d1e2f3a4b",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep struct {
				Username string `json:"username"`
			}
			if err := g.call(cmd.Context(), admin.VerbACMEDNSRemove, admin.ACMEDNSRemoveRequest{Name: args[0]}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, ACMEDNSRemoved{Username: rep.Username, Removed: true})
			}
			fmt.Fprintf(g.out, "%s removed\n", rep.Username)
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeACMEDNS(false)
	return cmd
}

func acmednsCheckCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [USERNAME|SUBDOMAIN...]",
		Short: "Check through the configured resolvers that each registration's --name CNAMEs point at it",
		Long: `check asks the resolvers in issuance.resolvers whether _acme-challenge.<name>
is a CNAME to its registration, for every name given with "register --name"
(of every registration, or only those given). It exits 1 if any is not.`,
		Example: "  certfleet-hub acmedns check\n  certfleet-hub acmedns check 6f8a9b3e-2c1d-4e5f-8a7b-9c0d1e2f3a4b --json",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.DomainCheckReply
			if err := g.call(cmd.Context(), admin.VerbACMEDNSCheck, admin.ACMEDNSCheckRequest{Registrations: args}, &rep); err != nil {
				return err
			}
			if err := printFindings(g, rep.Findings, asJSON); err != nil {
				return err
			}
			if len(rep.Findings) == 0 && !asJSON {
				fmt.Fprintln(g.errOut, "no registration has names to check (acmedns register --name)")
			}
			if bad := notInPlace(rep.Findings); bad > 0 {
				return fmt.Errorf("%d CNAME(s) not in place", bad)
			}
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeACMEDNS(true)
	return cmd
}
