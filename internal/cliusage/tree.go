package cliusage

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// FlagGroup is the pflag annotation that names the group a flag belongs
// to, so a test can check that each group appears exactly on the commands
// that use it (the admin connection only on admin commands, say).
const FlagGroup = "certfleet_flag_group"

// ArgsAreFiles is the command annotation of a command whose positional
// arguments are file names: the shell completes files for it, and for no
// other command.
const ArgsAreFiles = "certfleet_args_are_files"

// MarkFlags puts the named flags of c (its persistent ones, or its local
// ones) into group.
func MarkFlags(c *cobra.Command, persistent bool, group string, names ...string) {
	fs := c.Flags()
	if persistent {
		fs = c.PersistentFlags()
	}
	for _, n := range names {
		if err := fs.SetAnnotation(n, FlagGroup, []string{group}); err != nil {
			panic(fmt.Sprintf("cliusage: %s: %v", c.CommandPath(), err)) // a programming mistake
		}
	}
}

// Walk calls fn for c and every command below it.
func Walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		Walk(sub, fn)
	}
}

// Finish completes a binary's command tree: cobra's help and completion
// commands are added now rather than at Execute (so the tree a test walks
// is the tree a user gets) and given examples, and every command whose
// arguments are not files completes no file names.
func Finish(root *cobra.Command) {
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	bin := root.Name()
	for _, c := range root.Commands() {
		switch c.Name() {
		case "help":
			c.Example = fmt.Sprintf("  %s help\n  %s help completion", bin, bin)
		case "completion":
			c.Example = fmt.Sprintf("  source <(%[1]s completion bash)\n  %[1]s completion zsh > \"${fpath[1]}/_%[1]s\"", bin)
			for _, sh := range c.Commands() {
				sh.Example = completionExample(bin, sh.Name())
			}
		}
	}
	Walk(root, func(c *cobra.Command) {
		if c.ValidArgsFunction == nil && c.Annotations[ArgsAreFiles] == "" {
			c.ValidArgsFunction = cobra.NoFileCompletions
		}
	})
}

func completionExample(bin, shell string) string {
	lines := map[string][]string{
		"bash": {
			"source <(%[1]s completion bash)                              # this shell",
			"%[1]s completion bash > /etc/bash_completion.d/%[1]s   # every new shell",
		},
		"zsh": {
			"%[1]s completion zsh > \"${fpath[1]}/_%[1]s\"   # then start a new shell",
		},
		"fish": {
			"%[1]s completion fish > ~/.config/fish/completions/%[1]s.fish",
		},
		"powershell": {
			"%[1]s completion powershell | Out-String | Invoke-Expression",
		},
	}[shell]
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("  " + fmt.Sprintf(l, bin))
	}
	return b.String()
}
