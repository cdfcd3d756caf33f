package cliusage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/spf13/cobra"
)

// JSONFlag adds the --json flag every printing command of both binaries
// has: the command then prints exactly one JSON object or array on
// standard output (README, "JSON output"), and errors still go to
// standard error with the usual exit code.
func JSONFlag(c *cobra.Command, p *bool) {
	c.Flags().BoolVar(p, "json", false, "print one JSON value instead of text (fields: README, JSON output)")
}

// PrintJSON writes v to w as indented JSON and a newline, with every rune
// a terminal could act on escaped (SafeJSON).
func PrintJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode json output: %w", err)
	}
	_, err = w.Write(append(SafeJSON(b), '\n'))
	return err
}

// SafeJSON rewrites encoded JSON so that no rune outside printable
// ASCII-or-graphic reaches the terminal: encoding/json already escapes C0
// controls and U+2028/U+2029, but not DEL, C1 controls or bidi overrides,
// which agents and public DNS can put into what the CLI prints. Such runes
// only occur inside strings, where a \u escape means the same.
func SafeJSON(b []byte) []byte {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r >= utf8.RuneSelf-1 && !unicode.IsPrint(r) }) {
		return b
	}
	var out bytes.Buffer
	out.Grow(len(b) + 16)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		switch {
		case r == utf8.RuneError && n == 1:
			out.WriteString(`\ufffd`)
		case r < utf8.RuneSelf-1 || unicode.IsPrint(r):
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
