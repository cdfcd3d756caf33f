// Package cli is the certfleet-agent command line: run (foreground or
// under a service manager), enroll, status, renew, check-config, version
// and service install|uninstall|start|stop|restart|status.
package cli

import (
	"github.com/certfleet/certfleet/internal/cliusage"

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
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.Version = agent.Version()
	var cfgPath string
	root.PersistentFlags().StringVarP(&cfgPath, "config", "c", config.DefaultConfigPath(), "configuration file")
	c := &cmdEnv{Env: env, cfgPath: &cfgPath}
	root.AddCommand(
		c.runCommand(),
		c.enrollCommand(),
		c.statusCommand(),
		c.renewCommand(),
		c.checkConfigCommand(),
		c.inventoryCommand(),
		c.versionCommand(),
		c.exampleConfigCommand(),
		c.serviceCommand(),
	)
	return root
}

// cmdEnv is shared by the subcommands.
type cmdEnv struct {
	*Env
	cfgPath *string
}

// loadConfig reads the configuration and applies its log level.
func (c *cmdEnv) loadConfig() (config.Config, error) {
	cfg, err := config.Load(*c.cfgPath)
	if err != nil {
		return config.Config{}, err
	}
	c.setLevel(cfg.LogLevel)
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
