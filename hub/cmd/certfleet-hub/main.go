// Command certfleet-hub runs the certfleet hub and administers it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/certfleet/certfleet/hub/cli"
	"github.com/certfleet/certfleet/hub/service"
)

var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cli.Version = version
	// The command tree knows the hub only through service.Run, so the admin
	// CLI does not depend on the hub's server.
	os.Exit(cli.Execute(ctx, os.Args[1:], os.Stdout, os.Stderr, service.Run))
}
