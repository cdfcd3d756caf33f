package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/shared"
)

// VersionInfo is what `version --json` prints.
type VersionInfo struct {
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

func (c *cmdEnv) versionCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  certfleet-agent version\n  certfleet-agent version --json",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if asJSON {
				return cliusage.PrintJSON(c.Stdout, VersionInfo{Version: agent.Version(), Protocol: shared.ProtocolVersion,
					Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH})
			}
			fmt.Fprintf(c.Stdout, "certfleet-agent %s (protocol %d, %s, %s/%s)\n",
				agent.Version(), shared.ProtocolVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

func (c *cmdEnv) exampleConfigCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "example-config",
		Short:   "Print a commented example configuration",
		Example: "  certfleet-agent example-config > /etc/certfleet-agent/config.toml",
		Args:    cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(c.Stdout, config.ExampleConfig())
			return err
		},
	}
}
