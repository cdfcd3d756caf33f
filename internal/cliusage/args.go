package cliusage

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// Positional describes a command's positional arguments as its usage line
// names them: "renew AGENT [CERT]" has Required [AGENT] and Optional
// [CERT]; a trailing "..." makes the last one Variadic.
type Positional struct {
	Required, Optional []string
	Variadic           bool
}

// ParseUse reads the positional arguments from a cobra Use line. Flags and
// their values ("--allow PATTERN...", "--role admin|readonly"), bracketed
// groups holding a flag ("[--proxy URL]") and parenthesised flag choices
// ("(--sqlite FILE | --postgres DSN)") are not positional.
func ParseUse(use string) Positional {
	var p Positional
	fields := strings.Fields(use)
	if len(fields) > 0 {
		fields = fields[1:] // the command's name
	}
	depth := 0 // inside a parenthesised or bracketed flag group
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if depth > 0 || (strings.HasPrefix(f, "(") || strings.HasPrefix(f, "[-")) {
			depth += strings.Count(f, "(") + strings.Count(f, "[") - strings.Count(f, ")") - strings.Count(f, "]")
			continue
		}
		if strings.HasPrefix(f, "-") {
			// A flag; its value follows unless the next word is a flag,
			// an optional group, or the flag carries it ("--x=V").
			if !strings.Contains(f, "=") && i+1 < len(fields) && !strings.HasPrefix(fields[i+1], "-") && !strings.HasPrefix(fields[i+1], "[") {
				i++
			}
			continue
		}
		name, optional := f, false
		if strings.HasPrefix(name, "[") && strings.HasSuffix(name, "]") {
			name, optional = name[1:len(name)-1], true
		}
		if n, ok := strings.CutSuffix(name, "..."); ok {
			name, p.Variadic = n, true
		}
		if optional {
			p.Optional = append(p.Optional, name)
		} else {
			p.Required = append(p.Required, name)
		}
	}
	return p
}

// argError restates a cobra argument-count error in the usage line's own
// words: which argument is missing, or which one was not expected.
func argError(c *cobra.Command, args []string, err error) error {
	p := ParseUse(c.Use)
	switch {
	case len(args) < len(p.Required):
		return fmt.Errorf("missing %s", p.Required[len(args)])
	case !p.Variadic && len(args) > len(p.Required)+len(p.Optional):
		return fmt.Errorf("unexpected argument %q", args[len(p.Required)+len(p.Optional)])
	}
	return err
}

// Usagef is a usage error for c in the given words, with c's usage line:
// for rules cobra cannot express, such as "one of --sqlite or --postgres".
func Usagef(c *cobra.Command, format string, a ...any) error {
	return &Error{fmt.Errorf("%s\nusage: %s", fmt.Sprintf(format, a...), c.UseLine())}
}
