package svcctl

import (
	"fmt"
	"strings"
)

// Unit is a hardened systemd service unit. Render writes every sandbox
// setting both binaries share; the fields carry what differs.
type Unit struct {
	// Header is written as "# " comment lines at the top.
	Header      []string
	Description string
	// Exec is ExecStart's argv; each word is quoted.
	Exec []string
	// User and Group to run as; empty means root.
	User, Group string
	// Caps is the capability bounding set; AmbientCaps are granted to a
	// non-root User.
	Caps, AmbientCaps []string
	// WriteDirs are the only paths the service may write (ReadWritePaths,
	// each optional so a missing directory is no error).
	WriteDirs []string
	// StateDirectory, when set, is created by systemd under /var/lib,
	// owned by User, mode 0700.
	StateDirectory string
	// TimeoutStop bounds a clean stop ("45s").
	TimeoutStop string
	// ProtectHome is "yes", "read-only" (the default) or "tmpfs".
	ProtectHome string
	// LimitNOFILE, when set, raises the open file limit.
	LimitNOFILE int
	// Extra are more [Service] lines, written after the shared ones.
	Extra []string
}

// Restart policy shared by both units: restart after a crash, but give
// up after StartLimitBurst failures in StartLimitIntervalSec so a broken
// configuration does not spin forever (`systemctl reset-failed` re-arms).
const (
	restartSec         = "10s"
	startLimitInterval = "10min"
	startLimitBurst    = 5
)

// Render returns the unit file text. It holds no template actions, so
// kardianos/service (which runs SystemdScript through its template
// engine) passes it through unchanged.
func (u Unit) Render() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	for _, h := range u.Header {
		w("%s", strings.TrimSpace("# "+h))
	}
	w("[Unit]")
	w("Description=%s", u.Description)
	w("Documentation=https://github.com/certfleet/certfleet")
	w("Wants=network-online.target")
	w("After=network-online.target")
	w("StartLimitIntervalSec=%s", startLimitInterval)
	w("StartLimitBurst=%d", startLimitBurst)
	w("")
	w("[Service]")
	w("Type=simple")
	if u.User != "" {
		w("User=%s", u.User)
		group := u.Group
		if group == "" {
			group = u.User
		}
		w("Group=%s", group)
	}
	argv := make([]string, len(u.Exec))
	for i, a := range u.Exec {
		argv[i] = Quote(a)
	}
	w("ExecStart=%s", strings.Join(argv, " "))
	w("Restart=on-failure")
	w("RestartSec=%s", restartSec)
	if u.TimeoutStop != "" {
		w("TimeoutStopSec=%s", u.TimeoutStop)
	}
	if u.LimitNOFILE > 0 {
		w("LimitNOFILE=%d", u.LimitNOFILE)
	}
	w("UMask=0077")
	if len(u.Caps) > 0 {
		w("CapabilityBoundingSet=%s", strings.Join(u.Caps, " "))
	} else {
		w("CapabilityBoundingSet=")
	}
	if len(u.AmbientCaps) > 0 {
		w("AmbientCapabilities=%s", strings.Join(u.AmbientCaps, " "))
	}
	w("NoNewPrivileges=yes")
	if u.StateDirectory != "" {
		w("StateDirectory=%s", u.StateDirectory)
		w("StateDirectoryMode=0700")
	}
	w("ProtectSystem=strict")
	if len(u.WriteDirs) > 0 {
		dirs := make([]string, len(u.WriteDirs))
		for i, d := range u.WriteDirs {
			// "-": a directory that does not exist yet is no error.
			dirs[i] = "-" + Quote(d)
		}
		w("ReadWritePaths=%s", strings.Join(dirs, " "))
	}
	if u.ProtectHome == "" {
		u.ProtectHome = "read-only"
	}
	w("ProtectHome=%s", u.ProtectHome)
	w("PrivateTmp=yes")
	w("PrivateDevices=yes")
	w("ProtectKernelTunables=yes")
	w("ProtectKernelModules=yes")
	w("ProtectKernelLogs=yes")
	w("ProtectControlGroups=yes")
	w("ProtectClock=yes")
	w("ProtectHostname=yes")
	w("RestrictSUIDSGID=yes")
	w("RestrictRealtime=yes")
	w("RestrictNamespaces=yes")
	w("LockPersonality=yes")
	w("RemoveIPC=yes")
	w("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6")
	w("SystemCallArchitectures=native")
	w("SystemCallFilter=@system-service")
	w("SystemCallErrorNumber=EPERM")
	for _, l := range u.Extra {
		w("%s", l)
	}
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String()
}

// Quote quotes one ExecStart or ReadWritePaths word: double quotes with
// C escapes, and "%" and "$" doubled so systemd does not expand them.
func Quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$", "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}
