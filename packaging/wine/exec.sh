#!/usr/bin/env bash
# go test -exec for GOOS=windows under wine: runs a Windows test binary in
# a wine prefix (default ~/.cache/certfleet-wine) that holds the
# ProcessPrng shim Go 1.26 binaries need. Builds the shim and the prefix
# on first use. Needs wine64 and gcc-mingw-w64-x86-64-win32 (Debian).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export WINEPREFIX=${WINEPREFIX:-$HOME/.cache/certfleet-wine}
export WINEDEBUG=${WINEDEBUG:--all}
wine=$(command -v wine64 || command -v wine || echo /usr/lib/wine/wine64)
dll="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$dll" ]; then
	mkdir -p "$WINEPREFIX"
	(
		flock 9
		if [ ! -f "$dll" ]; then
			"$wine" wineboot -i >/dev/null 2>&1
			x86_64-w64-mingw32-gcc -shared -O2 -o "$WINEPREFIX/bcryptprimitives.dll" \
				"$here/bcryptprimitives.c" "$here/bcryptprimitives.def"
			cp "$WINEPREFIX/bcryptprimitives.dll" "$dll"
		fi
	) 9>"$WINEPREFIX/.setup.lock"
fi
exec "$wine" "$@"
