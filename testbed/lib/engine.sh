# shellcheck shell=bash
# engine.sh: install Docker Engine and buildx from Debian, and start or stop the dockerd that "up" launches.

install_engine() {
	local log=$LOG_DIR/apt.log
	say "installing Docker Engine and buildx from Debian (log: $log)"
	if add_trixie_source &&
		{ printf '\n$ apt-get update (with trixie)\n'; apt-get update; } >>"$log" 2>&1 &&
		{
			printf '\n$ apt-get install docker.io/trixie docker-cli/trixie docker-buildx/trixie\n'
			apt-get install -y --no-install-recommends docker.io/trixie docker-cli/trixie docker-buildx/trixie
		} >>"$log" 2>&1; then
		apt_mark_updated
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
		apt_mark_updated
	fi
	buildx_ok || die "docker buildx does not work (no buildx plugin could be installed)" "$log"
}

# True when the recorded pid is still a dockerd (pids get reused).
our_dockerd_alive() {
	local pid
	pid=$(state_get DOCKERD_PID)
	[[ -n $pid ]] && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dockerd ]]
}

start_dockerd() {
	local log=$LOG_DIR/dockerd.log pid waited=0
	mkdir -p /etc/docker
	if [[ ! -e /etc/docker/daemon.json ]]; then
		# The classic overlay2 image store is enough: the tests build with the docker-container driver.
		printf '{\n  "storage-driver": "overlay2"\n}\n' >/etc/docker/daemon.json
	fi
	printf '\n==== dockerd started by testbed.sh at %s\n' "$(date -Is)" >>"$log"
	# A session of its own, so that the daemon outlives this script and its terminal, and
	# none of the caller's descriptors beyond the standard three: a lock (flock's) or a
	# pipe (a CI log's) held open by the daemon would stay held for the daemon's lifetime.
	(
		for fd in "/proc/$BASHPID/fd/"*; do
			fd=${fd##*/}
			((fd > 2)) && eval "exec $fd>&-"
		done
		exec setsid dockerd </dev/null >>"$log" 2>&1
	) &
	pid=$!
	state_set DOCKERD_PID "$pid"
	while ! docker_ok; do
		kill -0 "$pid" 2>/dev/null || { state_set DOCKERD_PID ""; die "dockerd exited during start-up" "$log"; }
		((waited >= DOCKERD_START_TIMEOUT)) && die "dockerd did not answer within ${DOCKERD_START_TIMEOUT}s" "$log"
		sleep 1
		waited=$((waited + 1))
	done
}

# Stop dockerd only if "up" started it (as recorded in the state file).
stop_dockerd() {
	local pid waited=0
	if our_dockerd_alive; then
		pid=$(state_get DOCKERD_PID)
		kill -TERM "$pid"
		while kill -0 "$pid" 2>/dev/null; do
			((waited >= 60)) && die "dockerd (pid $pid) did not stop within 60s" "$LOG_DIR/dockerd.log"
			sleep 1
			waited=$((waited + 1))
		done
		say "stopped dockerd (pid $pid), which testbed.sh had started"
	else
		say "dockerd was not started by testbed.sh: left alone"
	fi
	state_set DOCKERD_PID ""
}

# Phases "install" and "daemon": an engine with buildx, and a daemon that answers.
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
