#!/usr/bin/env bash
# docker-tier.sh: prepare this machine for the "Docker tier" of the tests
# (a real dockerd, buildx and BuildKit builders, a registry), or take it down.
#
#   scripts/docker-tier.sh up [GO_MINOR...]   e.g. "up" or "up 1.24 1.23" (default 1.24)
#   scripts/docker-tier.sh down
#   scripts/docker-tier.sh status
#
# Runs as root. "up" is idempotent: it reuses a running daemon, installed
# packages, built stand-in images and a running mirror, so a second run is fast.
# When public images cannot be pulled (decided by trying), it builds local
# stand-ins for registry:2, moby/buildkit, golang and distroless and serves them
# from a local registry acting as a mirror for docker.io and gcr.io. The result is
# described in an env file (KEY=VALUE lines) whose path is printed at the end.
set -euo pipefail

STATE_DIR=${GOTPL_DOCKER_TIER_DIR:-/var/lib/gotpl-docker-tier}
ENV_FILE=${GOTPL_DOCKER_TIER_ENV:-$STATE_DIR/env}
STATE_FILE=$STATE_DIR/state
LOG_DIR=$STATE_DIR/logs
CACHE_DIR=$STATE_DIR/cache
BUILDKITD_TOML=$STATE_DIR/buildkitd.toml
MIRROR_NAME=gotpl-mirror
MIRROR_PORT=${GOTPL_MIRROR_PORT:-15000}
MIRROR=127.0.0.1:$MIRROR_PORT
BUILDKIT_VERSION=${GOTPL_BUILDKIT_VERSION:-v0.32.2}
BUILDKIT_IMAGE=moby/buildkit:buildx-stable-1
STANDIN_BUILDER=gotpl-standins
OURS_LABEL=org.gotpl.docker-tier
PULL_PROBE_TIMEOUT=${GOTPL_PULL_PROBE_TIMEOUT:-30}
DOCKERD_START_TIMEOUT=${GOTPL_DOCKERD_START_TIMEOUT:-60}
RECIPES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/standins
# The pipeline tier's Node tools (gitlab-ci-local), pinned by their package-lock.json.
NODE_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tools/node

# Docker's own plugin directory, in case the docker client found first does not look there.
export PATH=$PATH:/usr/libexec/docker/cli-plugins
export DEBIAN_FRONTEND=noninteractive

say() { printf '[docker-tier] %s\n' "$*"; }

# One clear line, naming the log that holds the details, then stop.
die() {
	local msg=$1 logfile=${2:-}
	if [[ -n $logfile ]]; then
		printf '[docker-tier] ERROR: %s (log: %s)\n' "$msg" "$logfile" >&2
	else
		printf '[docker-tier] ERROR: %s\n' "$msg" >&2
	fi
	exit 1
}

# Run a command with its output appended to a log; die with a clear message if it fails.
run_logged() {
	local logfile=$1 what=$2
	shift 2
	printf '\n$ %s\n' "$*" >>"$logfile"
	"$@" >>"$logfile" 2>&1 || die "$what failed" "$logfile"
}

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

PHASE=""
PHASE_T0=""
TIMINGS=()
phase_begin() {
	PHASE=$1
	PHASE_T0=$(now)
	say "phase $PHASE ..."
}
phase_end() {
	local note=${1:-}
	local t
	t=$(elapsed "$PHASE_T0")
	TIMINGS+=("$(printf '%-26s %7ss  %s' "$PHASE" "$t" "$note")")
	say "phase $PHASE done in ${t}s${note:+ ($note)}"
}

state_get() {
	if [[ -r $STATE_FILE ]]; then sed -n "s/^$1=//p" "$STATE_FILE" | tail -n1; fi
}
state_set() {
	local key=$1 value=$2 tmp
	mkdir -p "$STATE_DIR"
	tmp=$(mktemp "$STATE_DIR/.state.XXXXXX")
	if [[ -r $STATE_FILE ]]; then grep -v "^$key=" "$STATE_FILE" >"$tmp" || true; else : >"$tmp"; fi
	if [[ -n $value ]]; then printf '%s=%s\n' "$key" "$value" >>"$tmp"; fi
	mv "$tmp" "$STATE_FILE"
}

