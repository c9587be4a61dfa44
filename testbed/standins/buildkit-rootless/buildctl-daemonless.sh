#!/bin/sh
# buildctl-daemonless.sh (testbed stand-in, our own): start a private buildkitd for one
# buildctl command, then stop it. The real moby/buildkit rootless image ships a launcher
# of this name; this one takes the same inputs so a CI job runs unchanged on either.
#
#   buildctl-daemonless.sh build --frontend dockerfile.v0 ...
#
# Inputs: $BUILDKITD_FLAGS (extra buildkitd flags, split on spaces),
# $BUILDCTL_CONNECT_RETRIES_MAX (how many 0.2 s waits for the daemon, default 50).
# As a non-root user buildkitd runs under rootlesskit, which needs newuidmap/newgidmap
# and ranges in /etc/subuid and /etc/subgid for that user.
set -eu

retries=${BUILDCTL_CONNECT_RETRIES_MAX:-50}
work=$(mktemp -d "${TMPDIR:-/tmp}/buildctl-daemonless.XXXXXX")
daemon_pid=""

stop_daemon() {
	if [ -n "$daemon_pid" ]; then
		kill "$daemon_pid" 2>/dev/null || true
		wait "$daemon_pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap stop_daemon EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" = 0 ]; then
	address=unix:///run/buildkit/buildkitd.sock
	# shellcheck disable=SC2086 # BUILDKITD_FLAGS is a list of flags by design
	buildkitd ${BUILDKITD_FLAGS:-} --addr="$address" >"$work/daemon.log" 2>&1 &
else
	: "${XDG_RUNTIME_DIR:?XDG_RUNTIME_DIR must name a directory this user owns}"
	address=unix://$XDG_RUNTIME_DIR/buildkit/buildkitd.sock
	# shellcheck disable=SC2086
	rootlesskit buildkitd ${BUILDKITD_FLAGS:-} --addr="$address" >"$work/daemon.log" 2>&1 &
fi
daemon_pid=$!

tries=0
until buildctl --addr="$address" debug workers >/dev/null 2>&1; do
	if ! kill -0 "$daemon_pid" 2>/dev/null || [ "$tries" -ge "$retries" ]; then
		echo "buildctl-daemonless.sh: buildkitd did not answer on $address; its log:" >&2
		cat "$work/daemon.log" >&2
		exit 1
	fi
	tries=$((tries + 1))
	sleep 0.2
done

buildctl --addr="$address" "$@"
