package configfile

import (
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// keyLines maps every key a TOML document defines, spelt as toml.Key's
// String does, to the lines (1-based) that define it, in order: a key of
// an [[array]] table has one line per table. The decoder keeps key
// positions to itself, so this reads the document again; it is run only
// on documents the decoder accepted, and only to point at unknown keys.
// Tables a header or dotted key creates on the way ("a" for [a.b]) are
// listed at their first line.
func keyLines(doc string) map[string][]int {
	out := map[string][]int{}
	add := func(k toml.Key, line int, explicit bool) {
		s := k.String()
		if explicit || len(out[s]) == 0 {
			out[s] = append(out[s], line)
		}
	}
	addPath := func(k toml.Key, line int) {
		for i := 1; i < len(k); i++ {
			add(k[:i], line, false)
		}
		add(k, line, true)
	}
	var table toml.Key
	var sc valueScanner
	for i, line := range strings.Split(doc, "\n") {
		n := i + 1
		if sc.open != "" || sc.depth > 0 {
			// Inside a multi-line string or array: no key starts here.
			sc.scan(line)
			continue
		}
		s := strings.TrimLeft(line, " \t")
		switch {
		case strings.HasPrefix(s, "#"):
			continue
		case strings.HasPrefix(s, "["):
			s = strings.TrimPrefix(strings.TrimPrefix(s, "["), "[")
			if k, after, ok := parseKey(s); ok && strings.HasPrefix(strings.TrimLeft(after, " \t"), "]") {
				table = k
				addPath(k, n)
			}
			continue
		}
		if k, after, ok := parseKey(s); ok {
			if after = strings.TrimLeft(after, " \t"); strings.HasPrefix(after, "=") {
				full := append(append(toml.Key{}, table...), k...)
				addPath(full, n)
				sc.scan(after[1:])
			}
		}
	}
	return out
}

// parseKey reads a dotted key of bare, "basic" and 'literal' parts from
// the start of s and returns its parts and the text after it.
func parseKey(s string) (toml.Key, string, bool) {
	var k toml.Key
	for {
		s = strings.TrimLeft(s, " \t")
		var part string
		switch {
		case strings.HasPrefix(s, `"`):
			end := basicEnd(s[1:])
			if end < 0 {
				return nil, "", false
			}
			raw := s[1 : 1+end]
			if u, err := strconv.Unquote(`"` + raw + `"`); err == nil {
				part = u
			} else {
				part = raw
			}
			s = s[end+2:]
		case strings.HasPrefix(s, "'"):
			end := strings.IndexByte(s[1:], '\'')
			if end < 0 {
				return nil, "", false
			}
			part, s = s[1:1+end], s[end+2:]
		default:
			end := 0
			for end < len(s) && isBare(s[end]) {
				end++
			}
			if end == 0 {
				return nil, "", false
			}
			part, s = s[:end], s[end:]
		}
		k = append(k, part)
		t := strings.TrimLeft(s, " \t")
		if !strings.HasPrefix(t, ".") {
			return k, s, true
		}
		s = t[1:]
	}
}

func isBare(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// basicEnd returns the index of the '"' that closes a basic string whose
// body starts s, or -1.
func basicEnd(s string) int {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// closeMultiline returns the index just past the delimiter that closes a
// multi-line string open with delim, or -1 when s does not close it.
func closeMultiline(s, delim string) int {
	for i := 0; i+len(delim) <= len(s); i++ {
		if delim == `"""` && s[i] == '\\' {
			i++
			continue
		}
		if strings.HasPrefix(s[i:], delim) {
			return i + len(delim)
		}
	}
	return -1
}

// valueScanner follows values across lines: the multi-line string and
// the arrays and inline tables they leave open.
type valueScanner struct {
	open  string // delimiter of an open multi-line string, or ""
	depth int    // arrays and inline tables open
}

// scan reads one line (or the rest of one) of value text.
func (sc *valueScanner) scan(s string) {
	i := 0
	if sc.open != "" {
		end := closeMultiline(s, sc.open)
		if end < 0 {
			return
		}
		sc.open = ""
		i = end
	}
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '#':
			return
		case '[', '{':
			sc.depth++
		case ']', '}':
			if sc.depth > 0 {
				sc.depth--
			}
		case '"', '\'':
			q := s[i : i+1]
			if strings.HasPrefix(s[i:], q+q+q) {
				end := closeMultiline(s[i+3:], q+q+q)
				if end < 0 {
					sc.open = q + q + q
					return
				}
				i += 3 + end - 1
				continue
			}
			var end int
			if c == '"' {
				end = basicEnd(s[i+1:])
			} else {
				end = strings.IndexByte(s[i+1:], '\'')
			}
			if end < 0 {
				return
			}
			i += end + 1
		}
	}
}