docker_ok() { timeout 20 docker info >/dev/null 2>&1; }
buildx_ok() { timeout 20 docker buildx version >/dev/null 2>&1; }

# True when the recorded pid is still a dockerd (pids get reused).
our_dockerd_alive() {
	local pid
	pid=$(state_get DOCKERD_PID)
	[[ -n $pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]
}

# ---------------------------------------------------------------- packages

APT_UPDATED=0
apt_update() {
	[[ $APT_UPDATED == 1 ]] && return 0
	run_logged "$LOG_DIR/apt.log" "apt-get update" apt-get update
	APT_UPDATED=1
}

# Add Debian trixie as a low-priority source, reusing the machine's own Debian
# source (its first deb822 stanza) so that no host name is written by us.
add_trixie_source() {
	local src=/etc/apt/sources.list.d/debian.sources
	[[ -r $src ]] || return 1
	awk '
		/^[[:space:]]*#/ { next }                 # drop comments
		/^[[:space:]]*$/ { if (seen) exit; next } # the first stanza ends at a blank line
		{ seen = 1 }
		$1 == "Suites:" { print "Suites: trixie"; next }
		{ print }
	' "$src" >/etc/apt/sources.list.d/gotpl-trixie.sources
	grep -q '^URIs:' /etc/apt/sources.list.d/gotpl-trixie.sources || return 1
	# Priority 100: trixie packages are installed only when asked for by name.
	printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >/etc/apt/preferences.d/gotpl-trixie
}

remove_trixie_source() {
	rm -f /etc/apt/sources.list.d/gotpl-trixie.sources /etc/apt/preferences.d/gotpl-trixie
	APT_UPDATED=0
}

install_engine() {
	local log=$LOG_DIR/apt.log
	say "installing Docker Engine and buildx from Debian (log: $log)"
	if add_trixie_source &&
		{ printf '\n$ apt-get update (with trixie)\n'; apt-get update; } >>"$log" 2>&1 &&
		{
			printf '\n$ apt-get install docker.io/trixie docker-cli/trixie docker-buildx/trixie\n'
			apt-get install -y --no-install-recommends docker.io/trixie docker-cli/trixie docker-buildx/trixie
		} >>"$log" 2>&1; then
		APT_UPDATED=1
		say "installed docker.io, docker-cli and docker-buildx from trixie"
		return 0
	fi
	say "trixie install failed; falling back to bookworm's docker.io (log: $log)"
	remove_trixie_source
	apt_update
	run_logged "$log" "apt-get install docker.io" apt-get install -y --no-install-recommends docker.io
	# bookworm has no buildx package: try one by name, whatever suite offers it.
	buildx_ok || apt-get install -y --no-install-recommends docker-buildx >>"$log" 2>&1 || true
}

# An engine without buildx (for example bookworm's docker.io): take the plugin alone from trixie.
install_buildx() {
	local log=$LOG_DIR/apt.log
	if add_trixie_source && { apt-get update && apt-get install -y --no-install-recommends docker-buildx/trixie; } >>"$log" 2>&1; then
		APT_UPDATED=1
	fi
	buildx_ok || die "docker buildx does not work (no buildx plugin could be installed)" "$log"
}

# Install the listed Debian packages that are not installed yet.
ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0
	apt_update
	run_logged "$LOG_DIR/apt.log" "apt-get install ${missing[*]}" \
		apt-get install -y --no-install-recommends "${missing[@]}"
}

# ---------------------------------------------------------------- daemon

