#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# testbed.sh: prepare this machine for the "Docker tier" of the tests
# (a real dockerd, buildx and BuildKit builders, a registry), or take it down.
#
#   testbed/testbed.sh up [GO_MINOR...]   e.g. "up" or "up 1.25 1.24"
#                                         (default: go_version of cookiecutter.json)
#   testbed/testbed.sh down
#   testbed/testbed.sh status
#
# Runs as root. "up" is idempotent: it reuses a running daemon, installed
# packages, built stand-in images and a running mirror, so a second run is fast.
# When public images cannot be pulled (decided by trying), it builds local
# stand-ins for registry:2, moby/buildkit, golang, distroless and the SBOM scanner
# BuildKit runs for --sbom, and serves them
# from a local registry acting as a mirror for docker.io and gcr.io. The result is
# described in an env file (KEY=VALUE lines) whose path is printed at the end.
# "down" stops only what "up" started: the mirror container and a dockerd it launched.
#
# The pieces: lib/ (shared shell functions, one file per responsibility) and
# standins/<image>/ (one recipe per stand-in image, each a build.sh with its
# ensure_ and build_ functions, plus the files it copies into the image).
set -euo pipefail

TESTBED=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$TESTBED/.." && pwd)

# shellcheck source=lib/common.sh
source "$TESTBED/lib/common.sh"

STATE_DIR=${GOTPL_DOCKER_TIER_DIR:-/var/lib/gotpl-docker-tier}
ENV_FILE=${GOTPL_DOCKER_TIER_ENV:-$STATE_DIR/env}
STATE_FILE=$STATE_DIR/state
LOG_DIR=$STATE_DIR/logs
CACHE_DIR=$STATE_DIR/cache
BUILDKITD_TOML=$STATE_DIR/buildkitd.toml
MIRROR_NAME=gotpl-mirror
MIRROR_PORT=${GOTPL_MIRROR_PORT:-15000}
MIRROR=127.0.0.1:$MIRROR_PORT
# The releases the generated project pins (cookiecutter.json, "_pins").
BUILDKIT_VERSION=${GOTPL_BUILDKIT_VERSION:-$(template_value _pins buildkit)}
BUILDKIT_IMAGE=moby/buildkit:$BUILDKIT_VERSION
DISTROLESS=$(template_value _pins distroless)
STANDIN_BUILDER=gotpl-standins
OURS_LABEL=org.gotpl.docker-tier
PULL_PROBE_TIMEOUT=${GOTPL_PULL_PROBE_TIMEOUT:-30}
DOCKERD_START_TIMEOUT=${GOTPL_DOCKERD_START_TIMEOUT:-60}
STANDINS=$TESTBED/standins
# The pipeline tier's Node tools (gitlab-ci-local), pinned by their package-lock.json.
NODE_TOOLS=$REPO_ROOT/tools/node

# shellcheck source=lib/packages.sh
source "$TESTBED/lib/packages.sh"
# shellcheck source=lib/engine.sh
source "$TESTBED/lib/engine.sh"
# shellcheck source=lib/buildx.sh
source "$TESTBED/lib/buildx.sh"
# shellcheck source=lib/rootfs.sh
source "$TESTBED/lib/rootfs.sh"
# shellcheck source=lib/mirror.sh
source "$TESTBED/lib/mirror.sh"
# shellcheck source=lib/outputs.sh
source "$TESTBED/lib/outputs.sh"
# shellcheck source=lib/pipeline-tools.sh
source "$TESTBED/lib/pipeline-tools.sh"
# shellcheck source=standins/registry/build.sh
source "$STANDINS/registry/build.sh"
# shellcheck source=standins/buildkit/build.sh
source "$STANDINS/buildkit/build.sh"
# shellcheck source=standins/buildkit-rootless/build.sh
source "$STANDINS/buildkit-rootless/build.sh"
# shellcheck source=standins/golang/build.sh
source "$STANDINS/golang/build.sh"
# shellcheck source=standins/golang-debian/build.sh
source "$STANDINS/golang-debian/build.sh"
# shellcheck source=standins/distroless/build.sh
source "$STANDINS/distroless/build.sh"
# shellcheck source=standins/sbom-scanner/build.sh
source "$STANDINS/sbom-scanner/build.sh"
# The pipeline tier's docker executor: the job image (also the shared builder's job
# in the Docker tier), the dind service, and the emulator's own helper and wait images.
# shellcheck source=standins/docker/build.sh
source "$STANDINS/docker/build.sh"
# shellcheck source=standins/dind/build.sh
source "$STANDINS/dind/build.sh"
# shellcheck source=standins/gcl-helper/build.sh
source "$STANDINS/gcl-helper/build.sh"
# shellcheck source=standins/gcl-wait/build.sh
source "$STANDINS/gcl-wait/build.sh"
# The testbed's own image, built online too: the gate that makes every test registry
# as strict as GitLab's (harness.infra.registry runs it in front of registry:2).
# shellcheck source=standins/strict-registry/build.sh
source "$STANDINS/strict-registry/build.sh"

