# shellcheck shell=bash
# common.sh: messages, logged commands, phase timings and the state file, shared by every part of the testbed.

# Docker's own plugin directory, in case the docker client found first does not look there.
export PATH=$PATH:/usr/libexec/docker/cli-plugins
export DEBIAN_FRONTEND=noninteractive

say() { printf '[testbed] %s\n' "$*"; }

# One clear line, naming the log that holds the details, then stop.
die() {
	local msg=$1 logfile=${2:-}
	if [[ -n $logfile ]]; then
		printf '[testbed] ERROR: %s (log: %s)\n' "$msg" "$logfile" >&2
	else
		printf '[testbed] ERROR: %s\n' "$msg" >&2
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

# The state file holds KEY=VALUE lines: what "up" started, so that "down" stops only that.
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

# An empty scratch directory under the state dir, printed.
new_workdir() { # name
	local dir=$STATE_DIR/work/$1
	rm -rf "$dir"
	mkdir -p "$dir"
	printf '%s' "$dir"
}

# A value of cookiecutter.json, the one place defaults and pinned releases are written:
# template_value go_version, template_value _pins buildkit, template_value _pins go_patch 1.27
# (prints nothing for a key that is absent).
template_value() { # key...
	python3 -c '
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2:]:
    value = value.get(key, "") if isinstance(value, dict) else ""
print(value)' "$REPO_ROOT/cookiecutter.json" "$@"
}
