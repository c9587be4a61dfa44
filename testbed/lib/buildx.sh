# shellcheck shell=bash
# buildx.sh: the buildx release the official docker:<docker_version> image carries, built
# from source through the Go module proxy, kept in the cache directory, and installed
# as this machine's docker CLI plugin (the Docker tier) and into the docker job stand-in
# (the pipeline tier).

# docker-library/docker's Dockerfile for the 29 line sets DOCKER_BUILDX_VERSION; 0.36.1
# is what its 29/cli/Dockerfile installs at docker 29.7.2, the newest 29.x of the
# snapshot read (docker_version 29.10.0 was not in it yet).
BUILDX_VERSION=${GOTPL_BUILDX_VERSION:-v0.36.1}
BUILDX_BIN=$CACHE_DIR/buildx-$BUILDX_VERSION/docker-buildx
# The first system directory docker's CLI searches for plugins; Debian's docker-buildx
# sits in a later one (/usr/libexec/docker/cli-plugins), so this one wins. The per-user
# directory ($DOCKER_CONFIG/cli-plugins) comes before both: point
# GOTPL_CLI_PLUGIN_DIR there to try a release without changing the machine's plugin.
CLI_PLUGIN_DIR=${GOTPL_CLI_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}

# Compile docker-buildx once per release, as buildx's own Dockerfile does (static,
# trimmed paths, version stamped); the go command fetches a newer toolchain when the
# release's go.mod asks for one.
build_buildx() {
	local log=$LOG_DIR/buildx.log dir
	command -v go >/dev/null || die "Go is needed to build buildx" "$log"
	dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/docker/buildx@$BUILDX_VERSION" 2>>"$log" |
		awk -F'"' '$2 == "Dir" { print $4 }') || true
	[[ -n $dir && -d $dir ]] || die "downloading github.com/docker/buildx@$BUILDX_VERSION failed" "$log"
	mkdir -p "$(dirname "$BUILDX_BIN")"
	(
		cd "$dir"
		printf '\n$ go build ./cmd/buildx in %s\n' "$dir"
		CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=auto go build -trimpath \
			-ldflags "-s -w -X github.com/docker/buildx/version.Version=$BUILDX_VERSION -X github.com/docker/buildx/version.Package=github.com/docker/buildx" \
			-o "$BUILDX_BIN.tmp" ./cmd/buildx
	) >>"$log" 2>&1 || die "building buildx $BUILDX_VERSION failed" "$log"
	mv "$BUILDX_BIN.tmp" "$BUILDX_BIN"
}

# The installed plugin's version, e.g. v0.36.1 (empty when there is none).
buildx_version_of() { # plugin
	"$1" version 2>/dev/null | awk '{ print $2 }'
}

ensure_buildx() {
	phase_begin buildx
	local note="$BUILDX_VERSION present"
	if [[ ! -x $BUILDX_BIN ]]; then
		build_buildx
		note="built $BUILDX_VERSION"
	fi
	if [[ $(buildx_version_of "$CLI_PLUGIN_DIR/docker-buildx") != "$BUILDX_VERSION" ]]; then
		install -D -m 0755 "$BUILDX_BIN" "$CLI_PLUGIN_DIR/docker-buildx"
		note="$note, installed in $CLI_PLUGIN_DIR"
	fi
	phase_end "$note"
}
