package cli

import (
	"os"
	"path/filepath"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/shared/svcctl"
)

// ServiceName is the hub's name in the service manager.
const ServiceName = "certfleet-hub"

// newService opens a service in the service manager; tests replace it.
var newService func(service.Interface, *service.Config) (service.Service, error)

// serviceDefinition describes the hub service: `run --config <abs path>`
// as userName, under the hardened unit.
func serviceDefinition(cfgPath, dataDir, userName string) *service.Config {
	abs, err := filepath.Abs(cfgPath)
	if err != nil {
		abs = cfgPath
	}
	args := []string{"run", "--config", abs}
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return &service.Config{
		Name:        ServiceName,
		DisplayName: "certfleet hub",
		Description: "certfleet hub: challenge DNS, ACME and NATS for a fleet of agents.",
		Arguments:   args,
		UserName:    userName,
		Option: service.KeyValue{
			// systemd: our own unit, since the library's has no hardening.
			"SystemdScript": SystemdUnit(exe, args, dataDir, userName),
			"Restart":       "on-failure",
			"LimitNOFILE":   65536,
		},
	}
}

func serviceCmd(g *globals) *cobra.Command {
	return svcctl.Command(svcctl.Spec{
		Name:        ServiceName,
		Binary:      "certfleet-hub",
		DefaultUser: DefaultServiceUser,
		ConfigPath:  DefaultConfigPath,
		Definition: func(userName string) (*service.Config, error) {
			cfg, err := g.loadConfig()
			if err != nil {
				return nil, err
			}
			return serviceDefinition(g.configPath, cfg.DataDir, userName), nil
		},
		New: newService,
	}, g.out)
}
