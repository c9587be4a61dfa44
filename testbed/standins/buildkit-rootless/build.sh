# shellcheck shell=bash
# standins/buildkit-rootless/build.sh: the moby/buildkit:<pinned release>-rootless stand-in.
# The same buildkitd, buildctl, runc, Debian tools and the release's own
# buildctl-daemonless.sh as the buildkit stand-in, plus fuse-overlayfs as in the
# official rootless stage, run as uid 1000 under rootlesskit (from Debian trixie), with
# newuidmap/newgidmap (Debian's uidmap).
#
# newuidmap and newgidmap carry file capabilities (cap_setuid, cap_setgid) instead of
# Debian's setuid-root bit. Why: the kernel lets a process write a user namespace's
# uid_map only if the opener has CAP_SYS_ADMIN over that namespace (map_write in
# kernel/user_namespace.c). The namespace's owner (uid 1000, who made it) has that by
# the owner rule; a setuid-root helper runs with euid 0, is not the owner, and so needs
# CAP_SYS_ADMIN in the container itself, which an unprivileged container lacks.
# Debian's uidmap is built without shadow's code that drops back to the caller's uid,
# hence "write to uid_map failed: Operation not permitted" without CAP_SYS_ADMIN.
# With file capabilities the helper keeps euid 1000 and gets only CAP_SETUID/CAP_SETGID,
# both in Docker's default capability set.

ROOTLESS_IMAGE=$BUILDKIT_IMAGE-rootless
ROOTLESS_UID=1000
# The subordinate ids of the rootless user, as the official image sets them.
ROOTLESS_SUBIDS=100000:65536

build_buildkit_rootless_image() {
	local log=$LOG_DIR/standin-buildkit-rootless.log bin root kit ids home=/home/user
	bin=$(ensure_buildkit_files)
	# rootlesskit comes from trixie: add its source if the engine install did not leave it.
	if ! apt-cache show rootlesskit/trixie >/dev/null 2>&1; then
		add_trixie_source || die "no Debian source to derive trixie from" "$log"
		run_logged "$log" "apt-get update (with trixie)" apt-get update
		apt_mark_updated
	fi
	kit=$(unpack_deb rootlesskit/trixie "$log")
	ids=$(unpack_deb uidmap "$log")
	root=$(new_workdir buildkit-rootless)/rootfs
	add_buildkit_common "$root" "$bin" "$log" fuse-overlayfs libfuse3-3
	copy_binary "$kit/usr/bin/rootlesskit" "$root" /usr/bin/rootlesskit
	copy_binary "$ids/usr/bin/newuidmap" "$root" /usr/bin/newuidmap
	copy_binary "$ids/usr/bin/newgidmap" "$root" /usr/bin/newgidmap
	chmod 0755 "$root/usr/bin/newuidmap" "$root/usr/bin/newgidmap" # no setuid bit
	setcap cap_setuid=ep "$root/usr/bin/newuidmap" >>"$log" 2>&1 || die "setcap failed" "$log"
	setcap cap_setgid=ep "$root/usr/bin/newgidmap" >>"$log" 2>&1 || die "setcap failed" "$log"
	printf 'user:x:%s:%s:user:%s:/bin/sh\n' "$ROOTLESS_UID" "$ROOTLESS_UID" "$home" >>"$root/etc/passwd"
	printf 'user:x:%s:\n' "$ROOTLESS_UID" >>"$root/etc/group"
	printf 'user:%s\n' "$ROOTLESS_SUBIDS" >"$root/etc/subuid"
	printf 'user:%s\n' "$ROOTLESS_SUBIDS" >"$root/etc/subgid"
	mkdir -p "$root/run/user/$ROOTLESS_UID" "$root$home/.local/tmp" "$root$home/.local/share/buildkit"
	chown -R "$ROOTLESS_UID:$ROOTLESS_UID" "$root/run/user/$ROOTLESS_UID" "$root$home"
	chmod 0700 "$root/run/user/$ROOTLESS_UID"
	import_rootfs "$root" "$ROOTLESS_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"ENV HOME=$home" 'ENV USER=user' "ENV XDG_RUNTIME_DIR=/run/user/$ROOTLESS_UID" \
		"ENV TMPDIR=$home/.local/tmp" \
		"ENV BUILDKIT_HOST=unix:///run/user/$ROOTLESS_UID/buildkit/buildkitd.sock" \
		"USER $ROOTLESS_UID:$ROOTLESS_UID" "LABEL org.gotpl.standin.recipe=$BUILDKIT_RECIPE" \
		"VOLUME [\"$home/.local/share/buildkit\"]" \
		'ENTRYPOINT ["rootlesskit", "buildkitd"]'
	check_image "$ROOTLESS_IMAGE" "$log" "${BUILDKIT_CHECKS[@]}" "fuse-overlayfs --version" "rootlesskit --version"
	rm -rf "$(dirname "$root")" "$(dirname "$kit")" "$(dirname "$ids")"
}

ensure_buildkit_rootless_image() {
	phase_begin "standin buildkit-rootless"
	local note=present built=0
	if ! standin_current "$ROOTLESS_IMAGE" "$BUILDKIT_RECIPE"; then
		ensure_packages busybox-static ca-certificates runc libcap2-bin
		build_buildkit_rootless_image
		note="built buildkit $BUILDKIT_VERSION-rootless"
		built=1
	fi
	if [[ $built == 1 ]] || ! mirror_has moby/buildkit "$BUILDKIT_VERSION-rootless"; then
		push_to_mirror "$ROOTLESS_IMAGE" "moby/buildkit:$BUILDKIT_VERSION-rootless" "$LOG_DIR/standin-buildkit-rootless.log"
	fi
	phase_end "$note"
}
