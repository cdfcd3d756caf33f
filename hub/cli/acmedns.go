package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
)

func acmednsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "acmedns",
		Short: "Manage registrations of the acme-dns compatible API",
		Long: `The hub can serve the acme-dns HTTP API ([acmedns] in the config), so clients
written for acme-dns keep working. These commands manage its registrations
through the running hub; import reads an existing acme-dns database.`,
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
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the acme-dns /register JSON")
	return cmd
}

func acmednsListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List registrations (never their keys)",
		Args:  cobra.NoArgs,
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Username, r.Fulldomain, af, nm, r.Source, fmtTime(r.LastUpdate))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func acmednsRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove USERNAME|SUBDOMAIN",
		Short: "Delete a registration; its TXT records stop being served",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep struct {
				Username string `json:"username"`
			}
			if err := g.call(cmd.Context(), admin.VerbACMEDNSRemove, admin.ACMEDNSRemoveRequest{Name: args[0]}, &rep); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s removed\n", rep.Username)
			return nil
		},
	}
}

func acmednsCheckCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [USERNAME|SUBDOMAIN...]",
		Short: "Check through the configured resolvers that each registration's --name CNAMEs point at it",
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.DomainCheckReply
			if err := g.call(cmd.Context(), admin.VerbACMEDNSCheck, admin.ACMEDNSCheckRequest{Registrations: args}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			bad := 0
			for _, f := range rep.Findings {
				if f.OK {
					fmt.Fprintf(g.out, "ok    %s: %s\n", f.Name, f.Record)
					continue
				}
				bad++
				fmt.Fprintf(g.out, "FAIL  %s: %s\n", f.Name, f.Fix)
				if f.Found != "" {
					fmt.Fprintf(g.out, "      found: %s\n", f.Found)
				}
			}
			if len(rep.Findings) == 0 {
				fmt.Fprintln(g.errOut, "no registration has names to check (acmedns register --name)")
			}
			if bad > 0 {
				return fmt.Errorf("%d CNAME(s) not in place", bad)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
