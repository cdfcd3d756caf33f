package cli

import (
	"fmt"
	"strings"
)

// SystemdUnit renders the hardened systemd unit for the agent. exe and
// args form ExecStart; writeDirs are the only places the agent may write
// (its state dir and the certificate files' directories); everything
// else is read-only to it.
//
// The unit is complete text, handed to kardianos/service as its
// SystemdScript: it holds no template actions, so the service library's
// template engine passes it through as is.
func SystemdUnit(exe string, args []string, writeDirs []string) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# Written by `certfleet-agent service install`.")
	w("#")
	w("# The agent may write only to its state dir and to the directories of the")
	w("# certificate files in its configuration (ReadWritePaths below). Reload")
	w("# commands run inside this sandbox too: reload services through systemctl,")
	w("# which acts outside it. After adding certificate paths in new directories,")
	w("# reinstall the service (service uninstall, then service install) or add")
	w("# them with `systemctl edit certfleet-agent`.")
	w("[Unit]")
	w("Description=certfleet agent: keeps this host's TLS certificates issued and renewed")
	w("Documentation=https://github.com/certfleet/certfleet")
	w("Wants=network-online.target")
	w("After=network-online.target")
	w("StartLimitIntervalSec=0")
	w("")
	w("[Service]")
	w("Type=simple")
	argv := make([]string, 0, len(args)+1)
	for _, a := range append([]string{exe}, args...) {
		argv = append(argv, systemdQuote(a))
	}
	w("ExecStart=%s", strings.Join(argv, " "))
	w("Restart=always")
	w("RestartSec=10s")
	w("TimeoutStopSec=45s")
	w("UMask=0077")
	w("NoNewPrivileges=yes")
	w("ProtectSystem=strict")
	if len(writeDirs) > 0 {
		dirs := make([]string, len(writeDirs))
		for i, d := range writeDirs {
			// "-": a directory that does not exist yet is no error.
			dirs[i] = "-" + systemdQuote(d)
		}
		w("ReadWritePaths=%s", strings.Join(dirs, " "))
	}
	w("ProtectHome=read-only")
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
	w("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6")
	w("SystemCallArchitectures=native")
	w("SystemCallFilter=@system-service")
	w("SystemCallErrorNumber=EPERM")
	w("CapabilityBoundingSet=CAP_CHOWN CAP_FOWNER CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_KILL")
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String()
}

// systemdQuote quotes one ExecStart word: double quotes with C escapes,
// and "%" and "$" doubled so systemd does not expand them.
func systemdQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "%", "%%", "$", "$$", "\n", `\n`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}
