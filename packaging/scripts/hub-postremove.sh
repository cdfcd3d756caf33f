#!/bin/sh
# certfleet-hub (deb postrm, rpm %postun). Purge (deb) deletes the data
# dir (NATS operator keys, credentials, CA, JetStream state), the config
# and the system user; plain removal keeps them.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/certfleet-hub /etc/certfleet
	if getent passwd certfleet >/dev/null; then
		userdel certfleet || true
	fi
	if getent group certfleet >/dev/null; then
		groupdel certfleet || true
	fi
fi
exit 0
