// Command certfleet-agent keeps this host's TLS certificates issued,
// installed and renewed by a certfleet hub. See `certfleet-agent --help`.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/certfleet/certfleet/agent/cli"
)

func main() {
	// Logging is set up here once; the level follows the configuration's
	// log_level and the output can move to a file for Windows services.
	level := new(slog.LevelVar)
	out := cli.NewLogOutput(os.Stderr)
	logger := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: level}))
	os.Exit(cli.Main(context.Background(), cli.Env{
		Logger:    logger,
		Level:     level,
		LogOutput: out,
	}, os.Args[1:]))
}
