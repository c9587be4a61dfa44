# shellcheck shell=bash
# standins/dind/build.sh: the docker:<docker_version>-dind service stand-in: Debian sid's
# dockerd, containerd, runc, iptables, tini (as docker-init) and openssl, plus this
# folder's dockerd-entrypoint.sh, which makes the TLS material the way the real one does.

DIND_IMAGE=docker:$DOCKER_TAG-dind # DOCKER_TAG comes from standins/docker/build.sh

build_dind_image() {
	local log=$LOG_DIR/standin-dind.log root version
	root=$(new_workdir dind)/rootfs
	sid_rootfs "$root" "$log" docker.io docker-cli docker-buildx containerd runc tini \
		iptables iproute2 openssl ca-certificates procps
	install -D -m 0755 "$STANDINS/dind/dockerd-entrypoint.sh" "$root/usr/local/bin/dockerd-entrypoint.sh"
	mkdir -p "$root/certs/client" "$root/var/lib/docker"
	chmod 1777 "$root/certs" "$root/certs/client"
	version=$(chroot "$root" dockerd --version | sed -n 's/^Docker version \([^+,]*\).*/\1/p')
	import_rootfs "$root" "$DIND_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"ENV DOCKER_VERSION=$version" 'ENV DOCKER_TLS_CERTDIR=/certs' \
		"LABEL org.gotpl.standin.docker-version=$version" \
		'VOLUME ["/var/lib/docker"]' 'EXPOSE 2375 2376' \
		'ENTRYPOINT ["dockerd-entrypoint.sh"]' 'CMD []'
	rm -rf "$(dirname "$root")"
}

ensure_dind_image() {
	phase_begin "standin $DIND_IMAGE"
	local note=present
	if ! local_has "$DIND_IMAGE"; then
		build_dind_image
		note="built from sid"
	fi
	mirror_has library/docker "$DOCKER_TAG-dind" ||
		push_to_mirror "$DIND_IMAGE" "library/docker:$DOCKER_TAG-dind" "$LOG_DIR/standin-dind.log"
	phase_end "$note"
}
