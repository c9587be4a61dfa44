# shellcheck shell=bash
# standins/docker/build.sh: the docker:<docker_version> job image stand-in: Debian sid's
# docker CLI and buildx plugin (the newest Debian ships; see README for how they differ
# from the pinned release), a shell, and this folder's docker-entrypoint.sh.

# The tag the generated CI file names (cookiecutter.json, docker_version).
DOCKER_TAG=$(template_value docker_version)
DOCKER_CLI_IMAGE=docker:$DOCKER_TAG

build_docker_cli_image() {
	local log=$LOG_DIR/standin-docker.log root version
	root=$(new_workdir docker-cli)/rootfs
	sid_rootfs "$root" "$log" docker-cli docker-buildx ca-certificates
	install -D -m 0755 "$STANDINS/docker/docker-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
	# As in the real image: the client half of the TLS material lands in /certs/client.
	mkdir -p "$root/certs/client"
	chmod 1777 "$root/certs" "$root/certs/client"
	version=$(chroot "$root" docker --version | sed -n 's/^Docker version \([^+,]*\).*/\1/p')
	import_rootfs "$root" "$DOCKER_CLI_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"ENV DOCKER_VERSION=$version" 'ENV DOCKER_TLS_CERTDIR=/certs' \
		"LABEL org.gotpl.standin.docker-version=$version" \
		'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["sh"]'
	rm -rf "$(dirname "$root")"
}

ensure_docker_cli_image() {
	phase_begin "standin $DOCKER_CLI_IMAGE"
	local note=present
	if ! local_has "$DOCKER_CLI_IMAGE"; then
		build_docker_cli_image
		note="built from sid"
	fi
	mirror_has library/docker "$DOCKER_TAG" ||
		push_to_mirror "$DOCKER_CLI_IMAGE" "library/docker:$DOCKER_TAG" "$LOG_DIR/standin-docker.log"
	phase_end "$note"
}
