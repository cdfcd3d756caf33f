package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/hub/delegation"
	"github.com/certfleet/certfleet/internal/cliusage"
)

func domainCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "domain",
		Short: "Manage the names and zones whose challenges the hub answers",
		Example: `  certfleet-hub domain add www.example.org
  certfleet-hub domain add --zone corp.example.org
  certfleet-hub domain check`,
	}
	cmd.AddCommand(domainAddCmd(g), domainRemoveCmd(g), domainListCmd(g), domainCheckCmd(g))
	return cmd
}

// Removed is what the remove commands print with --json.
type Removed struct {
	Name    string `json:"name"`
	Removed bool   `json:"removed"`
}

func domainAddCmd(g *globals) *cobra.Command {
	var zone, asJSON bool
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Register a name (CNAME delegation) or, with --zone, a zone delegated by NS",
		Long: `Without --zone: registers NAME and prints the CNAME record to create in NAME's
zone, which hands NAME's (and *.NAME's) DNS-01 challenges to the hub.
With --zone: registers a whole zone delegated to the hub by NS; every name
under it is then served with no further DNS change.
With --json: {"domain": {...}, "record": "..."}, the record to create.`,
		Example: `  certfleet-hub domain add www.example.org
  certfleet-hub domain add --zone corp.example.org
  certfleet-hub domain add www.example.org --json | jq -r .record`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.DomainAddReply
			if err := g.call(cmd.Context(), admin.VerbDomainAdd, admin.DomainAddRequest{Name: args[0], Zone: zone}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
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
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func domainRemoveCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "remove NAME",
		Short:   "Stop answering challenges for a name or zone",
		Example: "  certfleet-hub domain remove www.example.org",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.call(cmd.Context(), admin.VerbDomainRemove, admin.NameRequest{Name: args[0]}, nil); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, Removed{Name: args[0], Removed: true})
			}
			fmt.Fprintf(g.out, "%s removed\n", args[0])
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeDomains(false)
	return cmd
}

func domainListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List names and zones with the record each needs",
		Example: "  certfleet-hub domain list\n  certfleet-hub domain list --json",
		Args:    cobra.NoArgs,
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
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func domainCheckCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check [NAME...]",
		Short: "Check through the configured resolvers that each delegation is in place",
		Long: `check asks the resolvers in issuance.resolvers, for every registered name and
zone (or only those given), whether its delegation record is in place, and
says what to create or fix. It exits 1 if any is not in place.`,
		Example: "  certfleet-hub domain check\n  certfleet-hub domain check www.example.org --json",
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.DomainCheckReply
			if err := g.call(cmd.Context(), admin.VerbDomainCheck, admin.DomainCheckRequest{Names: args}, &rep); err != nil {
				return err
			}
			if err := printFindings(g, rep.Findings, asJSON); err != nil {
				return err
			}
			// The exit code says the same with and without --json.
			if bad := notInPlace(rep.Findings); bad > 0 {
				return fmt.Errorf("%d delegation(s) not in place", bad)
			}
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeDomains(true)
	return cmd
}

// printFindings prints delegation check results, as JSON or one line
// each; what public DNS answered is anyone's data, so it is escaped.
func printFindings(g *globals, findings []delegation.Finding, asJSON bool) error {
	if asJSON {
		return printJSON(g, admin.DomainCheckReply{Findings: findings})
	}
	for _, f := range findings {
		if f.OK {
			fmt.Fprintf(g.out, "ok    %s: %s\n", safe(f.Name), safe(f.Record))
			continue
		}
		fmt.Fprintf(g.out, "FAIL  %s: %s\n", safe(f.Name), safe(f.Fix))
		if f.Found != "" {
			fmt.Fprintf(g.out, "      found: %s\n", safe(f.Found))
		}
	}
	return nil
}

func notInPlace(findings []delegation.Finding) int {
	bad := 0
	for _, f := range findings {
		if !f.OK {
			bad++
		}
	}
	return bad
}
