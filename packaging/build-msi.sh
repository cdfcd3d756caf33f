#!/usr/bin/env bash
# Builds the agent's x64 MSI into OUT_DIR with wixl (Debian msitools) and
# adds it to OUT_DIR/SHA256SUMS.
#
#   packaging/build-msi.sh OUT_DIR VERSION
#
# An MSI version is numeric (major.minor.build): VERSION's leading
# digits and dots are used ("0.0.0+git.abc" -> 0.0.0). Not reproducible:
# wixl stamps the creation time and random package codes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
version=$2
msiversion=$(printf '%s' "$version" | grep -oE '^[0-9]+(\.[0-9]+){0,2}' || true)
if [ -z "$msiversion" ]; then
	echo "build-msi: version $version has no numeric major.minor.build" >&2
	exit 1
fi
cd "$root"
work="$out/.build/msi"
mkdir -p "$work"
CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -buildid= -X github.com/certfleet/certfleet/agent.version=$version" \
	-o "$work/certfleet-agent.exe" ./agent/cmd/certfleet-agent
# wixl resolves File sources relative to the .wxs.
cp packaging/msi/certfleet-agent.wxs "$work/"
msi="certfleet-agent_${version}_windows_amd64.msi"
(cd "$work" && wixl -a x64 -D "Version=$msiversion" -o "$out/$msi" certfleet-agent.wxs)
cd "$out"
touch SHA256SUMS
grep -v " $msi\$" SHA256SUMS >SHA256SUMS.new || true
sha256sum -- "$msi" >>SHA256SUMS.new
mv SHA256SUMS.new SHA256SUMS
echo "$msi"
