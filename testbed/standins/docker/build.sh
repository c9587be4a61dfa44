# shellcheck shell=bash
# standins/docker/build.sh: the docker:<docker_version> job image stand-in: Debian sid's
# docker CLI (the newest Debian ships; see README for how it differs from the pinned
# release), the buildx release the official image carries (lib/buildx.sh) where that
# image puts it, a shell, and this folder's docker-entrypoint.sh.

# The tag the generated CI file names (cookiecutter.json, docker_version).
DOCKER_TAG=$(template_value docker_version)
DOCKER_CLI_IMAGE=docker:$DOCKER_TAG

build_docker_cli_image() {
	local log=$LOG_DIR/standin-docker.log root version
	root=$(new_workdir docker-cli)/rootfs
	sid_rootfs "$root" "$log" docker-cli ca-certificates
	install -D -m 0755 "$BUILDX_BIN" "$root/usr/local/libexec/docker/cli-plugins/docker-buildx"
	install -D -m 0755 "$STANDINS/docker/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
	# As in the real image: the client half of the TLS material lands in /certs/client.
	mkdir -p "$root/certs/client"
	chmod 1777 "$root/certs" "$root/certs/client"
	version=$(chroot "$root" docker --version | sed -n 's/^Docker version \([^+,]*\).*/\1/p')
	import_rootfs "$root" "$DOCKER_CLI_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"ENV DOCKER_VERSION=$version" 'ENV DOCKER_TLS_CERTDIR=/certs' \
		"LABEL org.gotpl.standin.docker-version=$version" \
		"LABEL org.gotpl.standin.buildx-version=$BUILDX_VERSION" \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["sh"]'
	rm -rf "$(dirname "$root")"
}

ensure_docker_cli_image() {
	phase_begin "standin $DOCKER_CLI_IMAGE"
	local note=present built=0 buildx
	buildx=$(docker image inspect -f '{{index .Config.Labels "org.gotpl.standin.buildx-version"}}' "$DOCKER_CLI_IMAGE" 2>/dev/null) || true
	if [[ $buildx != "$BUILDX_VERSION" ]]; then
		build_docker_cli_image
		note="built from sid, buildx $BUILDX_VERSION"
		built=1
	fi
	if [[ $built == 1 ]] || ! mirror_has library/docker "$DOCKER_TAG"; then
		push_to_mirror "$DOCKER_CLI_IMAGE" "library/docker:$DOCKER_TAG" "$LOG_DIR/standin-docker.log"
	fi
	phase_end "$note"
}