start_dockerd() {
	local log=$LOG_DIR/dockerd.log pid waited=0
	mkdir -p /etc/docker
	if [[ ! -e /etc/docker/daemon.json ]]; then
		# The classic overlay2 image store is enough: the tests build with the docker-container driver.
		printf '{\n  "storage-driver": "overlay2"\n}\n' >/etc/docker/daemon.json
	fi
	printf '\n==== dockerd started by docker-tier.sh at %s\n' "$(date -Is)" >>"$log"
	# A session of its own, so that the daemon outlives this script and its terminal.
	setsid dockerd </dev/null >>"$log" 2>&1 &
	pid=$!
	state_set DOCKERD_PID "$pid"
	while ! docker_ok; do
		kill -0 "$pid" 2>/dev/null || { state_set DOCKERD_PID ""; die "dockerd exited during start-up" "$log"; }
		((waited >= DOCKERD_START_TIMEOUT)) && die "dockerd did not answer within ${DOCKERD_START_TIMEOUT}s" "$log"
		sleep 1
		waited=$((waited + 1))
	done
}

ensure_engine() {
	phase_begin install
	local note="already installed"
	if ! docker_ok && ! command -v dockerd >/dev/null; then
		install_engine
		note="installed"
	fi
	command -v dockerd >/dev/null || docker_ok || die "no dockerd after installing" "$LOG_DIR/apt.log"
	if ! buildx_ok; then
		install_buildx
		note="$note, buildx installed"
	fi
	# The driver test gives a private second dockerd a bridge of its own with ip(8).
	command -v ip >/dev/null || ensure_packages iproute2
	phase_end "$note"

	phase_begin daemon
	if docker_ok; then
		# A daemon that was running before us is never ours to stop.
		our_dockerd_alive || state_set DOCKERD_PID ""
		phase_end "reused running daemon"
	else
		start_dockerd
		phase_end "started dockerd pid $(state_get DOCKERD_PID)"
	fi
}

# ---------------------------------------------------------------- pull probe

# Decide by trying whether public images can be pulled; a hang counts as "no".
can_pull_public() {
	local log=$LOG_DIR/pull-probe.log
	printf '\n==== %s: docker pull registry:2\n' "$(date -Is)" >>"$log"
	timeout "$PULL_PROBE_TIMEOUT" docker pull registry:2 >>"$log" 2>&1
}

# ---------------------------------------------------------------- stand-ins

mirror_has() { # repository tag
	curl -fsS -o /dev/null -I --max-time 10 \
		-H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://$MIRROR/v2/$1/manifests/$2" 2>/dev/null
}

local_has() { docker image inspect "$1" >/dev/null 2>&1; }

