package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
)

func tsigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "tsig",
		Short:   "Manage TSIG keys for RFC 2136 updates of challenge records",
		Example: "  certfleet-hub tsig add certbot-web --allow www.dyn.example.org > certbot-web.key\n  certfleet-hub tsig list",
	}
	cmd.AddCommand(tsigAddCmd(g), tsigListCmd(g), tsigRemoveCmd(g))
	return cmd
}

func tsigAddCmd(g *globals) *cobra.Command {
	var allow []string
	var alg string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add NAME --allow NAME...",
		Short: "Create a TSIG key and print it once, as a BIND key file",
		Long: `Creates a TSIG key that may add and remove TXT records at _acme-challenge.<name>
(and below <name>) for each --allow name, by RFC 2136 UPDATE to the hub's DNS.
The names must be in a zone the hub serves (a zone delegated with
` + "`domain add --zone`" + `). Prints the key in BIND's key-file syntax (nsupdate -k
FILE); the secret is shown only now. --json prints the key as
{"name", "algorithm", "secret", "allow", "created"} instead.`,
		Example: `  certfleet-hub tsig add certbot-web --allow www.dyn.example.org > certbot-web.key
  certfleet-hub tsig add lego-api --allow api.dyn.example.org --algorithm hmac-sha512 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.TSIGAddReply
			if err := g.call(cmd.Context(), admin.VerbTSIGAdd, admin.TSIGAddRequest{Name: args[0], Allow: allow, Algorithm: alg}, &rep); err != nil {
				return err
			}
			k := rep.Key
			if asJSON {
				return printJSON(g, k)
			}
			fmt.Fprintf(g.out, "key \"%s\" {\n\talgorithm %s;\n\tsecret \"%s\";\n};\n", k.Name, k.Algorithm, k.Secret)
			fmt.Fprintf(g.errOut, "TSIG key %s may update _acme-challenge TXT records under: %s. The secret is shown only now.\n", k.Name, strings.Join(k.Allow, ", "))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&allow, "allow", nil, "name whose _acme-challenge records the key may change (repeatable)")
	cmd.Flags().StringVar(&alg, "algorithm", "hmac-sha256", "hmac-sha256 or hmac-sha512")
	_ = cmd.RegisterFlagCompletionFunc("algorithm", cobra.FixedCompletions([]string{"hmac-sha256", "hmac-sha512"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagRequired("allow")
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func tsigListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List TSIG keys (never their secrets)",
		Example: "  certfleet-hub tsig list\n  certfleet-hub tsig list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep admin.TSIGList
			if err := g.call(cmd.Context(), admin.VerbTSIGList, struct{}{}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tALGORITHM\tALLOW")
			for _, k := range rep.Keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", safe(k.Name), safe(k.Algorithm), safeList(k.Allow, ","))
			}
			return tw.Flush()
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func tsigRemoveCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "remove NAME",
		Short:   "Delete a TSIG key; updates signed with it are refused from now on",
		Example: "  certfleet-hub tsig remove certbot-web",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.call(cmd.Context(), admin.VerbTSIGRemove, admin.NameRequest{Name: args[0]}, nil); err != nil {
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
	cmd.ValidArgsFunction = g.completeTSIG
	return cmd
}
