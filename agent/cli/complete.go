package cli

import (
	"sort"
	"strings"

	"github.com/spf13/cobra"
)

// completeBlocks completes the one argument that names a certificate
// block, from the configuration; an unreadable one offers nothing.
func (c *cmdEnv) completeBlocks(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := c.loadConfig()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, b := range cfg.Certificates {
		if strings.HasPrefix(b.Name, toComplete) {
			out = append(out, cobra.CompletionWithDesc(b.Name, strings.Join(b.Names, ",")))
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
