// Command certfleet-hub runs the certfleet hub and administers it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/certfleet/certfleet/hub/cli"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cli.Version = version
	os.Exit(cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
