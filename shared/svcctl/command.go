package svcctl

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/kardianos/service"
	"github.com/spf13/cobra"
)

// Spec is what the commands need to know about one service.
type Spec struct {
	// Name is the service's name in the service manager; Binary the
	// command name used in messages ("certfleet-agent").
	Name, Binary string
	// DefaultUser is --user's default; empty means root (LocalSystem on
	// Windows).
	DefaultUser string
	// ConfigPath is the binary's usual config file, for the examples.
	ConfigPath string
	// Definition builds the service definition from the --user value. It
	// reads the configuration, so a bad one is refused before anything is
	// installed.
	Definition func(user string) (*service.Config, error)
	// Program runs the service when the service manager starts it
	// in-process (Windows); the commands here never call it.
	Program service.Interface
	// New opens the service; nil means service.New. Tests replace it.
	New func(service.Interface, *service.Config) (service.Service, error)
}

// Command returns the `service` command with its six subcommands.
func Command(spec Spec, out io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Manage " + spec.Binary + " as a system service (systemd, Windows service, launchd, ...)",
		Example: fmt.Sprintf("  %[1]s service install --config %[2]s\n  %[1]s service start\n  %[1]s service status",
			spec.Binary, spec.ConfigPath),
	}
	var userName string
	open := func() (service.Service, error) {
		def, err := spec.Definition(userName)
		if err != nil {
			return nil, err
		}
		newSvc := spec.New
		if newSvc == nil {
			newSvc = service.New
		}
		prog := spec.Program
		if prog == nil {
			prog = noProgram{}
		}
		svc, err := newSvc(prog, def)
		if err != nil {
			return nil, fmt.Errorf("open service %s: %w", spec.Name, err)
		}
		return svc, nil
	}
	sub := func(use, short string, act func(*ctl) error) *cobra.Command {
		return &cobra.Command{
			Use:     use,
			Short:   short,
			Example: fmt.Sprintf("  %s service %s", spec.Binary, use),
			Args:    cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				svc, err := open()
				if err != nil {
					return err
				}
				return act(&ctl{spec: spec, svc: svc, out: out})
			},
		}
	}
	install := sub("install", "Install (or update) the service to run with --config FILE; starts nothing",
		func(c *ctl) error { return c.install(userName) })
	install.Flags().StringVar(&userName, "user", spec.DefaultUser, "system user the service runs as (empty: root / LocalSystem)")
	install.Example = fmt.Sprintf("  %[1]s service install --config %[2]s\n  %[1]s service install --config %[2]s --user root", spec.Binary, spec.ConfigPath)
	cmd.AddCommand(
		install,
		sub("uninstall", "Stop and remove the service", (*ctl).uninstall),
		sub("start", "Start the installed service", (*ctl).start),
		sub("stop", "Stop the service", (*ctl).stop),
		sub("restart", "Restart the service", (*ctl).restart),
		sub("status", "Show whether the service is installed and running", (*ctl).status),
	)
	return cmd
}

// noProgram stands in where only the service manager is talked to.
type noProgram struct{}

func (noProgram) Start(service.Service) error { return nil }
func (noProgram) Stop(service.Service) error  { return nil }

// state is what the service manager says about the service.
type state int

const (
	notInstalled state = iota
	stopped
	running
	// unknown: the manager gave no clear answer: a systemd unit in the
	// failed state (installed), or SysV's `service NAME status` failing
	// (usually: not installed). Actions are then tried and their own
	// errors tell.
	unknown
)

func (s state) String() string {
	return [...]string{"not installed", "stopped", "running", "state unknown"}[s]
}

type ctl struct {
	spec Spec
	svc  service.Service
	out  io.Writer
}

func (c *ctl) state() (state, error) {
	st, err := c.svc.Status()
	switch {
	case errors.Is(err, service.ErrNotInstalled):
		return notInstalled, nil
	case err != nil && c.svc.Platform() == "unix-systemv":
		// kardianos reads `service NAME status`, which exits 1 both for
		// a stopped service and for a missing one: the init script says
		// which.
		if _, serr := os.Stat("/etc/init.d/" + c.spec.Name); serr == nil {
			return stopped, nil
		}
		return notInstalled, nil
	case err != nil:
		return unknown, err
	case st == service.StatusRunning:
		return running, nil
	case st == service.StatusStopped:
		return stopped, nil
	}
	return unknown, nil
}

