package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"

	"github.com/certfleet/certfleet/agent"
)

// stopTimeout bounds how long a service stop waits for the agent.
const stopTimeout = 30 * time.Second

func (c *cmdEnv) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Run the agent in the foreground (also what the service runs)",
		Long: `run keeps the configured certificates issued, installed and renewed until it
gets SIGINT or SIGTERM, logging to standard error. Under a service manager
it runs as the service.`,
		Example: "  certfleet-agent run --config /etc/certfleet-agent/config.toml",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.loadConfig()
			if err != nil {
				return err
			}
			if service.Interactive() {
				a, err := agent.New(cfg, agent.Options{Logger: c.Logger})
				if err != nil {
					return err
				}
				ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
				defer stop()
				return a.Run(ctx)
			}
			p := &program{env: c.Env}
			svc, err := service.New(p, c.serviceConfig(*c.cfgPath, cfg, ""))
			if err != nil {
				return fmt.Errorf("service: %w", err)
			}
			logger := c.Logger
			if runtime.GOOS == "windows" {
				// A Windows service has no console: logs go to a file,
				// warnings and errors also to the event log.
				if c.LogOutput != nil {
					if err := c.LogOutput.ToFile(filepath.Join(cfg.StateDir, "agent.log")); err != nil {
						return err
					}
					defer c.LogOutput.Close()
				}
				if el, err := svc.Logger(nil); err == nil {
					logger = slog.New(eventLogHandler{next: logger.Handler(), log: el})
					p.events = el
				}
			}
			p.logger = logger
			a, err := agent.New(cfg, agent.Options{Logger: logger})
			if err != nil {
				return err
			}
			p.agent = a
			return svc.Run()
		},
	}
}

// program adapts the agent to the service manager's Start/Stop.
type program struct {
	agent  *agent.Agent
	env    *Env
	events service.Logger // the event log on Windows; nil elsewhere
	logger *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}
}

func (p *program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	if p.events != nil {
		_ = p.events.Info("certfleet-agent " + agent.Version() + " started")
	}
	go func() {
		defer close(p.done)
		if err := p.agent.Run(ctx); err != nil && ctx.Err() == nil {
			// Exit non-zero so the service manager's restart policy
			// applies; the service has no other way to report it.
			logger := p.logger
			if logger == nil {
				logger = p.env.Logger
			}
			logger.Error("agent failed", "err", err)
			p.env.Exit(1)
		}
	}()
	return nil
}

func (p *program) Stop(service.Service) error {
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	select {
	case <-p.done:
		if p.events != nil {
			_ = p.events.Info("certfleet-agent stopped")
		}
		return nil
	case <-time.After(stopTimeout):
		return fmt.Errorf("agent did not stop within %s", stopTimeout)
	}
}
