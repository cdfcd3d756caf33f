// Package clitest checks a certfleet binary's whole command tree the same
// way for both binaries: every command has examples that parse as that
// command, every printing command has --json, every flag group (the admin
// connection, the config file) is on exactly the commands that use it, and
// argument mistakes exit 2 naming the argument.
package clitest

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/certfleet/certfleet/internal/cliusage"
)

// Spec describes one binary for Check.
type Spec struct {
	// New builds a fresh command tree as the binary does before Execute.
	New func() *cobra.Command
	// Run runs the binary's command line in process and returns its exit
	// code, standard output and standard error.
	Run func(args ...string) (code int, stdout, stderr string)
	// NoJSON lists the runnable commands that have no --json (by path
	// below the root, "service install"), each with the reason.
	NoJSON map[string]string
	// Groups lists every runnable command with the flag groups
	// (cliusage.FlagGroup) it must have; it must have no others. A command
	// missing here fails the check, so every new command is classified.
	Groups map[string][]string
	// GroupFlags names the flags of each group.
	GroupFlags map[string][]string
}

// Check runs every check of the tree as subtests of t.
func Check(t *testing.T, s Spec) {
	root := s.New()
	var all, runnable []*cobra.Command
	cliusage.Walk(root, func(c *cobra.Command) {
		if c.Hidden {
			return
		}
		all = append(all, c)
		if c.Runnable() {
			runnable = append(runnable, c)
		}
	})
	path := func(c *cobra.Command) string { return strings.TrimPrefix(c.CommandPath(), root.Name()+" ") }

	t.Run("examples", func(t *testing.T) {
		for _, c := range all {
			checkExample(t, s, root.Name(), path(c), c)
		}
	})
	t.Run("json", func(t *testing.T) {
		seen := map[string]bool{}
		for _, c := range runnable {
			p := path(c)
			seen[p] = true
			_, exempt := s.NoJSON[p]
			has := c.Flags().Lookup("json") != nil
			switch {
			case !has && !exempt:
				t.Errorf("%s prints but has no --json (add it, or list it in NoJSON with the reason)", p)
			case has && exempt:
				t.Errorf("%s has --json but is listed in NoJSON", p)
			}
		}
		for p := range s.NoJSON {
			if !seen[p] {
				t.Errorf("NoJSON lists %q, which is not a runnable command", p)
			}
		}
	})
	t.Run("flag groups", func(t *testing.T) {
		seen := map[string]bool{}
		for _, c := range runnable {
			p := path(c)
			seen[p] = true
			want, listed := s.Groups[p]
			if !listed {
				t.Errorf("%s is not classified in Groups: say which flag groups it takes", p)
				continue
			}
			got := groupsOf(c)
			if !slices.Equal(got, sorted(want)) {
				t.Errorf("%s has flag groups %v, want %v", p, got, sorted(want))
			}
			for _, g := range want {
				for _, f := range s.GroupFlags[g] {
					if fl := lookup(c, f); fl == nil || !slices.Contains(fl.Annotations[cliusage.FlagGroup], g) {
						t.Errorf("%s lacks --%s of group %s", p, f, g)
					}
				}
			}
		}
		for p := range s.Groups {
			if !seen[p] {
				t.Errorf("Groups lists %q, which is not a runnable command", p)
			}
		}
	})
	t.Run("arguments", func(t *testing.T) {
		for _, c := range runnable {
			p := path(c)
			if c.Name() == "help" {
				continue // cobra's: any words name a help topic
			}
			t.Run(p, func(t *testing.T) {
				if c.Args == nil {
					t.Fatalf("%s sets no Args: its positional arguments are not checked", p)
				}
				pos := cliusage.ParseUse(c.Use)
				args := strings.Fields(p)
				var want string
				switch {
				case len(pos.Required) > 0:
					want = "missing " + pos.Required[0]
				case pos.Variadic:
					return // any number of arguments is right
				default:
					for range pos.Optional {
						args = append(args, "extra")
					}
					args = append(args, "surplus")
					want = `unexpected argument "surplus"`
				}
				code, _, stderr := s.Run(args...)
				if code != cliusage.ExitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, "usage: "+c.UseLine()) {
					t.Errorf("%s: exit %d, stderr %q; want exit %d naming %q and the usage line", strings.Join(args, " "), code, stderr, cliusage.ExitUsage, want)
				}
			})
		}
	})
}

// checkExample requires c's Example to hold at least one invocation of c
// (or, for a command group, of a command below it), and every invocation
// of the binary in it to parse: a known command, known flags, the right
// number of arguments, required flags present.
func checkExample(t *testing.T, s Spec, bin, p string, c *cobra.Command) {
	t.Helper()
	if strings.TrimSpace(c.Example) == "" {
		t.Errorf("%s has no Example", c.CommandPath())
		return
	}
	ofC := 0
	for _, words := range Invocations(c.Example) {
		if words[0] != bin {
			continue
		}
		fresh := s.New()
		target, rest, err := fresh.Find(words[1:])
		if err != nil {
			t.Errorf("%s example %q: %v", p, strings.Join(words, " "), err)
			continue
		}
		if !strings.HasPrefix(target.CommandPath()+" ", c.CommandPath()+" ") {
			continue // an example of another command, e.g. the next step
		}
		ofC++
		if err := target.ParseFlags(rest); err != nil {
			t.Errorf("%s example %q: %v", p, strings.Join(words, " "), err)
			continue
		}
		if !target.Runnable() {
			continue
		}
		if err := target.ValidateArgs(target.Flags().Args()); err != nil {
			t.Errorf("%s example %q: %v", p, strings.Join(words, " "), err)
		}
		if err := target.ValidateRequiredFlags(); err != nil {
			t.Errorf("%s example %q: %v", p, strings.Join(words, " "), err)
		}
		if err := target.ValidateFlagGroups(); err != nil {
			t.Errorf("%s example %q: %v", p, strings.Join(words, " "), err)
		}
	}
	if ofC == 0 {
		t.Errorf("%s: no example runs %s:\n%s", p, c.CommandPath(), c.Example)
	}
}

// groupsOf lists the flag groups of every flag c takes, sorted.
func groupsOf(c *cobra.Command) []string {
	set := map[string]bool{}
	visit := func(f *pflag.Flag) {
		for _, g := range f.Annotations[cliusage.FlagGroup] {
			set[g] = true
		}
	}
	c.LocalFlags().VisitAll(visit)
	c.InheritedFlags().VisitAll(visit)
	var out []string
	for g := range set {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

func lookup(c *cobra.Command, name string) *pflag.Flag {
	if f := c.LocalFlags().Lookup(name); f != nil {
		return f
	}
	return c.InheritedFlags().Lookup(name)
}

func sorted(in []string) []string {
	out := slices.Clone(in)
	sort.Strings(out)
	if out == nil {
		out = []string{}
	}
	return out
}
