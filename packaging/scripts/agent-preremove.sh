#!/bin/sh
# certfleet-agent (deb prerm, rpm %preun): stop and disable on removal.
set -e
case "$1" in
remove|0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now certfleet-agent.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
