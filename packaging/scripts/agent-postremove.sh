#!/bin/sh
# certfleet-agent (deb postrm, rpm %postun). Purge (deb) deletes the state
# dir (private keys, enrollment, NATS credentials) and the config dir; the
# certificates it installed elsewhere stay, /etc/ssl/certfleet is removed
# only if empty.
set -e
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
if [ "$1" = purge ]; then
	rm -rf /var/lib/certfleet-agent /etc/certfleet-agent
	rmdir /etc/ssl/certfleet 2>/dev/null || true
fi
exit 0