# Copy a dynamically or statically linked binary and the shared libraries it needs into a root fs.
copy_binary() { # src rootfs dest
	local src=$1 root=$2 dest=$3 lib
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$src" "$root$dest"
	# ldd prints "name => /path (addr)" or "/path (addr)" for the loader.
	while read -r lib; do
		[[ -e $lib ]] || continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(ldd "$src" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
}

# busybox-static gives a shell and the usual tools; link every applet where it usually lives.
add_busybox() { # rootfs
	local root=$1 applet
	mkdir -p "$root/bin"
	cp /bin/busybox "$root/bin/busybox"
	while read -r applet; do
		[[ -z $applet || -e $root/$applet ]] && continue
		mkdir -p "$root/$(dirname "$applet")"
		ln -s /bin/busybox "$root/$applet"
	done < <(/bin/busybox --list-full)
}

# The files every stand-in needs: users, CA certificates, /tmp.
add_base_files() { # rootfs
	local root=$1
	mkdir -p "$root/etc/ssl/certs" "$root/root" "$root/tmp"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# docker import a root fs as IMAGE with Dockerfile-style changes.
import_rootfs() { # rootfs image log change...
	local root=$1 image=$2 log=$3
	shift 3
	local args=() change
	for change in "$@" "LABEL $OURS_LABEL=standin"; do
		args+=(--change "$change")
	done
	printf '\n$ tar -C %s -c . | docker import %s - %s\n' "$root" "${args[*]}" "$image" >>"$log"
	tar --numeric-owner -C "$root" -c . | docker import "${args[@]}" - "$image" >>"$log" 2>&1 ||
		die "docker import of $image failed" "$log"
}

push_to_mirror() { # local-image mirror-path:tag log
	local image=$1 target=$MIRROR/$2 log=$3
	run_logged "$log" "tagging $image" docker tag "$image" "$target"
	run_logged "$log" "pushing $target to the mirror" docker push "$target"
	docker rmi "$target" >>"$log" 2>&1 || true # drop the extra tag only; layers stay
}

new_workdir() { # name
	local dir=$STATE_DIR/work/$1
	rm -rf "$dir"
	mkdir -p "$dir"
	printf '%s' "$dir"
}

build_registry_image() {
	local log=$LOG_DIR/standin-registry.log root
	root=$(new_workdir registry)/rootfs
	mkdir -p "$root"
	add_busybox "$root"
	add_base_files "$root"
	copy_binary /usr/bin/docker-registry "$root" /bin/registry
	install -D -m 0644 "$RECIPES/registry/config.yml" "$root/etc/docker/registry/config.yml"
	install -D -m 0755 "$RECIPES/registry/entrypoint.sh" "$root/entrypoint.sh"
	mkdir -p "$root/var/lib/registry"
	import_rootfs "$root" registry:2 "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'VOLUME ["/var/lib/registry"]' 'EXPOSE 5000' \
		'ENTRYPOINT ["/entrypoint.sh"]' 'CMD ["/etc/docker/registry/config.yml"]'
	rm -rf "$(dirname "$root")"
}

ensure_registry_image() {
	phase_begin "standin registry:2"
	if local_has registry:2; then
		phase_end "present"
		return
	fi
	ensure_packages docker-registry busybox-static ca-certificates
	build_registry_image
	phase_end "built"
}

ensure_mirror() {
	phase_begin mirror
	local log=$LOG_DIR/mirror.log status waited=0
	status=$(docker inspect -f '{{.State.Status}}' "$MIRROR_NAME" 2>/dev/null || true)
	if [[ -z $status ]]; then
		mkdir -p "$STATE_DIR/mirror"
		# Loopback only; the data lives on the host so it survives the container.
		run_logged "$log" "starting the mirror registry" docker run -d --name "$MIRROR_NAME" \
			--label "$OURS_LABEL=mirror" -p "$MIRROR:5000" \
			-v "$STATE_DIR/mirror:/var/lib/registry" registry:2
	elif [[ $status != running ]]; then
		run_logged "$log" "restarting the mirror registry" docker start "$MIRROR_NAME"
	fi
	state_set MIRROR_CONTAINER "$MIRROR_NAME"
	until curl -fsS -o /dev/null --max-time 2 "http://$MIRROR/v2/"; do
		((waited >= 30)) && die "the mirror registry did not answer on $MIRROR" "$log"
		sleep 1
		waited=$((waited + 1))
	done
	# The mirror serves its own image too (e.g. for jobs that name registry:2 as a service).
	if ! mirror_has library/registry 2; then
		push_to_mirror registry:2 library/registry:2 "$log"
	fi
	phase_end "${status:-created} -> running on $MIRROR"
}

build_buildkit_binaries() { # outdir
	local out=$1 log=$LOG_DIR/standin-buildkit.log dir
	command -v go >/dev/null || die "Go is needed to build BuildKit" "$log"
	# go install @version refuses this module (its go.mod has exclude directives):
	# fetch it through the module proxy and build it as the main module instead.
	dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" 2>>"$log" |
		awk -F'"' '$2 == "Dir" { print $4 }') || true
	[[ -n $dir && -d $dir ]] || die "downloading github.com/moby/buildkit@$BUILDKIT_VERSION failed" "$log"
	mkdir -p "$out"
	(
		cd "$dir"
		printf '\n$ go build buildkitd buildctl in %s\n' "$dir"
		CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
			-ldflags "-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
			-o "$out/" ./cmd/buildkitd ./cmd/buildctl
	) >>"$log" 2>&1 || die "building buildkitd/buildctl $BUILDKIT_VERSION failed" "$log"
}

build_buildkit_image() {
	local log=$LOG_DIR/standin-buildkit.log bin=$CACHE_DIR/buildkit-$BUILDKIT_VERSION root runc
	# The compiled binaries are kept, so a lost image is rebuilt in seconds.
	[[ -x $bin/buildkitd && -x $bin/buildctl ]] || build_buildkit_binaries "$bin"
	runc=$(command -v runc) || die "runc is not installed" "$LOG_DIR/apt.log"
	root=$(new_workdir buildkit)/rootfs
	mkdir -p "$root/etc/buildkit" "$root/var/lib/buildkit"
	add_busybox "$root"
	add_base_files "$root"
	copy_binary "$bin/buildkitd" "$root" /usr/bin/buildkitd
	copy_binary "$bin/buildctl" "$root" /usr/bin/buildctl
	copy_binary "$runc" "$root" /usr/bin/runc
	import_rootfs "$root" "$BUILDKIT_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'VOLUME ["/var/lib/buildkit"]' 'ENTRYPOINT ["buildkitd"]'
	rm -rf "$(dirname "$root")"
}

ensure_buildkit_image() {
	phase_begin "standin buildkit"
	local note=present
	if ! local_has "$BUILDKIT_IMAGE"; then
		ensure_packages busybox-static ca-certificates runc
		build_buildkit_image
		note="built buildkit $BUILDKIT_VERSION"
	fi
	if ! mirror_has moby/buildkit buildx-stable-1; then
		push_to_mirror "$BUILDKIT_IMAGE" moby/buildkit:buildx-stable-1 "$LOG_DIR/standin-buildkit.log"
	fi
	phase_end "$note"
}

# Newest published patch release of a Go minor version (e.g. 1.24 -> 1.24.13), from the module proxy.
latest_go_patch() { # minor
	local minor=$1
	GOFLAGS='' go list -m -versions golang.org/toolchain 2>/dev/null | tr ' ' '\n' |
		sed -n "s/^v0\.0\.1-go\(${minor//./\\.}\.[0-9][0-9]*\)\.linux-amd64\$/\1/p" | sort -V | tail -n1
}

build_golang_image() { # minor full
	local minor=$1 full=$2 log=$LOG_DIR/standin-golang-$1.log tc root
	# The go command fetches exactly that toolchain through the module proxy into the module cache.
	{ printf '\n$ GOTOOLCHAIN=go%s go version\n' "$full"; (cd / && GOFLAGS='' GOTOOLCHAIN="go$full" go version); } \
		>>"$log" 2>&1 || die "downloading Go $full through the module proxy failed" "$log"
	tc=$(go env GOMODCACHE)/golang.org/toolchain@v0.0.1-go$full.linux-amd64
	[[ -x $tc/bin/go ]] || die "Go $full toolchain not found at $tc" "$log"
	root=$(new_workdir "golang-$minor")/rootfs
	mkdir -p "$root/usr/local" "$root/go/bin" "$root/go/src"
	cp -a "$tc" "$root/usr/local/go"
	chmod -R u+w "$root/usr/local/go" # the module cache is read-only
	chmod -R 1777 "$root/go"          # as in the official image
	add_busybox "$root"
	add_base_files "$root"
	import_rootfs "$root" "golang:$minor" "$log" \
		'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"ENV GOLANG_VERSION=$full" 'ENV GOPATH=/go' 'ENV GOTOOLCHAIN=local' 'ENV HOME=/root' \
		'WORKDIR /go' 'CMD ["sh"]'
	rm -rf "$(dirname "$root")"
}

ensure_golang_image() { # minor
	local minor=$1 full note=present log=$LOG_DIR/standin-golang-$1.log
	phase_begin "standin golang:$minor"
	if mirror_has library/golang "$minor"; then
		phase_end "in mirror"
		return
	fi
	if ! local_has "golang:$minor"; then
		command -v go >/dev/null || die "Go is needed to fetch the Go $minor toolchain" "$log"
		ensure_packages busybox-static ca-certificates
		full=$(latest_go_patch "$minor")
		[[ -n $full ]] || die "no Go $minor.x toolchain listed by the Go module proxy" "$log"
		build_golang_image "$minor" "$full"
		note="built go$full"
	fi
	full=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "golang:$minor" | sed -n 's/^GOLANG_VERSION=//p')
	push_to_mirror "golang:$minor" "library/golang:$minor" "$log"
	if [[ -n $full ]]; then push_to_mirror "golang:$minor" "library/golang:$full" "$log"; fi
	phase_end "$note"
}

