#!/bin/sh
# certfleet-hub: the system user the service runs as (deb preinst, rpm %pre).
set -e
if ! getent group certfleet >/dev/null; then
	groupadd --system certfleet
fi
if ! getent passwd certfleet >/dev/null; then
	useradd --system --gid certfleet --home-dir /var/lib/certfleet-hub --no-create-home \
		--shell /usr/sbin/nologin --comment "certfleet hub" certfleet
fi
exit 0
