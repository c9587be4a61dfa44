# shellcheck shell=bash
# buildx.sh: the buildx release the official docker:<docker_version> image carries, built
# from source through the Go module proxy, kept in the cache directory, and installed
# as this machine's docker CLI plugin (the Docker tier) and into the docker job stand-in
# (the pipeline tier).

# docker-library/docker's 29/cli/Dockerfile sets DOCKER_BUILDX_VERSION; the newest
# snapshot read (commit 3289af8, 2026-08-06) is at docker 29.7.2 with buildx 0.36.1.
# Our docker_version (29.10.0) is later than that snapshot, so its image may carry a
# newer buildx: bump this when a newer Dockerfile can be read.
BUILDX_VERSION=${GOTPL_BUILDX_VERSION:-v0.36.1}
BUILDX_BIN=$CACHE_DIR/buildx-$BUILDX_VERSION/docker-buildx
# The first system directory docker's CLI searches for plugins; Debian's docker-buildx
# sits in a later one (/usr/libexec/docker/cli-plugins), so this one wins. The per-user
# directory ($DOCKER_CONFIG/cli-plugins) comes before both: point
# GOTPL_CLI_PLUGIN_DIR there to try a release without changing the machine's plugin.
CLI_PLUGIN_DIR=${GOTPL_CLI_PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}

# Compile docker-buildx once per release, as buildx's own Dockerfile does (CGO off,
# trimmed paths, stripped, version stamped; the module zip has no git data, so no
# revision); the go command fetches a newer toolchain when the release's go.mod asks
# for one. Output goes to the caller's log: start_buildx runs it in the background.
build_buildx() {
	local dir tmp=$BUILDX_BIN.tmp.$BASHPID t0
	t0=$(now)
	command -v go >/dev/null || die "Go is needed to build buildx"
	cd / || die "cd / failed" # outside any Go module of the caller's directory
	printf '\n$ go mod download github.com/docker/buildx@%s\n' "$BUILDX_VERSION"
	# The JSON goes to the log too: a failed download says why in its "Error" field.
	dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/docker/buildx@$BUILDX_VERSION" |
		tee /dev/stderr | awk -F'"' '$2 == "Dir" { print $4 }') || true
	[[ -n $dir && -d $dir ]] || die "downloading github.com/docker/buildx@$BUILDX_VERSION failed"
	mkdir -p "$(dirname "$BUILDX_BIN")"
	cd "$dir" || die "cannot enter $dir"
	printf '\n$ go build ./cmd/buildx in %s\n' "$dir"
	CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=auto nice -n 10 go build -trimpath \
		-ldflags "-s -w -X github.com/docker/buildx/version.Version=$BUILDX_VERSION -X github.com/docker/buildx/version.Package=github.com/docker/buildx" \
		-o "$tmp" ./cmd/buildx || die "go build of buildx $BUILDX_VERSION failed"
	# Renamed into place only when whole, so a build cut short leaves no binary to trust.
	mv "$tmp" "$BUILDX_BIN"
	printf 'built in %ss\n' "$(elapsed "$t0")"
}

# The installed plugin's version, e.g. v0.36.1 (empty when there is none).
buildx_version_of() { # plugin
	"$1" version 2>/dev/null | awk '{ print $2 }'
}

# Compiling buildx takes minutes of CPU on a new machine (about 6 min here with an
# empty Go build cache, 17 s of linking with a warm one): it runs
# in the background from the start of "up", beside npm ci, the engine install and the
# stand-ins, and ensure_buildx waits for it where the binary is first needed.
# It runs at a lower priority: the stand-ins compiled beside it (BuildKit) are needed
# sooner, and buildx only by the docker job stand-in near the end.
BUILDX_PID=""
BUILDX_READY=""
start_buildx() {
	local log=$LOG_DIR/buildx.log
	[[ -x $BUILDX_BIN ]] && return 0
	say "building buildx $BUILDX_VERSION in the background (log: $log)"
	build_buildx >>"$log" 2>&1 &
	BUILDX_PID=$!
}

# Wait for the background build, then install the plugin where the CLI finds it first.
# A failed build stops "up" with the end of its log.
ensure_buildx() {
	local log=$LOG_DIR/buildx.log note="$BUILDX_VERSION present"
	[[ -z $BUILDX_READY ]] || return 0
	phase_begin buildx
	if [[ -n $BUILDX_PID ]]; then
		if ! wait "$BUILDX_PID"; then
			BUILDX_PID=""
			tail -n 25 "$log" | sed 's/^/  | /' >&2
			die "building buildx $BUILDX_VERSION failed" "$log"
		fi
		BUILDX_PID=""
		note="$BUILDX_VERSION $(tail -n 1 "$log") in the background"
	fi
	[[ -x $BUILDX_BIN ]] || die "no buildx binary at $BUILDX_BIN" "$log"
	if [[ $(buildx_version_of "$CLI_PLUGIN_DIR/docker-buildx") != "$BUILDX_VERSION" ]]; then
		install -D -m 0755 "$BUILDX_BIN" "$CLI_PLUGIN_DIR/docker-buildx"
		note="$note, installed in $CLI_PLUGIN_DIR"
	fi
	BUILDX_READY=1
	phase_end "$note"
}
