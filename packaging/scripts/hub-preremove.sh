#!/bin/sh
# certfleet-hub (deb prerm, rpm %preun): stop and disable on removal, not
# on upgrade (deb "remove", rpm 0 packages left).
set -e
case "$1" in
remove|0)
	if [ -d /run/systemd/system ]; then
		systemctl disable --now certfleet-hub.service >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
