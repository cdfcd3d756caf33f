package cli

import (
	"bufio"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
)

func userCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "user",
		Short:   "Manage the web dashboard's users",
		Example: "  certfleet-hub user add alice --role admin < alice.password\n  certfleet-hub user list",
	}
	cmd.AddCommand(userAddCmd(g), userRemoveCmd(g), userListCmd(g))
	return cmd
}

func userAddCmd(g *globals) *cobra.Command {
	var role, email string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "add NAME --role admin|readonly [--email ADDRESS]",
		Short: "Create a dashboard user, or set an existing one's role and password",
		Long: `Creates a web dashboard user. The password is read from the first line of
standard input (12 to 72 characters), so it never appears in the process list
or shell history; the hub stores only its bcrypt hash.
Roles: admin (sees everything, renews, enrolls, removes agents, adds domains)
and readonly (sees everything, acts on nothing).
With [web] client_ca, a client certificate logs in as the user named by its
subject CN, or as the user whose --email is one of its SAN e-mail addresses.`,
		Example: `  certfleet-hub user add alice --role admin < alice.password
  printf '%s\n' "$PASSWORD" | certfleet-hub user add grafana --role readonly --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return cliusage.Usagef(cmd, "--role is required: admin or readonly")
			}
			line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read the password from standard input: %w", err)
			}
			pass := strings.TrimRight(line, "\r\n")
			var rep admin.UserInfo
			if err := g.call(cmd.Context(), admin.VerbUserAdd, admin.UserAddRequest{Name: args[0], Role: role, Password: pass, Email: email}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			fmt.Fprintf(g.out, "user %s saved (role %s)\n", rep.Name, rep.Role)
			return nil
		},
	}
	cmd.Flags().StringVar(&role, "role", "", "admin or readonly")
	cmd.Flags().StringVar(&email, "email", "", "e-mail address a client certificate may carry to log in as this user")
	_ = cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"admin", "readonly"}, cobra.ShellCompDirectiveNoFileComp))
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeUsers
	return cmd
}

func userRemoveCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "remove NAME",
		Short:   "Remove a dashboard user (its open sessions end at their next request)",
		Example: "  certfleet-hub user remove alice",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.call(cmd.Context(), admin.VerbUserRemove, admin.NameRequest{Name: args[0]}, nil); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, Removed{Name: args[0], Removed: true})
			}
			fmt.Fprintf(g.out, "user %s removed\n", args[0])
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeUsers
	return cmd
}

func userListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Short:   "List dashboard users and their roles",
		Example: "  certfleet-hub user list --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.UserList
			if err := g.call(cmd.Context(), admin.VerbUserList, nil, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tEMAIL")
			for _, u := range rep.Users {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", safe(u.Name), safe(u.Role), dash(safe(u.Email)))
			}
			return tw.Flush()
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
