package service

import (
	"regexp"
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
	r.Transport = capText(r.Transport, maxHostnameLen)
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

// fingerprintRe is a hex SHA-256 as agents send it.
var fingerprintRe = regexp.MustCompile(`^[0-9a-f]{64}$`)

// capUnmanaged bounds every field of the report's unmanaged list (its
// length is bounded by Validate, which refuses a longer one). A field
// that needs cutting never comes from a correct agent, which bounds them
// itself; it returns how many were cut, so the hub can say so.
func capUnmanaged(r *shared.StatusReport) (cut int) {
	text := func(s *string, n int) {
		if c := capText(*s, n); c != *s {
			*s = c
			cut++
		}
	}
	for i := range r.Unmanaged {
		u := &r.Unmanaged[i]
		text(&u.Path, shared.MaxPathLen)
		text(&u.Subject, shared.MaxDNLen)
		text(&u.Issuer, shared.MaxDNLen)
		text(&u.Serial, shared.MaxSerialLen)
		if extra := len(u.SANs) - shared.MaxUnmanagedSANs; extra > 0 {
			u.SANs = u.SANs[:shared.MaxUnmanagedSANs]
			u.SANsOmitted += extra
			cut++
		}
		for j := range u.SANs {
			text(&u.SANs[j], maxHostnameLen)
		}
		if !fingerprintRe.MatchString(u.SHA256) {
			u.SHA256 = ""
			cut++
		}
		if u.Duplicates < 0 || u.SANsOmitted < 0 {
			u.Duplicates, u.SANsOmitted = max(u.Duplicates, 0), max(u.SANsOmitted, 0)
			cut++
		}
	}
	return cut
}
