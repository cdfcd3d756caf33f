package cli

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/internal/fsutil"
	"github.com/certfleet/certfleet/internal/cliusage"
)

// ConfigCheck is what `check-config --json` prints for a valid
// configuration.
type ConfigCheck struct {
	Config       string `json:"config"`
	OK           bool   `json:"ok"`
	Certificates int    `json:"certificates"`
	StateDir     string `json:"state_dir"`
	Enrolled     bool   `json:"enrolled"`
	// Agent is the enrolled agent's id; EnrollmentError says why there is
	// none.
	Agent           string `json:"agent,omitempty"`
	EnrollmentError string `json:"enrollment_error,omitempty"`
}

func (c *cmdEnv) checkConfigCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check-config",
		Short: "Check the configuration (and that owners, groups and reload programs exist)",
		Example: `  certfleet-agent check-config --config /etc/certfleet-agent/config.toml
  certfleet-agent check-config --json`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			var errs []error
			for i, b := range cfg.Certificates {
				if _, err := fsutil.Resolve(fsutil.Owner{User: b.Owner, Group: b.Group}); err != nil {
					errs = append(errs, fmt.Errorf("certificate[%d] (%s): %w", i, b.Name, err))
				}
				if len(b.Reload) > 0 {
					if _, err := exec.LookPath(b.Reload[0]); err != nil {
						errs = append(errs, fmt.Errorf("certificate[%d].reload (%s): %w", i, b.Name, err))
					}
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			rep := ConfigCheck{Config: *c.cfgPath, OK: true, Certificates: len(cfg.Certificates), StateDir: cfg.StateDir}
			enrolled := ""
			if e, err := agent.LoadEnrollment(cfg.EnrollmentPath()); err != nil {
				rep.EnrollmentError = err.Error()
				enrolled = "not enrolled yet (" + err.Error() + ")"
			} else {
				rep.Enrolled, rep.Agent = true, e.AgentID
				enrolled = fmt.Sprintf("enrolled as %q", e.AgentID)
			}
			if asJSON {
				return cliusage.PrintJSON(c.Stdout, rep)
			}
			fmt.Fprintf(c.Stdout, "%s: ok; %d certificate block(s); state dir %s; %s\n",
				*c.cfgPath, len(cfg.Certificates), cfg.StateDir, enrolled)
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}
