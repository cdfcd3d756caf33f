#!/bin/sh
# certfleet-agent (deb postinst, rpm %post). Never starts the service: it
# must be enrolled and configured first. An upgrade restarts it if it runs.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	case "$1" in
	configure) [ -n "$2" ] && systemctl try-restart certfleet-agent.service || true ;;
	2) systemctl try-restart certfleet-agent.service || true ;;
	esac
fi
if [ ! -f /var/lib/certfleet-agent/enrollment.json ]; then
	echo "certfleet-agent: not enrolled and not started. Next: certfleet-agent enroll FILE; edit /etc/certfleet-agent/config.toml; then systemctl enable --now certfleet-agent"
fi
exit 0
