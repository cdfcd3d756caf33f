package cliusage

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func testRoot() *cobra.Command {
	root := &cobra.Command{Use: "tool", SilenceUsage: true, SilenceErrors: true}
	remove := &cobra.Command{Use: "remove NAME", Args: cobra.ExactArgs(1), RunE: func(*cobra.Command, []string) error { return nil }}
	renew := &cobra.Command{Use: "renew AGENT [CERT]", Args: cobra.RangeArgs(1, 2), RunE: func(*cobra.Command, []string) error { return nil }}
	fail := &cobra.Command{Use: "fail", Args: cobra.NoArgs, RunE: func(*cobra.Command, []string) error { return errors.New("the hub is down") }}
	var to string
	need := &cobra.Command{Use: "need", RunE: func(*cobra.Command, []string) error { return nil }}
	need.Flags().StringVar(&to, "to", "", "where")
	_ = need.MarkFlagRequired("to")
	root.AddCommand(remove, renew, fail, need)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	Mark(root)
	return root
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"ok", []string{"remove", "web1"}, 0, ""},
		{"missing argument", []string{"remove"}, ExitUsage, "missing NAME\nusage: tool remove NAME"},
		{"missing first of two", []string{"renew"}, ExitUsage, "missing AGENT\nusage: tool renew AGENT [CERT]"},
		{"extra argument", []string{"fail", "x"}, ExitUsage, "unexpected argument \"x\"\nusage: tool fail"},
		{"extra after optional", []string{"renew", "a", "b", "c"}, ExitUsage, "unexpected argument \"c\""},
		{"unknown flag", []string{"remove", "web1", "--nope"}, ExitUsage, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, ExitUsage, "unknown command"},
		{"required flag", []string{"need"}, ExitUsage, "required flag"},
		{"failure", []string{"fail"}, ExitFailure, "the hub is down"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := testRoot()
			root.SetArgs(tc.args)
			err := root.Execute()
			if got := ExitCode(err); got != tc.code {
				t.Fatalf("exit %d (%v), want %d", got, err, tc.code)
			}
			if tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
				t.Fatalf("error %v does not say %q", err, tc.says)
			}
		})
	}
}