# Without public pulls: every stand-in, the mirror serving them, and one smoke build if anything was new.
ensure_standins() { # go-minor...
	local built_any=0 minor smoke_go=""
	write_buildkitd_config "$MIRROR"
	local_has registry:2 || built_any=1
	ensure_registry_image
	ensure_mirror
	standin_current "$BUILDKIT_IMAGE" "$BUILDKIT_RECIPE" || built_any=1
	ensure_buildkit_image
	standin_current "$BUILDKIT_IMAGE-rootless" "$BUILDKIT_RECIPE" || built_any=1
	ensure_buildkit_rootless_image
	for minor in "$@"; do
		if ! mirror_has library/golang "$(go_patch "$minor")"; then
			built_any=1
			smoke_go=${smoke_go:-$minor} # smoke-test a Go image that is new
		fi
		ensure_golang_image "$minor"
		# The realistic Debian-based image only for the benchmark (make bench sets
		# GOTPL_BENCH_IMAGES=1): no test needs it, and it takes a minute and a half.
		if [[ ${GOTPL_BENCH_IMAGES:-0} == 1 ]]; then ensure_golang_debian_image "$minor"; fi
	done
	{ mirror_has "distroless/$DISTROLESS" latest && mirror_has "distroless/$DISTROLESS" nonroot; } || built_any=1
	ensure_distroless_images
	ensure_sbom_scanner_image
	ensure_dind_image
	ensure_gcl_helper_image
	ensure_gcl_wait_image
	# The job image carries the buildx built in the background: as late as possible.
	ensure_buildx
	ensure_docker_cli_image
	if [[ $built_any == 1 ]]; then smoke_test "${smoke_go:-$1}"; fi
	standin_builder_down
}

cmd_up() {
	local gos=("$@") t0 offline=0 mirror=""
	((${#gos[@]})) || gos=("$(template_value go_version)")
	[[ $(id -u) == 0 ]] || die "up must run as root"
	mkdir -p "$STATE_DIR" "$LOG_DIR" "$CACHE_DIR"
	t0=$(now)
	start_node_tools
	start_buildx

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
		ensure_standins "${gos[@]}"
	else
		write_buildkitd_config ""
	fi
	ensure_buildx # online, or offline where ensure_standins did it already

	ensure_strict_registry_image
	ensure_pipeline_tools

	write_env_file "$mirror" "$offline" "${gos[*]}"
	say "timings:"
	printf '  %s\n' "${TIMINGS[@]}"
	say "up done in $(elapsed "$t0")s"
	say "env file: $ENV_FILE"
	printf '%s\n' "$ENV_FILE"
}

cmd_down() {
	if docker_ok; then
		stop_mirror
		standin_builder_down
	fi
	state_set MIRROR_CONTAINER ""
	stop_dockerd
}

cmd_status() {
	say "state dir: $STATE_DIR"
	if docker_ok; then
		say "daemon: $(docker version -f 'server {{.Server.Version}}, client {{.Client.Version}}' 2>/dev/null)"
		if our_dockerd_alive; then say "daemon started by testbed.sh (pid $(state_get DOCKERD_PID))"; else say "daemon not started by testbed.sh"; fi
		say "buildx: $(docker buildx version 2>/dev/null || echo missing)"
		mirror_status
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
