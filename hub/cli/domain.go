package cli

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
)

func domainCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Manage the names and zones whose challenges the hub answers"}
	cmd.AddCommand(domainAddCmd(g), domainRemoveCmd(g), domainListCmd(g), domainCheckCmd(g))
	return cmd
}

func domainAddCmd(g *globals) *cobra.Command {
	var zone bool
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a name (CNAME delegation) or, with --zone, a zone delegated by NS",
		Long: `Without --zone: registers NAME and prints the CNAME record to create in NAME's
zone, which hands NAME's (and *.NAME's) DNS-01 challenges to the hub.
With --zone: registers a whole zone delegated to the hub by NS; every name
under it is then served with no further DNS change.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.DomainAddReply
			if err := g.call(cmd.Context(), admin.VerbDomainAdd, admin.DomainAddRequest{Name: args[0], Zone: zone}, &rep); err != nil {
				return err
			}
			if rep.Domain.Mode == hub.ModeZone {
				fmt.Fprintf(g.errOut, "zone %s registered. Create this delegation in its parent zone:\n", rep.Domain.Name)
			} else {
				fmt.Fprintf(g.errOut, "%s registered. Create this record in its zone:\n", rep.Domain.Name)
			}
			fmt.Fprintln(g.out, rep.Record)
			return nil
		},
	}
	cmd.Flags().BoolVar(&zone, "zone", false, "NAME is a zone delegated to the hub by NS")
	return cmd
}

func domainRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Stop answering challenges for a name or zone",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.call(cmd.Context(), admin.VerbDomainRemove, admin.NameRequest{Name: args[0]}, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s removed\n", args[0])
			return nil
		},
	}
}

func domainListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List names and zones with the record each needs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep admin.DomainList
			if err := g.call(cmd.Context(), admin.VerbDomainList, struct{}{}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tMODE\tRECORD TO CREATE")
			for _, d := range rep.Domains {
				rec := hub.ChallengeName(d.Name) + " CNAME " + d.CNAMETarget(rep.Zone)
				if d.Mode == hub.ModeZone {
					rec = d.Name + ". NS <hub nsname>"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", safe(d.Name), safe(d.Mode), safe(rec))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			printDamaged(g, rep.Damaged, 0)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func domainCheckCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [NAME...]",
		Short: "Check through the configured resolvers that each delegation is in place",
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.DomainCheckReply
			if err := g.call(cmd.Context(), admin.VerbDomainCheck, admin.DomainCheckRequest{Names: args}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			bad := 0
			for _, f := range rep.Findings {
				if f.OK {
					fmt.Fprintf(g.out, "ok    %s: %s\n", safe(f.Name), safe(f.Record))
					continue
				}
				bad++
				fmt.Fprintf(g.out, "FAIL  %s: %s\n", safe(f.Name), safe(f.Fix))
				if f.Found != "" {
					// What public DNS answered: anyone's data.
					fmt.Fprintf(g.out, "      found: %s\n", safe(f.Found))
				}
			}
			if bad > 0 {
				return errors.New(fmt.Sprint(bad, " delegation(s) not in place"))
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
