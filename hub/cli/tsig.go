package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
)

func tsigCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "tsig", Short: "Manage TSIG keys for RFC 2136 updates of challenge records"}
	cmd.AddCommand(tsigAddCmd(g), tsigListCmd(g), tsigRemoveCmd(g))
	return cmd
}

func tsigAddCmd(g *globals) *cobra.Command {
	var allow []string
	var alg string
	cmd := &cobra.Command{
		Use:   "add NAME --allow NAME...",
		Short: "Create a TSIG key and print it once, as a BIND key file",
		Long: `Creates a TSIG key that may add and remove TXT records at _acme-challenge.<name>
(and below <name>) for each --allow name, by RFC 2136 UPDATE to the hub's DNS.
The names must be in a zone the hub serves (a zone delegated with
` + "`domain add --zone`" + `). Prints the key in BIND's key-file syntax (nsupdate -k
FILE); the secret is shown only now.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.TSIGAddReply
			if err := g.call(cmd.Context(), admin.VerbTSIGAdd, admin.TSIGAddRequest{Name: args[0], Allow: allow, Algorithm: alg}, &rep); err != nil {
				return err
			}
			k := rep.Key
			fmt.Fprintf(g.out, "key \"%s\" {\n\talgorithm %s;\n\tsecret \"%s\";\n};\n", k.Name, k.Algorithm, k.Secret)
			fmt.Fprintf(g.errOut, "TSIG key %s may update _acme-challenge TXT records under: %s. The secret is shown only now.\n", k.Name, strings.Join(k.Allow, ", "))
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&allow, "allow", nil, "name whose _acme-challenge records the key may change (repeatable)")
	cmd.Flags().StringVar(&alg, "algorithm", "hmac-sha256", "hmac-sha256 or hmac-sha512")
	return cmd
}

func tsigListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List TSIG keys (never their secrets)",
		Args:  cobra.NoArgs,
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
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.Name, k.Algorithm, strings.Join(k.Allow, ","))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func tsigRemoveCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "remove NAME",
		Short: "Delete a TSIG key; updates signed with it are refused from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.call(cmd.Context(), admin.VerbTSIGRemove, admin.NameRequest{Name: args[0]}, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "%s removed\n", args[0])
			return nil
		},
	}
}