func (c *ctl) say(format string, a ...any) {
	fmt.Fprintf(c.out, "%s: %s (%s)\n", c.spec.Name, fmt.Sprintf(format, a...), c.svc.Platform())
}

func (c *ctl) install(userName string) error {
	if userName != "" && userName != "root" {
		if _, err := user.Lookup(userName); err != nil {
			return fmt.Errorf("service install: user %q: %w (create it first, e.g. useradd --system --shell /usr/sbin/nologin %s)", userName, err, userName)
		}
	}
	st, _ := c.state()
	if st == notInstalled || st == unknown {
		err := c.svc.Install()
		if err == nil {
			c.say("installed; start it with `%s service start`", c.spec.Binary)
			return nil
		}
		if st == notInstalled || !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("service install (%s): %w", c.svc.Platform(), err)
		}
		// Unknown state and the definition is there: update it.
	}
	// Installed already: write the definition again, so flags and
	// configuration changes (new certificate directories) apply. A unit
	// shipped by the package (/lib/systemd/system) has no file of ours
	// to remove; ours in /etc/systemd/system then takes precedence.
	if err := c.svc.Uninstall(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("service install: remove the old definition (%s): %w", c.svc.Platform(), err)
	}
	c.cleanSysV()
	if err := c.svc.Install(); err != nil {
		return fmt.Errorf("service install (%s): %w", c.svc.Platform(), err)
	}
	if st == running {
		if err := c.svc.Restart(); err != nil {
			return fmt.Errorf("service install: restart with the new definition (%s): %w", c.svc.Platform(), err)
		}
		c.say("was installed and running: definition updated, restarted")
		return nil
	}
	c.say("was installed: definition updated")
	return nil
}

func (c *ctl) uninstall() error {
	st, _ := c.state()
	if st == notInstalled {
		c.say("not installed, nothing to remove")
		return nil
	}
	if st != stopped {
		// Best effort: a unit that never started cannot be stopped, and
		// removal must proceed either way.
		_ = c.svc.Stop()
	}
	err := c.svc.Uninstall()
	switch {
	case errors.Is(err, fs.ErrNotExist) && st == unknown:
		c.say("not installed, nothing to remove")
		return nil
	case errors.Is(err, fs.ErrNotExist):
		// The unit is the package's, not one this command wrote.
		c.say("stopped and disabled; its unit belongs to the installed package, remove the package to remove it")
		return nil
	case err != nil:
		return fmt.Errorf("service uninstall (%s): %w", c.svc.Platform(), err)
	}
	c.cleanSysV()
	c.say("uninstalled")
	return nil
}

// cleanSysV removes the /etc/rcN.d links kardianos/service makes for a
// SysV service but leaves behind on uninstall, when they now dangle.
func (c *ctl) cleanSysV() {
	if c.svc.Platform() != "unix-systemv" {
		return
	}
	links, _ := filepath.Glob("/etc/rc[0-6].d/[SK][0-9][0-9]" + c.spec.Name)
	for _, l := range links {
		if _, err := os.Stat(l); errors.Is(err, fs.ErrNotExist) {
			_ = os.Remove(l)
		}
	}
}

func (c *ctl) notInstalled() error {
	return fmt.Errorf("service %s is not installed (%s): run `%s service install --config FILE` first",
		c.spec.Name, c.svc.Platform(), c.spec.Binary)
}

func (c *ctl) start() error {
	switch st, _ := c.state(); st {
	case notInstalled:
		return c.notInstalled()
	case running:
		c.say("already running")
		return nil
	}
	if err := c.svc.Start(); err != nil {
		return fmt.Errorf("service start (%s): %w", c.svc.Platform(), err)
	}
	c.say("started")
	return nil
}

func (c *ctl) stop() error {
	switch st, _ := c.state(); st {
	case notInstalled:
		return c.notInstalled()
	case stopped:
		c.say("already stopped")
		return nil
	}
	if err := c.svc.Stop(); err != nil {
		return fmt.Errorf("service stop (%s): %w", c.svc.Platform(), err)
	}
	c.say("stopped")
	return nil
}

func (c *ctl) restart() error {
	if st, _ := c.state(); st == notInstalled {
		return c.notInstalled()
	}
	if err := c.svc.Restart(); err != nil {
		return fmt.Errorf("service restart (%s): %w", c.svc.Platform(), err)
	}
	c.say("restarted")
	return nil
}

func (c *ctl) status() error {
	st, err := c.state()
	if err != nil {
		c.say("%s: %v", st, err)
		return nil
	}
	c.say("%s", st)
	return nil
}
