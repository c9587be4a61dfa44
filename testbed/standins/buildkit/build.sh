# shellcheck shell=bash
# standins/buildkit/build.sh: the moby/buildkit:<pinned release> stand-in (also tagged
# buildx-stable-1, buildx's default): buildkitd and buildctl built from source, plus runc.

build_buildkit_binaries() { # outdir
	local out=$1 log=$LOG_DIR/standin-buildkit.log dir
	command -v go >/dev/null || die "Go is needed to build BuildKit" "$log"
	# go install @version refuses this module (its go.mod has exclude directives):
	# fetch it through the module proxy and build it as the main module instead.
	dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" 2>>"$log" |
		awk -F'"' '$2 == "Dir" { print $4 }') || true
	[[ -n $dir && -d $dir ]] || die "downloading github.com/moby/buildkit@$BUILDKIT_VERSION failed" "$log"
	mkdir -p "$out"
	(
		cd "$dir"
		printf '\n$ go build buildkitd buildctl in %s\n' "$dir"
		# GOTOOLCHAIN=auto: a BuildKit whose go.mod wants a newer Go than this machine's
		# makes the go command fetch that toolchain through the module proxy.
		CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN=auto go build -trimpath \
			-ldflags "-s -w -X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" \
			-o "$out/" ./cmd/buildkitd ./cmd/buildctl
	) >>"$log" 2>&1 || die "building buildkitd/buildctl $BUILDKIT_VERSION failed" "$log"
}

build_buildkit_image() {
	local log=$LOG_DIR/standin-buildkit.log bin=$CACHE_DIR/buildkit-$BUILDKIT_VERSION root runc
	# The compiled binaries are kept, so a lost image is rebuilt in seconds.
	[[ -x $bin/buildkitd && -x $bin/buildctl ]] || build_buildkit_binaries "$bin"
	runc=$(command -v runc) || die "runc is not installed" "$LOG_DIR/apt.log"
	root=$(new_workdir buildkit)/rootfs
	mkdir -p "$root/etc/buildkit" "$root/var/lib/buildkit"
	add_busybox "$root"
	add_base_files "$root"
	copy_binary "$bin/buildkitd" "$root" /usr/bin/buildkitd
	copy_binary "$bin/buildctl" "$root" /usr/bin/buildctl
	copy_binary "$runc" "$root" /usr/bin/runc
	import_rootfs "$root" "$BUILDKIT_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'VOLUME ["/var/lib/buildkit"]' 'ENTRYPOINT ["buildkitd"]'
	rm -rf "$(dirname "$root")"
}

ensure_buildkit_image() {
	phase_begin "standin buildkit"
	local note=present
	if ! local_has "$BUILDKIT_IMAGE"; then
		ensure_packages busybox-static ca-certificates runc
		build_buildkit_image
		note="built buildkit $BUILDKIT_VERSION"
	fi
	# The pinned tag for builders created as the generated CI file creates them, and
	# buildx's default tag for builders created without an image.
	docker tag "$BUILDKIT_IMAGE" moby/buildkit:buildx-stable-1
	if ! mirror_has moby/buildkit "$BUILDKIT_VERSION"; then
		push_to_mirror "$BUILDKIT_IMAGE" "moby/buildkit:$BUILDKIT_VERSION" "$LOG_DIR/standin-buildkit.log"
		push_to_mirror "$BUILDKIT_IMAGE" moby/buildkit:buildx-stable-1 "$LOG_DIR/standin-buildkit.log"
	fi
	phase_end "$note"
}
