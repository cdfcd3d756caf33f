package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent/config"
)

// ServiceName is the agent's name in the service manager.
const ServiceName = "certfleet-agent"

// serviceConfig describes the agent service: `run --config <abs path>`,
// a hardened systemd unit, restart on failure on every platform.
func (c *cmdEnv) serviceConfig(cfgPath string, cfg config.Config) *service.Config {
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		abs = cfgPath
	}
	args := []string{"run", "--config", abs}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	sc := &service.Config{
		Name:        ServiceName,
		DisplayName: "certfleet agent",
		Description: "Keeps this host's TLS certificates issued, installed and renewed by a certfleet hub.",
		Arguments:   args,
		Option: service.KeyValue{
			// systemd: our own unit, since the library's has no hardening.
			"SystemdScript": SystemdUnit(exe, args, cfg.Dirs()),
			// Windows: the library sets recovery actions only when asked.
			// Its option-name constants exist only in Windows builds, so
			// the keys are spelled out.
			"OnFailure":              "restart",
			"OnFailureDelayDuration": "10s",
			"OnFailureResetPeriod":   86400,
			"StartType":              "automatic",
			"DelayedAutoStart":       true,
			// launchd.
			"KeepAlive": true,
			"RunAtLoad": true,
			// Other init systems.
			"Restart": "always",
		},
	}
	if runtime.GOOS == "windows" {
		sc.Dependencies = []string{"Tcpip"}
	}
	return sc
}

func (c *cmdEnv) serviceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Manage the agent as a system service (systemd, Windows service, launchd, ...)",
	}
	action := func(name, short string, f func(service.Service) error, done string) *cobra.Command {
		return &cobra.Command{
			Use:   name,
			Short: short,
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				cfg, err := c.loadConfig()
				if err != nil {
					return err
				}
				svc, err := service.New(&program{env: c.Env}, c.serviceConfig(*c.cfgPath, cfg))
				if err != nil {
					return fmt.Errorf("service: %w", err)
				}
				if err := f(svc); err != nil {
					return fmt.Errorf("service %s (%s): %w", name, svc.Platform(), err)
				}
				fmt.Fprintf(c.Stdout, "%s: %s (%s)\n", ServiceName, done, svc.Platform())
				return nil
			},
		}
	}
	cmd.AddCommand(
		action("install", "Install the service to run `certfleet-agent run --config FILE`",
			func(s service.Service) error { return s.Install() }, "installed"),
		action("uninstall", "Remove the service", func(s service.Service) error {
			_ = s.Stop()
			return s.Uninstall()
		}, "uninstalled"),
		action("start", "Start the service", func(s service.Service) error { return s.Start() }, "started"),
		action("stop", "Stop the service", func(s service.Service) error { return s.Stop() }, "stopped"),
		action("restart", "Restart the service", func(s service.Service) error { return s.Restart() }, "restarted"),
		&cobra.Command{
			Use:   "status",
			Short: "Show whether the service is installed and running",
			Args:  cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				cfg, err := c.loadConfig()
				if err != nil {
					return err
				}
				svc, err := service.New(&program{env: c.Env}, c.serviceConfig(*c.cfgPath, cfg))
				if err != nil {
					return fmt.Errorf("service: %w", err)
				}
				st, err := svc.Status()
				switch {
				case errors.Is(err, service.ErrNotInstalled):
					fmt.Fprintf(c.Stdout, "%s: not installed (%s)\n", ServiceName, svc.Platform())
					return nil
				case err != nil:
					return fmt.Errorf("service status (%s): %w", svc.Platform(), err)
				}
				text := map[service.Status]string{service.StatusRunning: "running", service.StatusStopped: "stopped"}[st]
				if text == "" {
					text = "unknown"
				}
				fmt.Fprintf(c.Stdout, "%s: %s (%s)\n", ServiceName, text, svc.Platform())
				return nil
			},
		},
	)
	return cmd
}
