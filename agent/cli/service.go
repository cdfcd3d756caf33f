package cli

import (
	"os"
	"path/filepath"
	"runtime"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/shared/svcctl"
)

// ServiceName is the agent's name in the service manager.
const ServiceName = "certfleet-agent"

// serviceConfig describes the agent service: `run --config <abs path>`,
// a hardened systemd unit, restart on failure on every platform.
func (c *cmdEnv) serviceConfig(cfgPath string, cfg config.Config, userName string) *service.Config {
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
		UserName:    userName,
		Option: service.KeyValue{
			// systemd: our own unit, since the library's has no hardening.
			"SystemdScript": SystemdUnit(exe, args, cfg.Dirs(), userName),
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
			"Restart": "on-failure",
		},
	}
	if runtime.GOOS == "windows" {
		sc.Dependencies = []string{"Tcpip"}
	}
	return sc
}

func (c *cmdEnv) serviceCommand() *cobra.Command {
	return svcctl.Command(svcctl.Spec{
		Name:       ServiceName,
		Binary:     "certfleet-agent",
		ConfigPath: config.DefaultConfigPath(),
		Definition: func(userName string) (*service.Config, error) {
			cfg, err := c.loadConfig()
			if err != nil {
				return nil, err
			}
			return c.serviceConfig(*c.cfgPath, cfg, userName), nil
		},
		Program: &program{env: c.Env},
		New:     c.NewService,
	}, c.Stdout)
}
