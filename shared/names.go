package shared

import (
	"net/netip"
	"regexp"
	"strings"
)

var agentIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidateAgentID checks an agent id: 1-63 of [a-z0-9_-], starting with a
// letter or digit. Ids are NATS subject tokens, so no dots or wildcards.
func ValidateAgentID(id string) error {
	if !agentIDRe.MatchString(id) {
		return Errorf(CodeBadRequest, "agent id %q: want 1-63 characters of [a-z0-9_-], starting with a letter or digit", id)
	}
	return nil
}

// NormalizeName lowercases a DNS name and drops one trailing dot.
func NormalizeName(name string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
}

// ValidateDNSName checks that name (already normalized) is a name a public
// CA can issue for: LDH labels of 1-63 characters, at most 253 in all, at
// least two labels, a "*" only as the whole leftmost label, and not an IP
// address.
func ValidateDNSName(name string) error {
	if name == "" {
		return Errorf(CodeInvalidName, "empty name")
	}
	if _, err := netip.ParseAddr(strings.Trim(name, "[]")); err == nil {
		return Errorf(CodeIPNotAllowed, "%q is an IP address; only DNS names are issued", name)
	}
	if len(name) > 253 {
		return Errorf(CodeInvalidName, "%q: %d characters, limit 253", name, len(name))
	}
	labels := strings.Split(name, ".")
	if len(labels) < 2 {
		return Errorf(CodeInvalidName, "%q: a single label is not a public name", name)
	}
	for i, l := range labels {
		if l == "*" && i == 0 {
			if len(labels) < 3 {
				return Errorf(CodeInvalidName, "%q: a wildcard needs at least two labels after it", name)
			}
			continue
		}
		if err := checkLabel(l); err != "" {
			return Errorf(CodeInvalidName, "%q: label %q %s", name, l, err)
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return Errorf(CodeInvalidName, "%q: all-numeric top-level label", name)
	}
	return nil
}

func checkLabel(l string) string {
	if l == "" {
		return "is empty"
	}
	if len(l) > 63 {
		return "is longer than 63 characters"
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return "starts or ends with a hyphen"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' {
			continue
		}
		if c == '*' {
			return "has a wildcard that is not the whole leftmost label"
		}
		return "has a character outside [a-z0-9-] (use punycode for IDNs)"
	}
	return ""
}

// ValidateAllowPattern checks an allow-list entry; see MatchAllow.
func ValidateAllowPattern(p string) error {
	switch {
	case strings.HasPrefix(p, "="):
		return ValidateDNSName(p[1:])
	case strings.HasPrefix(p, "**."):
		return ValidateDNSName(p[1:])
	case strings.HasPrefix(p, "*."):
		return ValidateDNSName(p)
	default:
		if strings.Contains(p, "*") {
			return Errorf(CodeInvalidName, "allow pattern %q: '*' only as '*.' or '**.' prefix, or in an '=' literal", p)
		}
		return ValidateDNSName(p)
	}
}

// MatchAllow reports whether the certificate name (normalized) is allowed by
// pattern. Patterns:
//
//	www.example.org        exactly that name
//	*.corp.example.org     any one label under corp.example.org (a.corp.example.org),
//	                       not deeper names and not the wildcard name itself
//	**.corp.example.org    any name at any depth under corp.example.org,
//	                       not wildcard names
//	=*.corp.example.org    the wildcard certificate name *.corp.example.org itself
//
// So a wildcard certificate is only ever issued when listed literally with "=".
func MatchAllow(pattern, name string) bool {
	pattern = strings.ToLower(pattern)
	switch {
	case strings.HasPrefix(pattern, "="):
		return name == pattern[1:]
	case strings.HasPrefix(name, "*."):
		return false
	case strings.HasPrefix(pattern, "**."):
		return strings.HasSuffix(name, pattern[2:]) && len(name) > len(pattern)-2
	case strings.HasPrefix(pattern, "*."):
		suffix := pattern[1:]
		if !strings.HasSuffix(name, suffix) {
			return false
		}
		head := name[:len(name)-len(suffix)]
		return head != "" && !strings.Contains(head, ".")
	default:
		return name == pattern
	}
}

// Allowed reports whether any pattern allows name.
func Allowed(patterns []string, name string) bool {
	for _, p := range patterns {
		if MatchAllow(p, name) {
			return true
		}
	}
	return false
}
