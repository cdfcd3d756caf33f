package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/agent/state"
)

// BlockStatus is one row of `status`.
type BlockStatus struct {
	Name        string    `json:"name"`
	Names       []string  `json:"names"`
	Serial      string    `json:"serial,omitempty"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	RenewAt     time.Time `json:"renew_at,omitzero"`
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	LastResult  string    `json:"last_result,omitempty"`
	LastError   string    `json:"last_error,omitempty"`
	Pending     string    `json:"pending_request,omitempty"`
	RetryAt     time.Time `json:"retry_at,omitzero"`
	Blocked     bool      `json:"blocked,omitempty"`
}

// Statuses joins the configured blocks with their state.
func Statuses(cfg config.Config, st *state.State) []BlockStatus {
	out := make([]BlockStatus, 0, len(cfg.Certificates))
	for _, b := range cfg.Certificates {
		bs := BlockStatus{Name: b.Name, Names: b.Names}
		if c := st.Certificates[b.Name]; c != nil {
			bs.Serial, bs.NotAfter = c.Serial, c.NotAfter
			bs.RenewAt = renewAt(b, c)
			bs.LastAttempt, bs.LastResult, bs.LastError = c.LastAttempt, c.LastResult, c.LastError
			bs.RetryAt, bs.Blocked = c.RetryAt, c.Blocked
			if c.Pending != nil {
				bs.Pending = c.Pending.RequestID
			}
		}
		out = append(out, bs)
	}
	return out
}

// renewAt mirrors the agent's rule for display.
func renewAt(b config.Certificate, c *state.Cert) time.Time {
	switch {
	case c.NotAfter.IsZero():
		return time.Time{}
	case b.RenewBefore.Duration > 0 && b.RenewBefore.Duration < c.NotAfter.Sub(c.NotBefore):
		return c.NotAfter.Add(-b.RenewBefore.Duration)
	case !c.RenewAt.IsZero() && c.RenewAt.Before(c.NotAfter):
		return c.RenewAt
	}
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) * 2 / 3)
}

func (c *cmdEnv) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each certificate block: names, serial, expiry, renewal time, last result",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			st, err := state.Load(cfg.StatePath())
			if err != nil {
				return err
			}
			rows := Statuses(cfg, st)
			if asJSON {
				enc := json.NewEncoder(c.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			return writeTable(c, rows)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func writeTable(c *cmdEnv, rows []BlockStatus) error {
	tw := tabwriter.NewWriter(c.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BLOCK\tNAMES\tSERIAL\tNOT AFTER\tRENEW AT\tLAST RESULT")
	for _, r := range rows {
		last := r.LastResult
		switch {
		case last == "":
			last = "-"
		case r.Pending != "":
			last += " (request " + r.Pending + ")"
		case r.LastError != "":
			last += ": " + oneLine(r.LastError, 80)
		}
		if r.Blocked {
			last += " [not retrying until config changes or renew]"
		} else if !r.RetryAt.IsZero() && r.LastResult == state.ResultFailed {
			last += " [retry " + stamp(r.RetryAt) + "]"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, strings.Join(r.Names, ","),
			orDash(r.Serial), stamp(r.NotAfter), stamp(r.RenewAt), last)
	}
	return tw.Flush()
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
