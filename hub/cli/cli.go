// Package cli is the certfleet-hub command line: init, run, and the admin
// commands that talk to a running hub over NATS with the admin credentials.
package cli

import (
	"github.com/certfleet/certfleet/internal/cliusage"

	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/hub/config"
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
}

// NewRoot builds the command tree.
func NewRoot(out, errOut io.Writer) *cobra.Command {
	g := &globals{out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "certfleet-hub",
		Short:         "certfleet hub: challenge DNS, ACME and NATS for a fleet of agents",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(out)
	root.SetErr(errOut)
	def := os.Getenv("CERTFLEET_HUB_CONFIG")
	if def == "" {
		def = DefaultConfigPath
	}
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", def, "config file (env CERTFLEET_HUB_CONFIG)")
	// The admin connection's settings also come from the environment, as
	// the nats CLI's do, so an operator sets them once per shell.
	root.PersistentFlags().StringVar(&g.natsURL, "nats-url", os.Getenv("NATS_URL"), "hub NATS URL for admin commands (env NATS_URL; default: nats.external.urls, else from the running hub's run file)")
	root.PersistentFlags().StringVar(&g.creds, "creds", os.Getenv("CERTFLEET_CREDS"), "admin credentials file (env CERTFLEET_CREDS; default: <data_dir>/nats/admin.creds, else admin.creds next to nats.external.credentials)")
	root.PersistentFlags().StringVar(&g.caFile, "ca", os.Getenv("CERTFLEET_CA"), "CA bundle for the hub's NATS TLS (env CERTFLEET_CA; default: <data_dir>/tls/ca.pem)")
	root.Version = Version
	root.AddCommand(initCmd(g), runCmd(g), agentCmd(g), domainCmd(g), statusCmd(g), auditCmd(g), renewCmd(g), checkConfigCmd(g), versionCmd(g), natsSetupCmd(g), acmednsCmd(g), tsigCmd(g), relayCmd(g), userCmd(g), serviceCmd(g))
	return root
}

func (g *globals) loadConfig() (config.Config, error) {
	return config.Load(g.configPath)
}

// NewLogger builds the process logger from the config's level and format.
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(g.out, "certfleet-hub", Version)
			return nil
		},
	}
}

func checkConfigCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "check-config",
		Short: "Validate the config file and exit",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := g.loadConfig(); err != nil {
				return err
			}
			fmt.Fprintln(g.out, g.configPath+": ok")
			return nil
		},
	}
}

// Execute runs the CLI and returns the process exit code.
func Execute(ctx context.Context, args []string, out, errOut io.Writer) int {
	root := NewRoot(out, errOut)
	cliusage.Mark(root)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(errOut, "certfleet-hub:", safeLines(err.Error()))
	}
	return cliusage.ExitCode(err)
}
