package config

import (
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
)

// Reload actions for reload_service.
const (
	ActionReload          = "reload"
	ActionRestart         = "restart"
	ActionReloadOrRestart = "reload-or-restart"
)

// ReloadSignals are the signals reload_signal accepts: the ones servers
// use to reload (nginx HUP, Apache USR1, HAProxy USR2, ...).
var ReloadSignals = []string{"HUP", "USR1", "USR2", "INT", "TERM", "QUIT", "WINCH"}

// serviceNameRe is a systemd unit name ("nginx", "nginx.service",
// "getty@tty1.service") or a Windows service name.
var serviceNameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9:_.@\\-]{0,255}$`)

// DefaultReloadAction is reload_action's default: reload for systemd;
// Windows services can only be restarted.
func DefaultReloadAction() string {
	if runtime.GOOS == "windows" {
		return ActionRestart
	}
	return ActionReload
}

// ReloadMethods names the reload keys set in the block, in a fixed order.
func (c Certificate) ReloadMethods() []string {
	var out []string
	for _, m := range []struct {
		key string
		set bool
	}{
		{"reload", len(c.Reload) > 0},
		{"reload_shell", c.ReloadShell != ""},
		{"reload_service", c.ReloadService != ""},
		{"reload_pid_file", c.ReloadPIDFile != ""},
		{"reload_powershell", c.ReloadPowerShell != ""},
	} {
		if m.set {
			out = append(out, m.key)
		}
	}
	return out
}

func (c Certificate) validateReload(f string, v *validator) {
	if m := c.ReloadMethods(); len(m) > 1 {
		v.Conflict(f+".reload", "%s are set; set at most one way to reload", strings.Join(m, ", "))
	}
	if len(c.Reload) > 0 && strings.TrimSpace(c.Reload[0]) == "" {
		v.Required(f+".reload[0]", "the program to run")
	}
	windows := runtime.GOOS == "windows"
	if c.ReloadService != "" {
		if !serviceNameRe.MatchString(c.ReloadService) {
			v.Invalid(f+".reload_service", c.ReloadService, "want a service name of [A-Za-z0-9:_.@\\-], e.g. \"nginx.service\"")
		}
		switch a := c.ReloadAction; {
		case windows && a != ActionRestart:
			v.Invalid(f+".reload_action", a, "a Windows service can only be restarted; want %q", ActionRestart)
		case a != ActionReload && a != ActionRestart && a != ActionReloadOrRestart:
			v.Invalid(f+".reload_action", a, "want %s, %s or %s", ActionReload, ActionRestart, ActionReloadOrRestart)
		}
	} else if c.ReloadAction != "" {
		v.Conflict(f+".reload_action", "set without reload_service")
	}
	if c.ReloadPIDFile != "" {
		switch {
		case windows:
			v.Invalid(f+".reload_pid_file", nil, "signals are unix only; use reload_service or reload_powershell on Windows")
		case !filepath.IsAbs(c.ReloadPIDFile):
			v.Invalid(f+".reload_pid_file", c.ReloadPIDFile, "want an absolute path")
		}
		if !validSignal(c.ReloadSignal) {
			v.Invalid(f+".reload_signal", c.ReloadSignal, "want one of %s", strings.Join(ReloadSignals, ", "))
		}
	} else if c.ReloadSignal != "" {
		v.Conflict(f+".reload_signal", "set without reload_pid_file")
	}
	if c.ReloadPowerShell != "" && !windows {
		v.Invalid(f+".reload_powershell", nil, "PowerShell reloads are Windows only; use reload or reload_shell")
	}
}

func validSignal(s string) bool {
	for _, v := range ReloadSignals {
		if s == v {
			return true
		}
	}
	return false
}
