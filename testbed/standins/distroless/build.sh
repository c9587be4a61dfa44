# shellcheck shell=bash
# standins/distroless/build.sh: the gcr.io/distroless/<pinned, e.g. static-debian13> stand-ins
# (latest, nonroot), built for two platforms with this folder's Dockerfile.

build_distroless_images() {
	local log=$LOG_DIR/standin-distroless.log ctx root target
	ctx=$(new_workdir distroless)
	root=$ctx/rootfs
	cp "$STANDINS/distroless/Dockerfile" "$ctx/Dockerfile"
	mkdir -p "$ctx/home-nonroot" "$root/home" "$root/etc/ssl/certs" "$root/root" "$root/tmp"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
	# The users and groups of the real image; no login shell exists.
	printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
		'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
		'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$root/etc/passwd"
	printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'tty:x:5:' 'staff:x:50:' 'nonroot:x:65532:' >"$root/etc/group"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
	printf 'PRETTY_NAME="Distroless static stand-in (testbed)"\nID=debian\nVERSION_ID="%s"\n' \
		"${DISTROLESS##*debian}" >"$root/etc/os-release"
	standin_builder_up "$log"
	for target in latest nonroot; do
		run_logged "$log" "building the distroless:$target stand-in" \
			docker buildx build --builder "$STANDIN_BUILDER" --platform linux/amd64,linux/arm64 \
			--provenance=false --sbom=false --target "$target" \
			-t "$MIRROR/distroless/$DISTROLESS:$target" --push "$ctx"
	done
	rm -rf "$ctx"
}

ensure_distroless_images() {
	phase_begin "standin distroless"
	if mirror_has "distroless/$DISTROLESS" latest && mirror_has "distroless/$DISTROLESS" nonroot; then
		phase_end "in mirror"
		return
	fi
	ensure_packages ca-certificates
	build_distroless_images
	phase_end "built linux/amd64+linux/arm64"
}
