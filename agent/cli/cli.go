// Package cli is the certfleet-agent command line: run (foreground or
// under a service manager), enroll, status, renew, check-config, version
// and service install|uninstall|start|stop|restart|status.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
	"github.com/certfleet/certfleet/agent/config"
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/internal/configfile"
)

// Env is what the commands work with; main builds it once.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Logger         *slog.Logger
	// Level is the log level, set from the configuration's log_level.
	Level *slog.LevelVar
	// LogOutput, when set, lets `run` under the Windows service manager
	// send logs to a file (services have no console).
	LogOutput *LogOutput
	// Exit ends the process; a service whose agent fails uses it so the
	// service manager restarts it. Default os.Exit.
	Exit func(int)
	// NewService opens a service in the service manager; nil means
	// kardianos/service's New. Tests put a fake manager here.
	NewService func(service.Interface, *service.Config) (service.Service, error)
}

func (e *Env) fill() {
	if e.Stdin == nil {
		e.Stdin = os.Stdin
	}
	if e.Stdout == nil {
		e.Stdout = os.Stdout
	}
	if e.Stderr == nil {
		e.Stderr = os.Stderr
	}
	if e.Level == nil {
		e.Level = new(slog.LevelVar)
	}
	if e.Logger == nil {
		e.Logger = slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: e.Level}))
	}
	if e.Exit == nil {
		e.Exit = os.Exit
	}
}

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, env Env, args []string) int {
	env.fill()
	cmd := NewCommand(&env)
	cliusage.Mark(cmd)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintf(env.Stderr, "certfleet-agent: %v\n", err)
	}
	return cliusage.ExitCode(err)
}

// NewCommand builds the command tree.
func NewCommand(env *Env) *cobra.Command {
	env.fill()
	root := &cobra.Command{
		Use:   "certfleet-agent",
		Short: "Keep this host's TLS certificates issued, installed and renewed by a certfleet hub",
		Long: `certfleet-agent makes private keys on this host, asks its certfleet hub for
certificates over NATS, installs them atomically, reloads the services that
use them (rolling back if a reload fails) and renews them before they expire.`,
		Example: `  certfleet-agent enroll web1.enroll.json
  certfleet-agent example-config > /etc/certfleet-agent/config.toml
  certfleet-agent service install --config /etc/certfleet-agent/config.toml
  certfleet-agent status`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.Version = agent.Version()
	var cfgPath string
	c := &cmdEnv{Env: env, cfgPath: &cfgPath}
	// --config only on the commands that read the configuration.
	withConfig := func(cmd *cobra.Command) *cobra.Command {
		cmd.PersistentFlags().StringVarP(&cfgPath, "config", "c", config.DefaultConfigPath(), "configuration file")
		cliusage.MarkFlags(cmd, true, GroupConfig, "config")
		return cmd
	}
	root.AddCommand(
		withConfig(c.runCommand()),
		withConfig(c.enrollCommand()),
		withConfig(c.statusCommand()),
		withConfig(c.renewCommand()),
		withConfig(c.checkConfigCommand()),
		withConfig(c.serviceCommand()),
		withConfig(c.inventoryCommand()),
		c.versionCommand(),
		c.exampleConfigCommand(),
	)
	cliusage.Finish(root)
	return root
}

// GroupConfig is the flag group (cliusage.FlagGroup) of --config.
const GroupConfig = "config"

// cmdEnv is shared by the subcommands.
type cmdEnv struct {
	*Env
	cfgPath *string
}

// loadConfig reads the configuration, applies its log level and logs
// once each old spelling it had to read (see config.Deprecations).
func (c *cmdEnv) loadConfig() (config.Config, error) {
	cfg, err := config.Load(*c.cfgPath)
	if err != nil {
		return config.Config{}, err
	}
	c.setLevel(cfg.LogLevel)
	configfile.LogDeprecated(c.Logger, *c.cfgPath, cfg.Deprecations())
	return cfg, nil
}

// loadConfigOrDefault is loadConfig, except that a missing file at the
// default path yields the defaults (enroll works before a configuration
// is written).
func (c *cmdEnv) loadConfigOrDefault(explicit bool) (config.Config, error) {
	cfg, err := c.loadConfig()
	if err != nil && !explicit && errors.Is(err, os.ErrNotExist) {
		return config.DefaultConfig(), nil
	}
	return cfg, err
}

func (c *cmdEnv) setLevel(level string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err == nil {
		c.Level.Set(l)
	}
}
