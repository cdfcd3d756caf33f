package cli

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
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

// terminalSafeJSON rewrites encoded JSON so that no rune outside printable
// ASCII-or-graphic reaches the terminal: encoding/json already escapes C0
// controls and U+2028/U+2029, but not DEL, C1 controls or bidi overrides.
// Such runes only occur inside strings, where a \u escape means the same.
func terminalSafeJSON(b []byte) []byte {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r >= utf8.RuneSelf-1 && !printable(r) }) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1:
			out.WriteString(`\ufffd`)
		case r < utf8.RuneSelf-1 || printable(r):
			out.Write(b[:n])
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&out, `\u%04x`, r)
		}
		b = b[n:]
	}
	return out.Bytes()
}
