package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
)

func (c *cmdEnv) enrollCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "enroll FILE|TOKEN",
		Short: "Store the enrollment bundle from the hub (a file or a cfenroll1_ token)",
		Long: `enroll stores the enrollment bundle the hub's operator gave you: the hub's
NATS addresses, its CA, and this agent's credentials. They are written to the
state dir (enrollment.json and agent.creds, mode 0600, directory 0700).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := c.loadConfigOrDefault(cmd.Flags().Changed("config"))
			if err != nil {
				return err
			}
			e, err := agent.ReadEnrollmentArg(args[0])
			if err != nil {
				return err
			}
			if err := agent.Enroll(cfg, e, force); err != nil {
				return err
			}
			fmt.Fprintf(c.Stdout, "enrolled as agent %q with hub %v; state dir %s\n", e.AgentID, e.URLs, cfg.StateDir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an enrollment for another agent id")
	return cmd
}
