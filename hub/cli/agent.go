package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/shared"
)

func agentCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Register, list and remove agents",
		Example: `  certfleet-hub agent add web1 --allow www.example.org
  certfleet-hub agent list
  certfleet-hub agent remove web1`,
	}
	cmd.AddCommand(agentAddCmd(g), agentRemoveCmd(g), agentRevokeKeyCmd(g), agentListCmd(g))
	return cmd
}

// AgentAdded is what `agent add --json` prints.
type AgentAdded struct {
	Agent hub.Agent `json:"agent"`
	// Credentials is "issued" (new credentials, in EnrollmentFile or
	// Token) or "unchanged" (only the allow list changed).
	Credentials    string   `json:"credentials"`
	EnrollmentFile string   `json:"enrollment_file,omitempty"`
	Token          string   `json:"token,omitempty"`
	Warnings       []string `json:"warnings"`
}

func agentAddCmd(g *globals) *cobra.Command {
	var allow []string
	var out string
	var token, reissue, asJSON bool
	cmd := &cobra.Command{
		Use:   "add NAME --allow PATTERN...",
		Short: "Register an agent and write its enrollment file",
		Long: `Registers an agent and the names it may get certificates for, and writes the
enrollment bundle the agent needs to connect (NATS URLs, its credentials,
the hub's CA). The bundle holds the agent's secret: the hub keeps no copy.
Move it to the agent host and run: certfleet-agent enroll FILE

Allow patterns:
  www.example.org        exactly that name
  *.corp.example.org     any single label under corp.example.org
  **.corp.example.org    any name at any depth under corp.example.org
  =*.corp.example.org    the wildcard certificate name itself

Running add again for an existing agent replaces its allow list; with
--reissue it also issues new credentials and revokes the old ones.
With --json the result is one JSON object; with --token --json the token
is in it ("token") and no file is written.`,
		Example: `  certfleet-hub agent add web1 --allow www.example.org --allow '*.corp.example.org'
  certfleet-hub agent add web1 --allow www.example.org --reissue --out /root/web1.enroll.json
  certfleet-hub agent add web1 --allow www.example.org --token --json | jq -r .token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.AgentAddReply
			if err := g.call(cmd.Context(), admin.VerbAgentAdd, admin.AgentAddRequest{Name: args[0], Allow: allow, Reissue: reissue}, &rep); err != nil {
				return err
			}
			res := AgentAdded{Agent: rep.Agent, Credentials: "unchanged", Warnings: rep.Warnings}
			if !asJSON {
				fmt.Fprintf(g.errOut, "agent %s may request: %s\n", rep.Agent.ID, strings.Join(rep.Agent.Allow, ", "))
				for _, w := range rep.Warnings {
					fmt.Fprintln(g.errOut, "warning:", w)
				}
			}
			switch {
			case rep.Enrollment == nil:
				if !asJSON {
					fmt.Fprintln(g.errOut, "allow list updated; credentials unchanged (use --reissue for new ones)")
				}
			case token:
				tok, err := rep.Enrollment.Token()
				if err != nil {
					return fmt.Errorf("encode enrollment token: %w", err)
				}
				res.Credentials, res.Token = "issued", tok
				if !asJSON {
					fmt.Fprintln(g.out, tok)
				}
			default:
				if out == "" {
					out = args[0] + ".enroll.json"
				}
				if err := writeEnrollment(out, rep.Enrollment); err != nil {
					return err
				}
				res.Credentials, res.EnrollmentFile = "issued", out
				if !asJSON {
					fmt.Fprintf(g.errOut, "enrollment written to %s (0600; it holds the agent's secret)\non the agent host: certfleet-agent enroll %s\n", out, filepath.Base(out))
				}
			}
			if asJSON {
				return printJSON(g, res)
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&allow, "allow", nil, "names the agent may request (repeat or comma-separate)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "enrollment file to write (default NAME.enroll.json)")
	cmd.Flags().BoolVar(&token, "token", false, "print a one-line enrollment token instead of writing a file")
	cmd.Flags().BoolVar(&reissue, "reissue", false, "issue new credentials for an existing agent and revoke the old ones")
	cliusage.JSONFlag(cmd, &asJSON)
	_ = cmd.MarkFlagRequired("allow")
	cmd.ValidArgsFunction = g.completeAgents
	return cmd
}

// writeEnrollment writes the enrollment bundle 0600: it holds the agent's
// NATS seed.
func writeEnrollment(path string, e *shared.Enrollment) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return fmt.Errorf("encode enrollment: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create enrollment dir: %w", err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("write enrollment file: %w", err)
	}
	return nil
}

// AgentRemoved is what `agent remove --json` prints.
type AgentRemoved struct {
	Agent   string `json:"agent"`
	Removed bool   `json:"removed"`
	// Revoked is true when every key was revoked live; Warnings say why
	// not (an external NATS, --force on an agent with no key).
	Revoked  bool     `json:"revoked"`
	Warnings []string `json:"warnings"`
}

func agentRemoveCmd(g *globals) *cobra.Command {
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "remove NAME",
		Short: "Remove an agent: every key the hub issued to it is revoked and its connection cut",
		Long: `remove revokes every NATS user key the hub ever issued to the agent (not only
the one its record names), cuts its connections, and then removes the agent
and its status and certificate rows; the audit log keeps the history. If a
key cannot be revoked, nothing is removed and the command fails: retry it.
An agent with no key on record (a record damaged by an older certfleet) is
kept unless --force is given; revoke its key first with "agent revoke-key".`,
		Example: `  certfleet-hub agent remove web1
  certfleet-hub agent remove web1 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.AgentList
			if err := g.call(cmd.Context(), admin.VerbAgentRemove, admin.AgentRemoveRequest{Name: args[0], Force: force}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, AgentRemoved{Agent: args[0], Removed: true, Revoked: len(rep.Warnings) == 0, Warnings: rep.Warnings})
			}
			if len(rep.Warnings) > 0 {
				fmt.Fprintf(g.out, "agent %s removed\n", args[0])
				for _, w := range rep.Warnings {
					fmt.Fprintln(g.errOut, "warning:", w)
				}
				return nil
			}
			fmt.Fprintf(g.out, "agent %s removed; its credentials are revoked\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "remove an agent that has no credential key on record (nothing is revoked)")
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.ValidArgsFunction = g.completeAgents
	return cmd
}

// KeyRevoked is what `agent revoke-key --json` prints.
type KeyRevoked struct {
	Key string `json:"key"`
	// Agent is the agent the key was issued to; empty when the hub has no
	// record of it.
	Agent    string   `json:"agent"`
	Warnings []string `json:"warnings"`
}

func agentRevokeKeyCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "revoke-key NKEY",
		Short: "Revoke one NATS user key, whether or not the hub has a record of it",
		Long: `revoke-key revokes a NATS user public key (U...): the "sub" claim of the JWT in
an agent's creds file, or a key from "agent list --json". Its connections are
cut at once on the embedded NATS; the revocation survives restarts.`,
		Example: `  certfleet-hub agent revoke-key UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4
  certfleet-hub agent list --json | jq -r '.agents[] | select(.id == "web1") | .nkey'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var rep admin.RevokeKeyReply
			if err := g.call(cmd.Context(), admin.VerbAgentRevoke, admin.RevokeKeyRequest{Key: args[0]}, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, KeyRevoked{Key: rep.Key, Agent: rep.Agent, Warnings: rep.Warnings})
			}
			who := "no agent on record"
			if rep.Agent != "" {
				who = "agent " + rep.Agent
			}
			fmt.Fprintf(g.out, "key %s (%s) revoked\n", rep.Key, who)
			for _, w := range rep.Warnings {
				fmt.Fprintln(g.errOut, "warning:", w)
			}
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func agentListCmd(g *globals) *cobra.Command {
	var asJSON bool
	var req admin.AgentListRequest
	var pages pageFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List registered agents",
		Long: `list shows the registered agents (those matching --agent, a glob), by id, one
page at a time (` + fmt.Sprint(admin.DefaultAgentListLimit) + ` unless --limit says otherwise); --all follows the pages to
the end (with --json: one JSON object per page and line).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Limit = pages.limit
			return g.withAdmin(func(c adminCaller) error {
				header := true
				return pages.follow(g, "agents", func(after string) (string, error) {
					req.After = after
					var page admin.AgentList
					if err := c.Call(cmd.Context(), admin.VerbAgentList, req, &page); err != nil {
						return "", err
					}
					switch {
					case asJSON && pages.all:
						return page.Next, printJSONLine(g, page)
					case asJSON:
						return page.Next, printJSON(g, page)
					}
					err := printAgents(g, page, header)
					header = false
					return page.Next, err
				})
			})
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.Flags().StringVar(&req.Agent, "agent", "", "only agents whose id matches this glob")
	pages.register(cmd, "agents", "start after this agent id (the cursor a previous page printed)")
	return cmd
}

// printJSON prints v as the command's one JSON value (cliusage.PrintJSON).
func printJSON(g *globals, v any) error {
	return cliusage.PrintJSON(g.out, v)
}

// printDamaged reports stored entries the hub could not read, one line
// each, so one bad entry shows up instead of hiding the listing; total,
// when set, counts those the hub did not list.
func printDamaged(g *globals, bad []hub.Damaged, total int) {
	for _, d := range bad {
		fmt.Fprintf(g.out, "damaged entry %s: %s\n", safe(d.Store+"/"+d.Key), safe(d.Error))
	}
	if total > len(bad) {
		fmt.Fprintf(g.out, "... and %d more damaged entries\n", total-len(bad))
	}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func printAgents(g *globals, rep admin.AgentList, header bool) error {
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "AGENT\tALLOW\tCREDENTIALS EXPIRE\tCREATED")
	}
	for _, a := range rep.Agents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", safe(a.ID), safeList(a.Allow, ","), fmtTime(a.CredsExpire), fmtTime(a.Created))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	printDamaged(g, rep.Damaged, rep.DamagedTotal)
	return nil
}
