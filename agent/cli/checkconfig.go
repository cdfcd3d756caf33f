package cli

import (
	"errors"
	"fmt"
	"os/exec"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/internal/fsutil"
)

func (c *cmdEnv) checkConfigCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "Check the configuration (and that owners, groups and reload programs exist)",
		Args:  cobra.NoArgs,
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
			var enrolled string
			if e, err := agent.LoadEnrollment(cfg.EnrollmentPath()); err != nil {
				enrolled = "not enrolled yet (" + err.Error() + ")"
			} else {
				enrolled = fmt.Sprintf("enrolled as %q", e.AgentID)
			}
			fmt.Fprintf(c.Stdout, "%s: ok; %d certificate block(s); state dir %s; %s\n",
				*c.cfgPath, len(cfg.Certificates), cfg.StateDir, enrolled)
			return nil
		},
	}
}
