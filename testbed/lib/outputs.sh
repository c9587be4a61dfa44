# shellcheck shell=bash
# outputs.sh: what "up" hands to the tests: the buildkitd.toml (rendered by harness.builders.buildkitd) and the env file.

write_buildkitd_config() { # mirror-or-empty
	local mirror=$1 tmp args=()
	if [[ -n $mirror ]]; then args=(--mirror "$mirror"); fi
	mkdir -p "$STATE_DIR"
	tmp=$(mktemp "$STATE_DIR/.toml.XXXXXX")
	PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" python3 -m harness.builders.buildkitd "${args[@]}" >"$tmp" ||
		{ rm -f "$tmp"; die "python3 -m harness.builders.buildkitd failed to write the buildkitd configuration"; }
	chmod 0644 "$tmp"
	mv "$tmp" "$BUILDKITD_TOML"
}

write_env_file() { # mirror-or-empty offline go-minors
	local mirror=$1 offline=$2 gos=$3 tmp
	mkdir -p "$(dirname "$ENV_FILE")"
	tmp=$(mktemp "$(dirname "$ENV_FILE")/.env.XXXXXX")
	{
		printf '# Written by testbed/testbed.sh up at %s\n' "$(date -Is)"
		printf 'GOTPL_BUILDKITD_CONFIG=%s\n' "$BUILDKITD_TOML"
		printf 'GOTPL_MIRROR=%s\n' "$mirror"
		printf 'GOTPL_OFFLINE=%s\n' "$offline"
		printf 'GOTPL_BUILDKIT_IMAGE=%s\n' "$BUILDKIT_IMAGE"
		printf 'GOTPL_GO_VERSIONS=%s\n' "$gos"
		printf 'GOTPL_BUILDX_CREATE_FLAGS=--driver docker-container --driver-opt network=host --driver-opt image=%s --buildkitd-config %s\n' "$BUILDKIT_IMAGE" "$BUILDKITD_TOML"
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
