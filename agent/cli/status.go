package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/state"
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/shared"
)

// BlockStatus is one row of `status`: the fields the agent reports to
// the hub for the block.
type BlockStatus = shared.CertStatus

// Statuses joins the configured blocks with their state at now.
func Statuses(cfg config.Config, st *state.State, now time.Time) []BlockStatus {
	return agent.CertStatuses(cfg, st, now)
}

func (c *cmdEnv) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each certificate block: names, serial, expiry, renewal time, last result",
		Long: `status reads the agent's state and shows each certificate block, then the path
by which the agent last reached its hub. --json prints the blocks as an
array (README, JSON output).`,
		Example: `  certfleet-agent status
  certfleet-agent status --config /etc/certfleet-agent/config.toml --json | jq '.[] | {name, not_after}'`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			st, err := state.Load(cfg.StatePath())
			if err != nil {
				return err
			}
			rows := Statuses(cfg, st, time.Now())
			if asJSON {
				return cliusage.PrintJSON(c.Stdout, rows)
			}
			if err := writeTable(c, rows); err != nil {
				return err
			}
			// The path this agent last reached its hub by (proxy, relay,
			// WebSocket), as the running agent recorded it.
			if st.Hub != nil {
				fmt.Fprintf(c.Stdout, "\nhub: %s (connected %s)\n", st.Hub.Transport, stamp(st.Hub.Connected))
			} else {
				fmt.Fprintln(c.Stdout, "\nhub: never connected")
			}
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func writeTable(c *cmdEnv, rows []BlockStatus) error {
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BLOCK\tNAMES\tSERIAL\tNOT AFTER\tRENEW AT\tLAST RESULT\tNEXT ATTEMPT")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, strings.Join(r.Names, ","),
			orDash(r.Serial), stamp(r.NotAfter), stamp(r.RenewAt), lastResult(r), next(r))
	}
	return tw.Flush()
}

// lastResult says how the last attempt went, with its error's code and
// message and how many attempts failed in a row.
func lastResult(r BlockStatus) string {
	last := r.LastResult
	switch {
	case last == "":
		return "-"
	case r.Pending != "":
		last += " (request " + r.Pending + ")"
	}
	if r.LastError != "" && r.LastResult == state.ResultFailed {
		msg := oneLine(r.LastError, 80)
		if r.LastErrorCode != "" {
			msg = string(r.LastErrorCode) + ": " + msg
		}
		last += ": " + msg
	}
	if r.Attempts > 1 {
		last += fmt.Sprintf(" [%d attempts]", r.Attempts)
	}
	return last
}

// next says when the agent tries again after a failure, or that it will
// not by itself.
func next(r BlockStatus) string {
	switch {
	case r.Blocked:
		return "not until config changes or renew"
	case r.NextAttempt.IsZero():
		return "-"
	}
	return stamp(r.NextAttempt)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