write_buildkitd_config() { # mirror-or-empty
	local mirror=$1 tmp
	mkdir -p "$STATE_DIR"
	tmp=$(mktemp "$STATE_DIR/.toml.XXXXXX")
	{
		printf '# buildkitd configuration written by scripts/docker-tier.sh.\n'
		if [[ -n $mirror ]]; then
			printf '# Public images come from the local stand-in mirror at %s.\n' "$mirror"
			printf '[registry."docker.io"]\n  mirrors = ["%s"]\n\n' "$mirror"
			printf '[registry."gcr.io"]\n  mirrors = ["%s"]\n\n' "$mirror"
			printf '[registry."%s"]\n  http = true\n' "$mirror"
		else
			printf '# Public images can be pulled here: no mirror.\n'
		fi
	} >"$tmp"
	chmod 0644 "$tmp"
	mv "$tmp" "$BUILDKITD_TOML"
}

# A throw-away docker-container builder, made exactly like the tests make theirs.
standin_builder_up() {
	local log=$1
	docker buildx rm "$STANDIN_BUILDER" >/dev/null 2>&1 || true
	run_logged "$log" "bootstrapping a BuildKit builder from $BUILDKIT_IMAGE" \
		docker buildx create --name "$STANDIN_BUILDER" --driver docker-container \
		--driver-opt network=host --buildkitd-config "$BUILDKITD_TOML" --bootstrap
}
standin_builder_down() { docker buildx rm "$STANDIN_BUILDER" >/dev/null 2>&1 || true; }

