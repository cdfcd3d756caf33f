// Package svcctl is the `service install|uninstall|start|stop|restart|status`
// command shared by certfleet-agent and certfleet-hub, on top of
// kardianos/service, and the hardened systemd unit both install.
//
// The commands are idempotent: installing an installed service rewrites its
// definition (and restarts it if it was running, so the new definition
// applies), uninstalling a missing service says so and succeeds, starting a
// running or stopping a stopped service is no error.
package svcctl
