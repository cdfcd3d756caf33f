#!/usr/bin/env bash
# Builds the certfleet .deb and .rpm packages (agent and hub) into OUT_DIR
# with nfpm, a CycloneDX SBOM of each binary with cyclonedx-gomod (both Go
# tools from packaging/tools, their own module, so the main go.mod stays
# lean), plus SHA256SUMS.
#
#   packaging/build.sh OUT_DIR VERSION ARCH...     e.g. dist 1.2.0 amd64 arm64
#
# Binaries are built with -trimpath and no VCS stamp, and SOURCE_DATE_EPOCH
# (default: the last commit's time) fixes every timestamp, so two builds of
# one commit give identical packages.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "$1" && cd "$1" && pwd)
version=$2
shift 2
cd "$root"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
work="$out/.build"
mkdir -p "$work"
go build -C packaging/tools -trimpath -o "$work/nfpm" github.com/goreleaser/nfpm/v2/cmd/nfpm
go build -C packaging/tools -trimpath -o "$work/cyclonedx-gomod" github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod
# One changelog entry for this version (Debian policy wants one; rpm's
# %changelog too), dated at SOURCE_DATE_EPOCH.
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cat >"$work/changelog.yml" <<CHANGELOG
- semver: $version-1
  date: $(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
  packager: certfleet maintainers <certfleet@example.org>
  deb:
    urgency: medium
    distributions: [stable]
  changes:
    - commit: $commit
      note: certfleet $version built from commit $commit.
CHANGELOG
for pkg in agent hub; do
	# The changelog path is not expanded from the environment by nfpm.
	{ cat "packaging/nfpm/$pkg.yaml"; echo "changelog: $work/changelog.yml"; } >"$work/$pkg.yaml"
done
for arch in "$@"; do
	bin="$work/linux_$arch"
	# The agent keeps its version in package agent, the hub in main.
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X github.com/certfleet/certfleet/agent.version=$version" \
		-o "$bin/certfleet-agent" ./agent/cmd/certfleet-agent
	CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -buildvcs=false \
		-ldflags "-s -w -buildid= -X main.version=$version" -o "$bin/certfleet-hub" ./hub/cmd/certfleet-hub
	for cmd in certfleet-agent certfleet-hub; do
		# From the binary's build info: exactly the modules linked in.
		# No serial number or timestamp, so it is reproducible too.
		"$work/cyclonedx-gomod" bin -json -noserial -notimestamp -version "$version" \
			-output "$out/${cmd}_${version}_linux_$arch.cdx.json" "$bin/$cmd" 2>/dev/null
	done
	for pkg in agent hub; do
		for format in deb rpm; do
			VERSION=$version ARCH=$arch BIN_DIR=$bin "$work/nfpm" package --config "$work/$pkg.yaml" \
				--packager "$format" --target "$out/" | { grep -v "^using " || true; }
		done
	done
done
cd "$out"
rm -f SHA256SUMS
sha256sum -- *.deb *.rpm *.cdx.json >SHA256SUMS
ls -1 -- *.deb *.rpm *.cdx.json
