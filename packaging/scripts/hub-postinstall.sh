#!/bin/sh
# certfleet-hub (deb postinst, rpm %post). Never starts the service: it
# needs `certfleet-hub init` first. An upgrade restarts it if it runs.
set -e
# Package managers unpack these as root:root; the service user must own
# its data dir and read its config dir (not recursive: init's files keep
# their modes and owners).
chown certfleet:certfleet /var/lib/certfleet-hub
chown root:certfleet /etc/certfleet
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	case "$1" in
	configure) [ -n "$2" ] && systemctl try-restart certfleet-hub.service || true ;; # deb upgrade: $2 = old version
	2) systemctl try-restart certfleet-hub.service || true ;;                        # rpm upgrade
	esac
fi
if [ ! -f /etc/certfleet/hub.toml ]; then
	echo "certfleet-hub: not configured and not started. Next: certfleet-hub init --config /etc/certfleet/hub.toml --domain ...; then systemctl enable --now certfleet-hub"
fi
exit 0
