package clitest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Complete asks the binary for completions as a shell does, through
// cobra's hidden __complete command, and returns the candidates (without
// their descriptions) and the directive.
func Complete(tb testing.TB, run func(args ...string) (int, string, string), args ...string) ([]string, cobra.ShellCompDirective) {
	tb.Helper()
	code, out, stderr := run(append([]string{cobra.ShellCompRequestCmd}, args...)...)
	if code != 0 {
		tb.Fatalf("__complete %q: exit %d: %s", args, code, stderr)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		tb.Fatalf("__complete %q: no directive line in %q", args, out)
	}
	d, err := strconv.Atoi(last[1:])
	if err != nil {
		tb.Fatalf("__complete %q: directive %q: %v", args, last, err)
	}
	var got []string
	for _, l := range lines[:len(lines)-1] {
		if l == "" {
			continue
		}
		v, _, _ := strings.Cut(l, "\t")
		got = append(got, v)
	}
	return got, cobra.ShellCompDirective(d)
}
