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
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/shared"
)

func statusCmd(g *globals) *cobra.Command {
	var asJSON, unmanaged bool
	var req admin.StatusRequest
	var expiring dayDuration
	var pages pageFlags
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the fleet: agents, their certificates, expiry, last result, alerts",
		Long: `status shows agents (those matching --agent, a glob such as 'web*', and the
filters), their certificates, expiry, renewal time and last result, then the
alerts. The hub answers one page at a time (` + fmt.Sprint(admin.DefaultStatusLimit) + ` agents unless --limit says
otherwise, fewer when they hold much), so no reply grows with the fleet;
--all follows the pages to the end, printing each as it arrives (with
--json: one JSON object per page and line).

Filters select whole agents:
  --expiring 14d   a certificate expires within 14 days (or has expired)
  --state S        the agent is in state S (repeat or comma-separate for any of):
                   ` + strings.Join(admin.States, ", ") + `
                   ok: online, nothing failed, expiring or expired;
                   failed: a certificate's last attempt failed, or the hub's
                   request for it failed or waits for a retry;
                   pending: not issued yet, or queued, waiting for a CA budget or ordering at the hub;
                   expiring: renewal late (under a sixth of the lifetime left);
                   never: registered, never connected.

--unmanaged also lists the certificates agents found in their [inventory]
paths that certfleet does not manage (--json always includes them).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Limit, req.Expiring = pages.limit, time.Duration(expiring)
			req.Unmanaged = unmanaged || asJSON
			return g.withAdmin(func(c adminCaller) error {
				p := &statusPrinter{g: g, unmanaged: unmanaged}
				err := pages.follow(g, "agents", func(after string) (string, error) {
					req.After = after
					var page admin.StatusReply
					if err := c.Call(cmd.Context(), admin.VerbStatus, req, &page); err != nil {
						return "", err
					}
					switch {
					case asJSON && pages.all:
						return page.Next, printJSONLine(g, page)
					case asJSON:
						return page.Next, printJSON(g, page)
					}
					return page.Next, p.page(page)
				})
				if err != nil || asJSON {
					return err
				}
				return p.finish()
			})
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	cmd.Flags().BoolVar(&unmanaged, "unmanaged", false, "also list the certificates agents found that certfleet does not manage")
	cmd.Flags().StringVar(&req.Agent, "agent", "", "only agents whose id matches this glob")
	cmd.Flags().Var(&expiring, "expiring", "only agents with a certificate expiring within this (e.g. 14d, 36h)")
	cmd.Flags().StringSliceVar(&req.State, "state", nil, "only agents in this state ("+strings.Join(admin.States, ", ")+")")
	pages.register(cmd, "agents", "start after this agent id (the cursor a previous page printed)")
	return cmd
}

// statusPrinter prints status pages as they come: the rows of each, then
// the alerts and damaged entries of all of them at the end.
type statusPrinter struct {
	g            *globals
	header       bool
	agents       int
	alerts       []admin.Alert
	damaged      []hub.Damaged
	damagedTotal int
	// unmanaged: list the unmanaged certificates (not only count them);
	// um gathers them (and their counts) from every page.
	unmanaged bool
	um        admin.StatusReply
	// hubs: the running hubs, from the first page.
	hubs []admin.HubInfo
}

func (p *statusPrinter) page(r admin.StatusReply) error {
	if err := printStatusRows(p.g, r, !p.header); err != nil {
		return err
	}
	p.header = true
	p.agents += len(r.Agents)
	p.alerts = append(p.alerts, r.Alerts...)
	if r.Damaged != nil {
		p.damaged, p.damagedTotal = r.Damaged, r.DamagedTotal
	}
	if r.Hubs != nil {
		p.hubs = r.Hubs
	}
	for id, n := range r.UnmanagedCounts {
		if p.um.UnmanagedCounts == nil {
			p.um.UnmanagedCounts = map[string]int{}
		}
		p.um.UnmanagedCounts[id] = n
	}
	for _, st := range r.Status {
		if len(st.Report.Unmanaged) > 0 {
			p.um.Status = append(p.um.Status, st)
		}
	}
	return nil
}

func (p *statusPrinter) finish() error {
	if p.agents == 0 {
		fmt.Fprintln(p.g.errOut, "no agent matches")
	}
	printStatusTail(p.g, p.alerts, p.damaged, p.damagedTotal)
	printHubs(p.g, p.hubs)
	return printUnmanaged(p.g, p.um, p.unmanaged)
}

// printStatus prints one whole reply.
func printStatus(g *globals, r admin.StatusReply) error {
	if err := printStatusRows(g, r, true); err != nil {
		return err
	}
	printStatusTail(g, r.Alerts, r.Damaged, r.DamagedTotal)
	printHubs(g, r.Hubs)
	return nil
}

// printStatusRows prints one row per agent certificate, joining the
// agent's own report (what is installed) with the hub's records (what was
// issued and what is in flight).
func printStatusRows(g *globals, r admin.StatusReply, header bool) error {
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
	if header {
		fmt.Fprintln(tw, "AGENT\tLAST SEEN\tCERT\tNAMES\tNOT AFTER\tRENEW AT\tLAST RESULT")
	}
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
				var when []string
				if q.Attempts > 1 || (q.Attempts > 0 && !q.NextTry.IsZero()) {
					when = append(when, fmt.Sprintf("attempt %d", q.Attempts))
				}
				if !q.NextTry.IsZero() {
					when = append(when, "next "+fmtTime(q.NextTry))
				}
				if len(when) > 0 {
					result += " (" + strings.Join(when, ", ") + ")"
				}
				switch {
				case q.State == "waiting" && q.WaitReason != "":
					// Waiting for the CA's budget: why, not the last error.
					result += ": " + q.WaitReason
				case q.LastError != "":
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
	return tw.Flush()
}

// printStatusTail prints the alerts and the damaged entries.
func printStatusTail(g *globals, alerts []admin.Alert, damaged []hub.Damaged, damagedTotal int) {
	if len(alerts) > 0 {
		fmt.Fprintf(g.out, "\n%d alert(s):\n", len(alerts))
		for _, al := range alerts {
			fmt.Fprintf(g.out, "  %-10s %s %s: %s\n", safe(strings.ToUpper(al.Kind)), safe(al.Agent), safe(al.CertName), safe(al.Message))
		}
	}
	if len(damaged) > 0 {
		fmt.Fprintln(g.out)
		printDamaged(g, damaged, damagedTotal)
	}
}

// printHubs lists the running hubs, when several share the fleet, and
// which one renews credentials and publishes alerts.
func printHubs(g *globals, hubs []admin.HubInfo) {
	if len(hubs) < 2 {
		return
	}
	sort.Slice(hubs, func(i, j int) bool { return hubs[i].ID < hubs[j].ID })
	var list []string
	for _, hb := range hubs {
		s := safe(hb.ID)
		if hb.Housekeeping {
			s += " (housekeeping)"
		}
		list = append(list, s)
	}
	fmt.Fprintf(g.out, "\nhubs: %s\n", strings.Join(list, ", "))
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
	var req admin.AuditRequest
	var since dayDuration
	var asJSON bool
	var pages pageFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read the audit log (enrollments, requests, issuances, refusals, revocations)",
		Long: `audit prints the newest events of the audit log, oldest first (at most
` + fmt.Sprint(admin.DefaultAuditLimit) + ` unless --limit says otherwise, and what fits one reply). To read more,
page forward: --after 0 starts at the beginning of the log, --after POS where
a previous page ended, and --all follows the pages to the end, printing each
as it arrives (with --json: one JSON object per page and line).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req.Limit = pages.limit
			if since > 0 {
				req.Since = time.Now().Add(-time.Duration(since))
			}
			if pages.all && pages.after == "" {
				pages.after = "0"
			}
			return g.withAdmin(func(c adminCaller) error {
				return pages.follow(g, "events", func(after string) (string, error) {
					req.After = after
					var page admin.AuditReply
					if err := c.Call(cmd.Context(), admin.VerbAudit, req, &page); err != nil {
						return "", err
					}
					var err error
					switch {
					case asJSON && pages.all:
						err = printJSONLine(g, page)
					case asJSON:
						err = printJSON(g, page)
					default:
						printAudit(g, page)
					}
					if page.Omitted > 0 {
						fmt.Fprintf(g.errOut, "%d older matching events did not fit the reply: page with --after 0 (or --all)\n", page.Omitted)
					}
					return page.Next, err
				})
			})
		},
	}
	cmd.Flags().StringVar(&req.Agent, "agent", "", "only this agent's events")
	cmd.Flags().Var(&since, "since", "only events newer than this (e.g. 24h, 7d)")
	cliusage.JSONFlag(cmd, &asJSON)
	pages.register(cmd, "events", "page forward from this position in the log (0: its start; else where a previous page ended)")
	return cmd
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
	printDamaged(g, rep.Damaged, 0)
}
