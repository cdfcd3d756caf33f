package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// Enrolled is what `enroll --json` prints.
type Enrolled struct {
	Agent    string   `json:"agent"`
	URLs     []string `json:"urls"`
	StateDir string   `json:"state_dir"`
}

func (c *cmdEnv) enrollCommand() *cobra.Command {
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "enroll FILE|TOKEN",
		Short: "Store the enrollment bundle from the hub (a file or a cfenroll1_ token)",
		Long: `enroll stores the enrollment bundle the hub's operator gave you: the hub's
NATS addresses, its CA, and this agent's credentials. They are written to the
state dir (enrollment.json and agent.creds, mode 0600, directory 0700).`,
		Example: `  certfleet-agent enroll web1.enroll.json
  certfleet-agent enroll --config /etc/certfleet-agent/config.toml "$(cat web1.token)" --json`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{cliusage.ArgsAreFiles: "FILE"},
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
			if asJSON {
				return cliusage.PrintJSON(c.Stdout, Enrolled{Agent: e.AgentID, URLs: e.URLs, StateDir: cfg.StateDir})
			}
			fmt.Fprintf(c.Stdout, "enrolled as agent %q with hub %v; state dir %s\n", e.AgentID, e.URLs, cfg.StateDir)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace an enrollment for another agent id")
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}
