package service

import (
	"strings"
	"unicode/utf8"

	"github.com/certfleet/certfleet/shared"
)

// Bounds on agent-supplied text the hub stores. What an agent reports is
// data for the operator, never identity or a basis for decisions: it is
// cut to these lengths (and shown escaped by the CLI).
const (
	maxVersionLen  = 64
	maxHostnameLen = 253
	maxErrorLen    = 1024
	maxShortLen    = 128
)

// capText cuts s to at most n bytes on a rune boundary and replaces
// invalid UTF-8.
func capText(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// capReport bounds every text field of an agent's status report.
func capReport(r *shared.StatusReport) {
	r.AgentVersion = capText(r.AgentVersion, maxVersionLen)
	r.Hostname = capText(r.Hostname, maxHostnameLen)
	for i := range r.Certificates {
		c := &r.Certificates[i]
		for j := range c.Names {
			c.Names[j] = capText(c.Names[j], maxHostnameLen)
		}
		c.Serial = capText(c.Serial, maxShortLen)
		c.LastResult = capText(c.LastResult, maxShortLen)
		c.LastError = capText(c.LastError, maxErrorLen)
		c.LastErrorCode = shared.Code(capText(string(c.LastErrorCode), maxShortLen))
		c.Pending = capText(c.Pending, maxShortLen)
	}
}
