package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub"
	"github.com/certfleet/certfleet/hub/admin"
	"github.com/certfleet/certfleet/shared"
)

func statusCmd(g *globals) *cobra.Command {
	var asJSON bool
	var agent string
	var limit int
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the fleet: agents, their certificates, expiry, last result, alerts",
		Long: `status shows every agent (or those matching --agent, a glob such as 'web*'),
their certificates, expiry, renewal time and last result, then the alerts.
The hub answers in pages of at most ` + fmt.Sprint(admin.DefaultStatusLimit) + ` agents, so no reply grows with
the fleet; status asks for every page unless --limit is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := fetchStatus(cmd, g, agent, limit)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			return printStatus(g, rep)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().StringVar(&agent, "agent", "", "only agents whose id matches this glob")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many agents (default: all)")
	return cmd
}

// fetchStatus gathers the fleet view page by page, merged into one.
func fetchStatus(cmd *cobra.Command, g *globals, agent string, limit int) (admin.StatusReply, error) {
	var all admin.StatusReply
	req := admin.StatusRequest{Agent: agent, Limit: admin.DefaultStatusLimit}
	for {
		if limit > 0 {
			req.Limit = min(admin.DefaultStatusLimit, limit-len(all.Agents))
		}
		var page admin.StatusReply
		if err := g.call(cmd.Context(), admin.VerbStatus, req, &page); err != nil {
			return all, err
		}
		all.Agents = append(all.Agents, page.Agents...)
		all.Status = append(all.Status, page.Status...)
		all.Certs = append(all.Certs, page.Certs...)
		all.Requests = append(all.Requests, page.Requests...)
		all.Alerts = append(all.Alerts, page.Alerts...)
		if req.After == "" {
			// Every page lists the store's damaged entries.
			all.Damaged = page.Damaged
			// With several hubs each page may come from another one.
			all.Hub, all.Hubs = page.Hub, page.Hubs
		}
		all.Dropped, all.Now = page.Dropped, page.Now
		if page.Next == "" || (limit > 0 && len(all.Agents) >= limit) {
			all.Next = page.Next
			return all, nil
		}
		req.After = page.Next
	}
}

// printStatus prints one row per agent certificate, joining the agent's own
// report (what is installed) with the hub's records (what was issued and
// what is in flight).
func printStatus(g *globals, r admin.StatusReply) error {
	status := map[string]hub.AgentStatus{}
	for _, s := range r.Status {
		status[s.AgentID] = s
	}
	certs := map[string]hub.CertRecord{}
	for _, c := range r.Certs {
		certs[c.AgentID+"/"+c.CertName] = c
	}
	reqs := map[string]hub.RequestState{}
	for _, q := range r.Requests {
		k := q.AgentID + "/" + q.CertName
		if old, ok := reqs[k]; !ok || old.Updated.Before(q.Updated) {
			reqs[k] = q
		}
	}
	sort.Slice(r.Agents, func(i, j int) bool { return r.Agents[i].ID < r.Agents[j].ID })
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tLAST SEEN\tCERT\tNAMES\tNOT AFTER\tRENEW AT\tLAST RESULT")
	for _, a := range r.Agents {
		s, seen := status[a.ID]
		last := "never"
		switch {
		case seen && s.Online(r.Now):
			last = "online"
		case seen:
			// Disconnected, or silent for longer than three status
			// intervals (an external NATS sends the hub no disconnect
			// events): the agent keeps its certificates and retries.
			last = "offline since " + fmtTime(s.LastSeen) + " (" + ago(r.Now, s.LastSeen) + ")"
		}
		if seen && s.Report.Transport != "" {
			last += " via " + safe(s.Report.Transport)
		}
		rows := 0
		names := map[string]bool{}
		for _, c := range s.Report.Certificates {
			names[c.Name] = true
		}
		for k := range certs {
			if strings.HasPrefix(k, a.ID+"/") {
				names[strings.TrimPrefix(k, a.ID+"/")] = true
			}
		}
		var blocks []string
		for n := range names {
			blocks = append(blocks, n)
		}
		sort.Strings(blocks)
		for _, b := range blocks {
			var cs shared.CertStatus
			for _, c := range s.Report.Certificates {
				if c.Name == b {
					cs = c
				}
			}
			rec, hasRec := certs[a.ID+"/"+b]
			notAfter, renewAt, nm := cs.NotAfter, cs.RenewAt, cs.Names
			if notAfter.IsZero() && hasRec {
				notAfter, renewAt, nm = rec.NotAfter, rec.RenewAt, rec.Names
			}
			result := cs.LastResult
			if cs.LastError != "" {
				result += ": " + cs.LastError
			}
			if q, ok := reqs[a.ID+"/"+b]; ok && q.State != "issued" {
				result = "hub: " + q.State
				if q.Hub != "" {
					// Several hubs share the fleet: say which one drives it.
					result += " on " + q.Hub
				}
				if q.Attempts > 1 || !q.NextTry.IsZero() {
					result += fmt.Sprintf(" (attempt %d", q.Attempts)
					if !q.NextTry.IsZero() {
						result += ", next " + fmtTime(q.NextTry)
					}
					result += ")"
				}
				if q.LastError != "" {
					result += ": " + q.LastError
				}
			}
			if result == "" {
				result = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safe(a.ID), last, safe(b), safeList(nm, ","), expiry(r.Now, notAfter), fmtTime(renewAt), safe(result))
			rows++
		}
		if rows == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\n", safe(a.ID), last)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Alerts) > 0 {
		fmt.Fprintf(g.out, "\n%d alert(s):\n", len(r.Alerts))
		for _, al := range r.Alerts {
			fmt.Fprintf(g.out, "  %-10s %s %s: %s\n", safe(strings.ToUpper(al.Kind)), safe(al.Agent), safe(al.CertName), safe(al.Message))
		}
	}
	if len(r.Damaged) > 0 {
		fmt.Fprintln(g.out)
		printDamaged(g, r.Damaged)
	}
	if len(r.Hubs) > 1 {
		// Several hubs share the fleet: which run, and which one renews
		// credentials and publishes alerts.
		var hubs []string
		sort.Slice(r.Hubs, func(i, j int) bool { return r.Hubs[i].ID < r.Hubs[j].ID })
		for _, hb := range r.Hubs {
			s := safe(hb.ID)
			if hb.Housekeeping {
				s += " (housekeeping)"
			}
			hubs = append(hubs, s)
		}
		fmt.Fprintf(g.out, "\nhubs: %s\n", strings.Join(hubs, ", "))
	}
	return nil
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t).Round(time.Second)
	if d < 0 {
		d = 0
	}
	return d.String() + " ago"
}

func expiry(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	days := t.Sub(now).Hours() / 24
	return fmt.Sprintf("%s (%.0fd)", t.UTC().Format("2006-01-02 15:04"), days)
}

func auditCmd(g *globals) *cobra.Command {
	var agent string
	var since time.Duration
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log (enrollments, requests, issuances, refusals, revocations)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := admin.AuditRequest{Agent: agent, Limit: limit}
			if since > 0 {
				req.Since = time.Now().Add(-since)
			}
			var rep admin.AuditReply
			if err := g.call(cmd.Context(), admin.VerbAudit, req, &rep); err != nil {
				return err
			}
			if asJSON {
				return printJSON(g, rep)
			}
			printAudit(g, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&agent, "agent", "", "only this agent's events")
	cmd.Flags().DurationVar(&since, "since", 0, "only events newer than this (e.g. 24h)")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many events (newest)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func renewCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "renew AGENT [CERT]",
		Short: "Ask an agent to renew now (all its certificates, or CERT)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := admin.RenewRequest{Agent: args[0]}
			if len(args) > 1 {
				req.CertName = args[1]
			}
			if err := g.call(cmd.Context(), admin.VerbRenew, req, nil); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "renewal requested from %s\n", args[0])
			return nil
		},
	}
}

// printAudit prints one line per event, oldest first, then the events the
// hub could not read. An event this CLI cannot decode is shown as damaged
// (by its position) instead of ending the listing.
func printAudit(g *globals, rep admin.AuditReply) {
	for i, raw := range rep.Events {
		var ev struct {
			Time      time.Time `json:"time"`
			Kind      string    `json:"kind"`
			Agent     string    `json:"agent"`
			CertName  string    `json:"cert_name"`
			RequestID string    `json:"request_id"`
			Names     []string  `json:"names"`
			Detail    string    `json:"detail"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil {
			fmt.Fprintf(g.out, "damaged entry reply/%d: %s\n", i, safe(err.Error()))
			continue
		}
		fmt.Fprintf(g.out, "%s  %-14s %-12s %-10s %s %s\n", ev.Time.UTC().Format(time.RFC3339), safe(ev.Kind), safe(ev.Agent),
			safe(ev.CertName), safeList(ev.Names, ","), safe(ev.Detail))
	}
	printDamaged(g, rep.Damaged)
}
