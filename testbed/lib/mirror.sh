# shellcheck shell=bash
# mirror.sh: the pull probe, the gotpl-mirror registry on 127.0.0.1, the stand-in builder and the smoke build.

# Decide by trying whether public images can be pulled; a hang counts as "no".
can_pull_public() {
	local log=$LOG_DIR/pull-probe.log
	printf '\n==== %s: docker pull registry:2\n' "$(date -Is)" >>"$log"
	timeout "$PULL_PROBE_TIMEOUT" docker pull registry:2 >>"$log" 2>&1
}

mirror_has() { # repository tag
	curl -fsS -o /dev/null -I --max-time 10 \
		-H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://$MIRROR/v2/$1/manifests/$2" 2>/dev/null
}

# Phase "mirror": the registry:2 stand-in running as the mirror, serving its own image too.
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

# Only the mirror that this state dir records, and only if it carries our label.
stop_mirror() {
	local label
	label=$(docker inspect -f '{{index .Config.Labels "'"$OURS_LABEL"'"}}' "$MIRROR_NAME" 2>/dev/null || true)
	if [[ $label == mirror && $(state_get MIRROR_CONTAINER) == "$MIRROR_NAME" ]] &&
		docker stop "$MIRROR_NAME" >/dev/null; then
		say "stopped the mirror container $MIRROR_NAME"
	fi
}

mirror_status() {
	say "mirror container: $(docker inspect -f '{{.State.Status}}' "$MIRROR_NAME" 2>/dev/null || echo absent)"
	if curl -fsS -o /dev/null --max-time 2 "http://$MIRROR/v2/" 2>/dev/null; then
		say "mirror catalog: $(curl -fsS --max-time 5 "http://$MIRROR/v2/_catalog")"
	fi
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
