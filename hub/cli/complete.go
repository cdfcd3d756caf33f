package cli

import (
	"context"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/admin"
)

// Dynamic shell completion asks the running hub, over the admin
// connection, for agent ids, certificate names, domains, users, TSIG keys
// and acme-dns registrations. A shell waits for the answer, so the whole
// round trip is bounded, and any failure (no hub, no credentials, a
// timeout) yields no candidates and no message.

// completionTimeout bounds one completion's connect and request.
const completionTimeout = 2 * time.Second

// completionLimit is the most agents one completion asks the hub for: a
// shell shows no more usefully, and the reply stays small in any fleet.
const completionLimit = 100

const noFiles = cobra.ShellCompDirectiveNoFileComp

// registerCompletions adds the completions of flags that name agents.
func (g *globals) registerCompletions(root *cobra.Command) {
	for _, c := range root.Commands() {
		switch c.Name() {
		case "status", "audit":
			_ = c.RegisterFlagCompletionFunc("agent", func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
				return g.agentIDs(cmd, toComplete), noFiles
			})
		}
	}
}

// ask sends one admin request for a completion; false on any failure.
func (g *globals) ask(cmd *cobra.Command, verb string, req, reply any) bool {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	c, closeFn, err := g.adminClient(nats.Timeout(completionTimeout))
	if err != nil {
		return false
	}
	defer closeFn()
	c.Timeout = completionTimeout
	return c.Call(ctx, verb, req, reply) == nil
}

// completeAgents completes the one argument that names an agent.
func (g *globals) completeAgents(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	return g.agentIDs(cmd, toComplete), noFiles
}

// completeAgentThenCert completes AGENT, then that agent's certificate
// block names (renew AGENT [CERT]).
func (g *globals) completeAgentThenCert(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return g.agentIDs(cmd, toComplete), noFiles
	case 1:
		return g.certNames(cmd, args[0], toComplete), noFiles
	}
	return nil, noFiles
}

// completeAgentSlashCert completes the one AGENT/CERT argument: agent
// ids (with the slash, no space after) until one is typed whole, then
// that agent's certificate block names.
func (g *globals) completeAgentSlashCert(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	agent, prefix, ok := strings.Cut(toComplete, "/")
	if !ok {
		var out []cobra.Completion
		for _, c := range g.agentIDs(cmd, toComplete) {
			id, desc, _ := strings.Cut(c, "\t")
			out = append(out, cobra.CompletionWithDesc(id+"/", desc))
		}
		return out, noFiles | cobra.ShellCompDirectiveNoSpace
	}
	var out []cobra.Completion
	for _, name := range g.certNames(cmd, agent, prefix) {
		out = append(out, agent+"/"+name)
	}
	return out, noFiles
}

// agentIDs lists agents whose id starts with prefix, each described by
// its allow list. The hub filters by a glob, so the reply holds only
// those agents.
func (g *globals) agentIDs(cmd *cobra.Command, prefix string) []cobra.Completion {
	var rep admin.StatusReply
	if !g.ask(cmd, admin.VerbStatus, admin.StatusRequest{Agent: globEscape(prefix) + "*", Limit: completionLimit}, &rep) {
		return nil
	}
	var out []cobra.Completion
	for _, a := range rep.Agents {
		if strings.HasPrefix(a.ID, prefix) && completable(a.ID) {
			out = append(out, cobra.CompletionWithDesc(a.ID, safeList(a.Allow, ",")))
		}
	}
	sort.Strings(out)
	return out
}

// certNames lists the certificate blocks of agent, those the hub issued
// and those the agent reports, that start with prefix.
func (g *globals) certNames(cmd *cobra.Command, agent, prefix string) []cobra.Completion {
	var rep admin.StatusReply
	if !g.ask(cmd, admin.VerbStatus, admin.StatusRequest{Agent: globEscape(agent), Limit: 1}, &rep) {
		return nil
	}
	var names []string
	for _, c := range rep.Certs {
		if c.AgentID == agent {
			names = append(names, c.CertName)
		}
	}
	for _, s := range rep.Status {
		if s.AgentID != agent {
			continue
		}
		for _, c := range s.Report.Certificates {
			names = append(names, c.Name)
		}
	}
	return matching(names, prefix, nil)
}

// completeDomains completes registered names and zones; variadic for
// `domain check`, one for `domain remove`.
func (g *globals) completeDomains(variadic bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !variadic {
			return nil, noFiles
		}
		var rep admin.DomainList
		if !g.ask(cmd, admin.VerbDomainList, struct{}{}, &rep) {
			return nil, noFiles
		}
		var names []string
		for _, d := range rep.Domains {
			names = append(names, d.Name)
		}
		return matching(names, toComplete, args), noFiles
	}
}

// completeUsers completes dashboard user names.
func (g *globals) completeUsers(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	var rep admin.UserList
	if !g.ask(cmd, admin.VerbUserList, nil, &rep) {
		return nil, noFiles
	}
	var names []string
	for _, u := range rep.Users {
		names = append(names, u.Name)
	}
	return matching(names, toComplete, nil), noFiles
}

// completeTSIG completes TSIG key names.
func (g *globals) completeTSIG(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, noFiles
	}
	var rep admin.TSIGList
	if !g.ask(cmd, admin.VerbTSIGList, struct{}{}, &rep) {
		return nil, noFiles
	}
	var names []string
	for _, k := range rep.Keys {
		names = append(names, k.Name)
	}
	return matching(names, toComplete, nil), noFiles
}

// completeACMEDNS completes acme-dns registration usernames.
func (g *globals) completeACMEDNS(variadic bool) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 && !variadic {
			return nil, noFiles
		}
		var rep admin.ACMEDNSList
		if !g.ask(cmd, admin.VerbACMEDNSList, struct{}{}, &rep) {
			return nil, noFiles
		}
		var names []string
		for _, r := range rep.Registrations {
			names = append(names, r.Username)
		}
		return matching(names, toComplete, args), noFiles
	}
}

// matching returns the distinct completable names that start with prefix
// and are not in given, sorted.
func matching(names []string, prefix string, given []string) []cobra.Completion {
	var out []cobra.Completion
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && completable(n) && !slices.Contains(given, n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// completable reports whether s can be offered to a shell: certificate
// names come from agents' reports, and a candidate with a space, a
// control character or a newline would reach the terminal or split into
// several.
func completable(s string) bool {
	return s != "" && safe(s) == s && !strings.ContainsAny(s, " ")
}

// globEscape quotes path.Match's metacharacters, so an agent id prefix
// matches only itself.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
