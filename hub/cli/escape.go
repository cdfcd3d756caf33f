package cli

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Much of what the CLI prints comes from agents (host names, errors,
// versions, paths, certificate names) or from public DNS, so none of it
// reaches the terminal raw: no ANSI escape sequences, carriage returns,
// line breaks, other C0/C1 controls, or bidirectional overrides that make
// a line read as something else.

// safe returns s as is when every rune in it is printable, else s quoted
// and escaped as strconv.Quote does, so the escape is visible and
// unambiguous. Tabs are escaped too: they would shift table columns.
func safe(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !printable(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// printable reports a rune safe to put on a terminal: a graphic
// character or the ASCII space. unicode.IsPrint excludes controls,
// format characters (the bidi overrides and isolates, U+202A-U+202E and
// U+2066-U+2069, and marks like U+200E) and line/paragraph separators.
func printable(r rune) bool {
	return unicode.IsPrint(r)
}

// safeList joins items with sep, each escaped.
func safeList(items []string, sep string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = safe(s)
	}
	return strings.Join(out, sep)
}

// safeLines escapes every line of s but keeps its line breaks: for error
// messages, which may span lines.
func safeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = safe(l)
	}
	return strings.Join(lines, "\n")
}
