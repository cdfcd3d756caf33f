package cli

import (
	"path/filepath"
	"strings"

	"github.com/certfleet/certfleet/shared/svcctl"
)

// DefaultServiceUser is the system user the hub's service runs as.
const DefaultServiceUser = "certfleet"

// SystemdUnit renders the hardened systemd unit for the hub: exe and
// args form ExecStart, dataDir is the only place it writes. As a
// dedicated user it keeps only CAP_NET_BIND_SERVICE (DNS on port 53);
// as root it keeps that capability and nothing else.
func SystemdUnit(exe string, args []string, dataDir, userName string) string {
	if userName == "root" {
		userName = ""
	}
	u := svcctl.Unit{
		Header: []string{
			"Written by `certfleet-hub service install` (or shipped by the package).",
			"The hub writes only to its data_dir; it binds port 53 with CAP_NET_BIND_SERVICE.",
		},
		Description: "certfleet hub (challenge DNS, ACME, NATS)",
		Exec:        append([]string{exe}, args...),
		User:        userName,
		Caps:        []string{"CAP_NET_BIND_SERVICE"},
		ProtectHome: "yes",
		// A clean stop finishes in-flight orders; give it time.
		TimeoutStop: "120s",
		LimitNOFILE: 65536,
		Extra: []string{
			"ProtectProc=invisible",
			"ProcSubset=pid",
			"MemoryDenyWriteExecute=yes",
			"SystemCallFilter=~@privileged @resources",
		},
	}
	if userName != "" {
		u.AmbientCaps = []string{"CAP_NET_BIND_SERVICE"}
	}
	// Under /var/lib systemd creates the data dir owned by the service
	// user, 0700; elsewhere it must exist and is opened for writing.
	if rel, ok := strings.CutPrefix(filepath.Clean(dataDir), "/var/lib/"); ok && rel != "" {
		u.StateDirectory = rel
	} else {
		u.WriteDirs = []string{dataDir}
	}
	return u.Render()
}