build_distroless_images() {
	local log=$LOG_DIR/standin-distroless.log ctx root target
	ctx=$(new_workdir distroless)
	root=$ctx/rootfs
	cp "$RECIPES/distroless/Dockerfile" "$ctx/Dockerfile"
	mkdir -p "$ctx/home-nonroot" "$root/home" "$root/etc/ssl/certs" "$root/root" "$root/tmp"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
	# The users and groups of the real image; no login shell exists.
	printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
		'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
		'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$root/etc/group"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
	printf 'PRETTY_NAME="Distroless static stand-in (docker-tier.sh)"\nID=debian\nVERSION_ID="12"\n' >"$root/etc/os-release"
	standin_builder_up "$log"
	for target in latest nonroot; do
		run_logged "$log" "building the distroless:$target stand-in" \
			docker buildx build --builder "$STANDIN_BUILDER" --platform linux/amd64,linux/arm64 \
			--provenance=false --sbom=false --target "$target" \
			-t "$MIRROR/distroless/static-debian12:$target" --push "$ctx"
	done
	rm -rf "$ctx"
}

ensure_distroless_images() {
	phase_begin "standin distroless"
	if mirror_has distroless/static-debian12 latest && mirror_has distroless/static-debian12 nonroot; then
		phase_end "in mirror"
		return
	fi
	ensure_packages ca-certificates
	build_distroless_images
	phase_end "built linux/amd64+linux/arm64"
}

# Prove the chain once after building: builder from the stand-in image, golang via the mirror, a RUN step.
smoke_test() { # go-minor
	phase_begin "smoke build"
	local log=$LOG_DIR/smoke.log ctx
	ctx=$(new_workdir smoke)
	printf 'FROM golang:%s\nRUN go version\n' "$1" >"$ctx/Dockerfile"
	docker buildx inspect "$STANDIN_BUILDER" >/dev/null 2>&1 || standin_builder_up "$log"
	run_logged "$log" "a smoke build through the mirror" \
		docker buildx build --builder "$STANDIN_BUILDER" --progress=plain --output type=cacheonly "$ctx"
	rm -rf "$ctx"
	phase_end "golang:$1 RUN go version"
}

