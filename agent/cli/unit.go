package cli

import (
	"github.com/certfleet/certfleet/shared/svcctl"
)

// agentCaps is the agent's capability bounding set: what installing files
// for other services and reloading them needs, nothing else.
//   - CAP_CHOWN: give cert and key files their configured owner/group;
//   - CAP_FOWNER: set modes on files another user owns;
//   - CAP_DAC_OVERRIDE: write into a service's own certificate directory;
//   - CAP_KILL: signal a service running as another user (pid_file reload).
//
// `systemctl reload|restart` needs none: it asks PID 1 over D-Bus.
var agentCaps = []string{"CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE", "CAP_KILL"}

// SystemdUnit renders the hardened systemd unit for the agent. exe and
// args form ExecStart; writeDirs are the only places the agent may write
// (its state dir and the certificate files' directories); everything
// else is read-only to it. userName empty means root, which the agent
// needs to give files to other users and reload their services; a
// dedicated user must own the write dirs and reload through sudo/polkit.
func SystemdUnit(exe string, args []string, writeDirs []string, userName string) string {
	u := svcctl.Unit{
		Header: []string{
			"Written by `certfleet-agent service install` (or shipped by the package).",
			"",
			"The agent may write only to its state dir and to the directories of the",
			"certificate files in its configuration (ReadWritePaths below). Reload",
			"commands run inside this sandbox too: reload services through systemctl,",
			"which acts outside it. After adding certificate paths in new directories,",
			"run `certfleet-agent service install` again, or add them with",
			"`systemctl edit certfleet-agent` (ReadWritePaths=...).",
		},
		Description: "certfleet agent: keeps this host's TLS certificates issued and renewed",
		Exec:        append([]string{exe}, args...),
		User:        userName,
		Caps:        agentCaps,
		WriteDirs:   writeDirs,
		TimeoutStop: "45s",
	}
	if userName == "root" {
		u.User = ""
	}
	return u.Render()
}
