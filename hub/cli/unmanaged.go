package cli

import (
	"fmt"
	"sort"
	"text/tabwriter"

	"github.com/certfleet/certfleet/hub/admin"
)

// printUnmanaged ends the status output with the certificates agents
// found in their [inventory] paths that certfleet does not manage: listed
// when list (status --unmanaged), else one line counting them.
func printUnmanaged(g *globals, r admin.StatusReply, list bool) error {
	total := 0
	for _, n := range r.UnmanagedCounts {
		total += n
	}
	if total == 0 {
		if list {
			fmt.Fprintln(g.out, "\nNo unmanaged certificates reported (agents list them from their [inventory] paths).")
		}
		return nil
	}
	if !list {
		fmt.Fprintf(g.out, "\n%d unmanaged certificate(s) on %d agent(s): certfleet-hub status --unmanaged lists them\n", total, len(r.UnmanagedCounts))
		return nil
	}
	fmt.Fprintf(g.out, "\nUnmanaged certificates (%d, found by agents in their [inventory] paths; certfleet does not renew them):\n", total)
	status := r.Status
	sort.Slice(status, func(i, j int) bool { return status[i].AgentID < status[j].AgentID })
	tw := tabwriter.NewWriter(g.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tPATH\tSUBJECT\tNAMES\tISSUER\tNOT AFTER\tSHA-256")
	for _, s := range status {
		for _, u := range s.Report.Unmanaged {
			path := safe(u.Path)
			if u.Duplicates > 0 {
				path += fmt.Sprintf(" (+%d copies)", u.Duplicates)
			}
			names := safeList(u.SANs, ",")
			if u.SANsOmitted > 0 {
				names += fmt.Sprintf(" (+%d)", u.SANsOmitted)
			}
			if names == "" {
				names = "-"
			}
			fp := safe(u.SHA256)
			if len(fp) > 16 {
				fp = fp[:16] + "…"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", safe(s.AgentID), path, safe(u.Subject), names, safe(u.Issuer), expiry(r.Now, u.NotAfter), fp)
		}
		if n := s.Report.UnmanagedOmitted; n > 0 {
			fmt.Fprintf(tw, "%s\t(%d more, expiring later, not sent by the agent)\t\t\t\t\t\n", safe(s.AgentID), n)
		}
	}
	return tw.Flush()
}