write_env_file() { # mirror-or-empty offline go-minors
	local mirror=$1 offline=$2 gos=$3 tmp
	mkdir -p "$(dirname "$ENV_FILE")"
	tmp=$(mktemp "$(dirname "$ENV_FILE")/.env.XXXXXX")
	{
		printf '# Written by scripts/docker-tier.sh up at %s\n' "$(date -Is)"
		printf 'GOTPL_BUILDKITD_CONFIG=%s\n' "$BUILDKITD_TOML"
		printf 'GOTPL_MIRROR=%s\n' "$mirror"
		printf 'GOTPL_OFFLINE=%s\n' "$offline"
		printf 'GOTPL_BUILDKIT_IMAGE=%s\n' "$BUILDKIT_IMAGE"
		printf 'GOTPL_GO_VERSIONS=%s\n' "$gos"
		printf 'GOTPL_BUILDX_CREATE_FLAGS=--driver docker-container --driver-opt network=host --buildkitd-config %s\n' "$BUILDKITD_TOML"
		# Ryuk's image cannot be pulled offline.
		printf 'TESTCONTAINERS_RYUK_DISABLED=%s\n' "$([[ $offline == 1 ]] && echo true || echo false)"
		# This machine has /.dockerenv, so testcontainers would otherwise hand out the bridge
		# gateway (172.17.0.1:port); these two make get_registry() say localhost:port instead.
		printf 'TESTCONTAINERS_CONNECTION_MODE=docker_host\n'
		printf 'TESTCONTAINERS_HOST_OVERRIDE=localhost\n'
	} >"$tmp"
	chmod 0644 "$tmp"
	mv "$tmp" "$ENV_FILE"
}

# ---------------------------------------------------------------- pipeline tier

# What tests/pipeline needs besides the engine: rsync (gitlab-ci-local copies the job's
# files with it), iptables and busybox (the job engine's bridge and placeholder image),
# and gitlab-ci-local itself, installed from the npm registry into tools/node exactly
# as tools/node/package-lock.json pins it.
pipeline_tools_ok() { # pinned-version
	[[ $("$NODE_TOOLS/node_modules/.bin/gitlab-ci-local" --version 2>/dev/null) == "$1" ]]
}

ensure_pipeline_tools() {
	phase_begin "pipeline tools"
	local log=$LOG_DIR/npm.log pinned note=present
	ensure_packages rsync iptables busybox-static
	command -v npm >/dev/null || die "npm (Node.js) is needed to install gitlab-ci-local" "$log"
	pinned=$(sed -n 's/^[[:space:]]*"gitlab-ci-local":[[:space:]]*"\([^"]*\)".*/\1/p' "$NODE_TOOLS/package.json")
	[[ -n $pinned ]] || die "no gitlab-ci-local version pinned in $NODE_TOOLS/package.json"
	if ! pipeline_tools_ok "$pinned"; then
		run_logged "$log" "npm ci in $NODE_TOOLS" npm ci --prefix "$NODE_TOOLS" --no-audit --no-fund
		pipeline_tools_ok "$pinned" || die "gitlab-ci-local $pinned does not run after npm ci" "$log"
		note="installed gitlab-ci-local $pinned"
	fi
	phase_end "$note"
}

# ---------------------------------------------------------------- commands

