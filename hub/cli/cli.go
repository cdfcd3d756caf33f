// Package cli is the certfleet-hub command line: init, run, and the admin
// commands that talk to a running hub over NATS with the admin credentials.
package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/config"
	"github.com/certfleet/certfleet/internal/cliusage"
	"github.com/certfleet/certfleet/internal/configfile"
	"github.com/certfleet/certfleet/shared"
)

// DefaultConfigPath is where the hub looks for its config without --config.
const DefaultConfigPath = "/etc/certfleet/hub.toml"

// Version is set by main from the build.
var Version = "dev"

type globals struct {
	configPath string
	natsURL    string
	creds      string
	caFile     string
	out        io.Writer
	errOut     io.Writer
	// dial, when set, replaces the admin connection (tests).
	dial func() (adminCaller, func(), error)
}

// NewRoot builds the command tree. run starts the hub for `run`; nil
// leaves that command out (tests of the admin commands).
func NewRoot(out, errOut io.Writer, run Runner) *cobra.Command {
	return newRoot(&globals{out: out, errOut: errOut}, run)
}

func newRoot(g *globals, run Runner) *cobra.Command {
	out, errOut := g.out, g.errOut
	root := &cobra.Command{
		Use:   "certfleet-hub",
		Short: "certfleet hub: challenge DNS, ACME and NATS for a fleet of agents",
		Example: `  certfleet-hub init --domain acme.example.org --public-ip 198.51.100.7 --email ops@example.org
  certfleet-hub run
  certfleet-hub agent add web1 --allow www.example.org
  certfleet-hub status --json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	root.Version = Version
	// Each flag is only on the commands that use it: the config file on
	// those that read it, the admin connection on those that talk to the
	// running hub over NATS.
	withConfig := func(c *cobra.Command) *cobra.Command { g.configFlag(c); return c }
	withAdmin := func(c *cobra.Command) *cobra.Command { g.configFlag(c); g.adminFlags(c); return c }
	root.AddCommand(
		withConfig(initCmd(g)), withConfig(checkConfigCmd(g)), withConfig(serviceCmd(g)),
		withAdmin(agentCmd(g)), withAdmin(domainCmd(g)), withAdmin(statusCmd(g)), withAdmin(auditCmd(g)),
		withAdmin(renewCmd(g)), withAdmin(certCmd(g)), withAdmin(acmednsCmd(g)), withAdmin(tsigCmd(g)), withAdmin(userCmd(g)),
		versionCmd(g), natsSetupCmd(g), relayCmd(g),
	)
	if run != nil {
		root.AddCommand(withConfig(runCmd(g, run)))
	}
	g.registerCompletions(root)
	setFleetExamples(root)
	cliusage.Finish(root)
	return root
}

// Flag groups (cliusage.FlagGroup).
const (
	groupConfig = "config"
	groupAdmin  = "admin"
)

// configFlag gives c and the commands below it --config.
func (g *globals) configFlag(c *cobra.Command) {
	def := os.Getenv("CERTFLEET_HUB_CONFIG")
	if def == "" {
		def = DefaultConfigPath
	}
	c.PersistentFlags().StringVarP(&g.configPath, "config", "c", def, "config file (env CERTFLEET_HUB_CONFIG)")
	cliusage.MarkFlags(c, true, groupConfig, "config")
}

// loadConfig loads and validates the config file, and logs once each old
// spelling it had to read (see config.Deprecations).
func (g *globals) loadConfig() (config.Config, error) {
	cfg, err := config.Load(g.configPath)
	if err != nil {
		return config.Config{}, err
	}
	configfile.LogDeprecated(g.logger(cfg), g.configPath, cfg.Deprecations())
	return cfg, nil
}

// logger is the process logger the config asks for, on errOut.
func (g *globals) logger(cfg config.Config) *slog.Logger {
	return NewLogger(g.errOut, cfg.SlogLevel(), cfg.LogFormat)
}

// NewLogger builds the process logger from the config's level and format.
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// VersionInfo is what `version --json` prints.
type VersionInfo struct {
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

func versionCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  certfleet-hub version\n  certfleet-hub version --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if asJSON {
				return printJSON(g, VersionInfo{Version: Version, Protocol: shared.ProtocolVersion, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH})
			}
			fmt.Fprintln(g.out, "certfleet-hub", Version)
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

// ConfigCheck is what `check-config --json` prints for a valid config.
type ConfigCheck struct {
	Config  string `json:"config"`
	OK      bool   `json:"ok"`
	DataDir string `json:"data_dir"`
	Zone    string `json:"zone"`
	// NATS is "embedded" or "external".
	NATS string   `json:"nats"`
	CAs  []string `json:"cas"`
}

func checkConfigCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "check-config",
		Short:   "Validate the config file and exit",
		Example: "  certfleet-hub check-config --config /etc/certfleet/hub.toml\n  certfleet-hub check-config --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			if asJSON {
				rep := ConfigCheck{Config: g.configPath, OK: true, DataDir: cfg.DataDir, Zone: cfg.DNS.Domain, NATS: "embedded"}
				if cfg.NATS.External != nil {
					rep.NATS = "external"
				}
				for _, ca := range cfg.CA {
					rep.CAs = append(rep.CAs, ca.Name)
				}
				return printJSON(g, rep)
			}
			fmt.Fprintln(g.out, g.configPath+": ok")
			return nil
		},
	}
	cliusage.JSONFlag(cmd, &asJSON)
	return cmd
}

// Execute runs the CLI and returns the process exit code; run starts the
// hub (see Runner).
func Execute(ctx context.Context, args []string, out, errOut io.Writer, run Runner) int {
	return execute(ctx, args, os.Stdin, out, errOut, run)
}

func execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer, run Runner) int {
	root := NewRoot(out, errOut, run)
	root.SetIn(in)
	cliusage.Mark(root)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(errOut, "certfleet-hub:", safeLines(err.Error()))
	}
	return cliusage.ExitCode(err)
}
