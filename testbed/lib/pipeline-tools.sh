# shellcheck shell=bash
# pipeline-tools.sh: what tests/pipeline needs besides the engine.

# rsync (gitlab-ci-local copies the job's files with it), iptables and busybox (the job
# engine's bridge and placeholder image), and gitlab-ci-local itself, installed from the
# npm registry into tools/node exactly as tools/node/package-lock.json pins it.
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
