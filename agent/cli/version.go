package cli

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/shared"
)

func (c *cmdEnv) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(c.Stdout, "certfleet-agent %s (protocol %d, %s, %s/%s)\n",
				agent.Version(), shared.ProtocolVersion, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}

func (c *cmdEnv) exampleConfigCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "example-config",
		Short: "Print a commented example configuration",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprint(c.Stdout, config.ExampleConfig())
			return err
		},
	}
}