cmd_up() {
	local gos=("$@") t0 offline=0 mirror="" built_any=0 minor smoke_go=""
	((${#gos[@]})) || gos=(1.24)
	[[ $(id -u) == 0 ]] || die "up must run as root"
	mkdir -p "$STATE_DIR" "$LOG_DIR" "$CACHE_DIR"
	t0=$(now)

	ensure_engine

	phase_begin "pull probe"
	if can_pull_public; then
		phase_end "public images can be pulled: no stand-ins"
	else
		offline=1
		phase_end "no public pulls (see $LOG_DIR/pull-probe.log): stand-ins + mirror"
	fi

	if [[ $offline == 1 ]]; then
		mirror=$MIRROR
		write_buildkitd_config "$mirror"
		local_has registry:2 || built_any=1
		ensure_registry_image
		ensure_mirror
		local_has "$BUILDKIT_IMAGE" || built_any=1
		ensure_buildkit_image
		for minor in "${gos[@]}"; do
			if ! mirror_has library/golang "$minor"; then
				built_any=1
				smoke_go=${smoke_go:-$minor} # smoke-test a Go image that is new
			fi
			ensure_golang_image "$minor"
		done
		{ mirror_has distroless/static-debian12 latest && mirror_has distroless/static-debian12 nonroot; } || built_any=1
		ensure_distroless_images
		if [[ $built_any == 1 ]]; then smoke_test "${smoke_go:-${gos[0]}}"; fi
		standin_builder_down
	else
		write_buildkitd_config ""
	fi

	ensure_pipeline_tools

	write_env_file "$mirror" "$offline" "${gos[*]}"
	say "timings:"
	printf '  %s\n' "${TIMINGS[@]}"
	say "up done in $(elapsed "$t0")s"
	say "env file: $ENV_FILE"
	printf '%s\n' "$ENV_FILE"
}

cmd_down() {
	local pid status waited=0
	if docker_ok; then
		status=$(docker inspect -f '{{index .Config.Labels "'"$OURS_LABEL"'"}}' "$MIRROR_NAME" 2>/dev/null || true)
		# Only the mirror that this state dir records, and only if it carries our label.
		if [[ $status == mirror && $(state_get MIRROR_CONTAINER) == "$MIRROR_NAME" ]]; then
			docker stop "$MIRROR_NAME" >/dev/null && say "stopped the mirror container $MIRROR_NAME"
		fi
		standin_builder_down
	fi
	state_set MIRROR_CONTAINER ""
	if our_dockerd_alive; then
		pid=$(state_get DOCKERD_PID)
		kill -TERM "$pid"
		while kill -0 "$pid" 2>/dev/null; do
			((waited >= 60)) && die "dockerd (pid $pid) did not stop within 60s" "$LOG_DIR/dockerd.log"
			sleep 1
			waited=$((waited + 1))
		done
		say "stopped dockerd (pid $pid), which docker-tier.sh had started"
	else
		say "dockerd was not started by docker-tier.sh: left alone"
	fi
	state_set DOCKERD_PID ""
}

cmd_status() {
	say "state dir: $STATE_DIR"
	if docker_ok; then
		say "daemon: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"
		if our_dockerd_alive; then say "daemon started by docker-tier.sh (pid $(state_get DOCKERD_PID))"; else say "daemon not started by docker-tier.sh"; fi
		say "buildx: $(docker buildx version 2>/dev/null || echo missing)"
		say "mirror container: $(docker inspect -f '{{.State.Status}}' "$MIRROR_NAME" 2>/dev/null || echo absent)"
		if curl -fsS -o /dev/null --max-time 2 "http://$MIRROR/v2/" 2>/dev/null; then
			say "mirror catalog: $(curl -fsS --max-time 5 "http://$MIRROR/v2/_catalog")"
		fi
		say "local stand-in images:"
		docker images --filter "label=$OURS_LABEL=standin" --format '  {{.Repository}}:{{.Tag}} {{.Size}}'
		say "builders:"
		docker buildx ls 2>/dev/null | sed 's/^/  /'
	else
		say "daemon: not reachable"
	fi
	if [[ -r $ENV_FILE ]]; then
		say "env file $ENV_FILE:"
		sed 's/^/  /' "$ENV_FILE"
	else
		say "env file $ENV_FILE: absent"
	fi
}

main() {
	local cmd=${1:-}
	shift || true
	case $cmd in
		up) cmd_up "$@" ;;
		down) cmd_down ;;
		status) cmd_status ;;
		*)
			printf 'usage: %s up [GO_MINOR...] | down | status\n' "$0" >&2
			exit 2
			;;
	esac
}

main "$@"
