# shellcheck shell=bash
# standins/buildkit-rootless/build.sh: the moby/buildkit:<pinned release>-rootless stand-in.
# The same buildkitd and buildctl as the buildkit stand-in, run as uid 1000 under
# rootlesskit (from Debian trixie), with newuidmap/newgidmap (Debian's uidmap) and a
# daemonless launcher of our own at the path the real image uses.
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

# Unpack a Debian package without installing it; prints the directory.
unpack_deb() { # package[/release] log
	local pkg=$1 log=$2 dir
	dir=$(new_workdir "deb-${pkg%%/*}")
	apt_update
	(cd "$dir" && apt-get download "$pkg") >>"$log" 2>&1 || die "apt-get download $pkg failed" "$log"
	dpkg-deb -x "$dir"/*.deb "$dir/root" >>"$log" 2>&1 || die "unpacking $pkg failed" "$log"
	printf '%s\n' "$dir/root"
}

build_buildkit_rootless_image() {
	local log=$LOG_DIR/standin-buildkit-rootless.log bin=$CACHE_DIR/buildkit-$BUILDKIT_VERSION
	local root runc kit ids home=/home/user
	[[ -x $bin/buildkitd && -x $bin/buildctl ]] || build_buildkit_binaries "$bin"
	runc=$(command -v runc) || die "runc is not installed" "$LOG_DIR/apt.log"
	# rootlesskit comes from trixie: add its source if the engine install did not leave it.
	if ! apt-cache show rootlesskit/trixie >/dev/null 2>&1; then
		add_trixie_source || die "no Debian source to derive trixie from" "$log"
		run_logged "$log" "apt-get update (with trixie)" apt-get update
		apt_mark_updated
	fi
	kit=$(unpack_deb rootlesskit/trixie "$log")
	ids=$(unpack_deb uidmap "$log")
	root=$(new_workdir buildkit-rootless)/rootfs
	add_busybox "$root"
	add_base_files "$root"
	copy_binary "$bin/buildkitd" "$root" /usr/bin/buildkitd
	copy_binary "$bin/buildctl" "$root" /usr/bin/buildctl
	copy_binary "$runc" "$root" /usr/bin/runc
	copy_binary "$kit/usr/bin/rootlesskit" "$root" /usr/bin/rootlesskit
	copy_binary "$ids/usr/bin/newuidmap" "$root" /usr/bin/newuidmap
	copy_binary "$ids/usr/bin/newgidmap" "$root" /usr/bin/newgidmap
	chmod 0755 "$root/usr/bin/newuidmap" "$root/usr/bin/newgidmap" # no setuid bit
	setcap cap_setuid=ep "$root/usr/bin/newuidmap" >>"$log" 2>&1 || die "setcap failed" "$log"
	setcap cap_setgid=ep "$root/usr/bin/newgidmap" >>"$log" 2>&1 || die "setcap failed" "$log"
	install -m 0755 "$STANDINS/buildkit-rootless/buildctl-daemonless.sh" "$root/usr/bin/buildctl-daemonless.sh"
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
		"USER $ROOTLESS_UID:$ROOTLESS_UID" \
		"VOLUME [\"$home/.local/share/buildkit\"]" \
		'ENTRYPOINT ["rootlesskit", "buildkitd"]'
	rm -rf "$(dirname "$root")" "$(dirname "$kit")" "$(dirname "$ids")"
}

ensure_buildkit_rootless_image() {
	phase_begin "standin buildkit-rootless"
	local note=present
	if ! local_has "$ROOTLESS_IMAGE"; then
		ensure_packages busybox-static ca-certificates runc libcap2-bin
		build_buildkit_rootless_image
		note="built buildkit $BUILDKIT_VERSION-rootless"
	fi
	if ! mirror_has moby/buildkit "$BUILDKIT_VERSION-rootless"; then
		push_to_mirror "$ROOTLESS_IMAGE" "moby/buildkit:$BUILDKIT_VERSION-rootless" "$LOG_DIR/standin-buildkit-rootless.log"
	fi
	phase_end "$note"
}
