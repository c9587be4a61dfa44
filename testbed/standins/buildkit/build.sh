# shellcheck shell=bash
# standins/buildkit/build.sh: the moby/buildkit:<pinned release> stand-in (also tagged
# buildx-stable-1, buildx's default): buildkitd and buildctl built from source, the
# release's own entrypoint scripts, the machine's runc under the name the official image
# gives it, and Debian's versions of the tools the official image adds. At v0.34.2 its
# Dockerfile's stage buildkit-export-alpine (Alpine 3.23) installs fuse3, git, openssh,
# openssl, pigz, xz, iptables, ip6tables and util-linux-misc (for unshare); we leave out
# iptables, which only the CNI bridge network uses, and the CNI plugins and QEMU
# emulators it copies in (see testbed/README.md, the fidelity table).

# What the official images add to buildkitd and buildctl, as Debian packages: git for
# Git contexts and private modules, ssh for ssh:// Git remotes, pigz because
# BuildKit's containerd unpacks gzip layers with unpigz when it finds one on PATH
# (pkg/archive/compression, unless CONTAINERD_DISABLE_PIGZ is set), xz for .xz
# sources in ADD, fuse3's fusermount. The rootless image adds fuse-overlayfs.
# The recipe revision of both BuildKit images (see standin_current); 2 added the tools.
BUILDKIT_RECIPE=2
BUILDKIT_DEBS=(git openssh-client openssl pigz xz-utils fuse3)
# Files of the release's source the official image copies in (the Go module holds them).
BUILDKIT_SCRIPTS=(hack/buildkitd-entrypoint hack/with-cgroupfs-remount
	examples/buildctl-daemonless/buildctl-daemonless.sh)

# The release's source, fetched through the module proxy; prints its directory.
buildkit_module_dir() { # log
	local log=$1 dir
	command -v go >/dev/null || die "Go is needed to build BuildKit" "$log"
	dir=$(GOFLAGS=-mod=mod go mod download -json "github.com/moby/buildkit@$BUILDKIT_VERSION" 2>>"$log" |
		awk -F'"' '$2 == "Dir" { print $4 }') || true
	[[ -n $dir && -d $dir ]] || die "downloading github.com/moby/buildkit@$BUILDKIT_VERSION failed" "$log"
	printf '%s\n' "$dir"
}

build_buildkit_binaries() { # outdir
	local out=$1 log=$LOG_DIR/standin-buildkit.log dir
	# go install @version refuses this module (its go.mod has exclude directives):
	# fetch it through the module proxy and build it as the main module instead.
	dir=$(buildkit_module_dir "$log")
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

# The compiled binaries and the release's scripts, kept in the cache directory so a
# lost image is rebuilt in seconds; prints the directory.
ensure_buildkit_files() {
	local bin=$CACHE_DIR/buildkit-$BUILDKIT_VERSION log=$LOG_DIR/standin-buildkit.log dir script
	[[ -x $bin/buildkitd && -x $bin/buildctl ]] || build_buildkit_binaries "$bin"
	for script in "${BUILDKIT_SCRIPTS[@]}"; do
		if [[ ! -x $bin/${script##*/} ]]; then
			dir=${dir:-$(buildkit_module_dir "$log")}
			install -m 0755 "$dir/$script" "$bin/${script##*/}" || die "copying $script failed" "$log"
		fi
	done
	printf '%s\n' "$bin"
}

# What both images hold besides their own files: buildkitd, buildctl, runc, the Debian
# tools, the daemonless launcher.
add_buildkit_common() { # rootfs bindir log package...
	local root=$1 bin=$2 log=$3 runc
	shift 3
	runc=$(command -v runc) || die "runc is not installed" "$LOG_DIR/apt.log"
	add_busybox "$root"
	add_base_files "$root"
	add_debs "$root" "$log" "${BUILDKIT_DEBS[@]}" "$@"
	copy_binary "$bin/buildkitd" "$root" /usr/bin/buildkitd
	copy_binary "$bin/buildctl" "$root" /usr/bin/buildctl
	# The official image's name for its runc, the first one buildkitd looks for.
	copy_binary "$runc" "$root" /usr/bin/buildkit-runc
	install -m 0755 "$bin/buildctl-daemonless.sh" "$root/usr/bin/buildctl-daemonless.sh"
}

# The programs both images hold, each run once in the image.
BUILDKIT_CHECKS=("git --version" "ssh -V" "openssl version" "pigz --version" "unpigz --version"
	"xz --version" "fusermount3 --version" "buildkit-runc --version" "buildkitd --version")

build_buildkit_image() {
	local log=$LOG_DIR/standin-buildkit.log bin root
	bin=$(ensure_buildkit_files)
	root=$(new_workdir buildkit)/rootfs
	add_buildkit_common "$root" "$bin" "$log"
	ln -sf fusermount3 "$root/usr/bin/fusermount"
	# The entrypoint: buildkitd in a cgroup namespace of its own on cgroup v2, through
	# util-linux's unshare as in the official image.
	copy_binary /usr/bin/unshare "$root" /usr/bin/unshare
	install -m 0755 "$bin/buildkitd-entrypoint" "$bin/with-cgroupfs-remount" "$root/usr/bin/"
	mkdir -p "$root/etc/buildkit/cdi" "$root/etc/cdi" "$root/var/run/cdi" "$root/var/lib/buildkit"
	import_rootfs "$root" "$BUILDKIT_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'ENV BUILDKIT_SETUP_CGROUPV2_ROOT=1' "LABEL org.gotpl.standin.recipe=$BUILDKIT_RECIPE" \
		'VOLUME ["/var/lib/buildkit"]' 'ENTRYPOINT ["/usr/bin/buildkitd-entrypoint"]'
	check_image "$BUILDKIT_IMAGE" "$log" "${BUILDKIT_CHECKS[@]}" "unshare --version" "git init -q /tmp/probe"
	rm -rf "$(dirname "$root")"
}

ensure_buildkit_image() {
	phase_begin "standin buildkit"
	local note=present built=0
	if ! standin_current "$BUILDKIT_IMAGE" "$BUILDKIT_RECIPE"; then
		ensure_packages busybox-static ca-certificates runc util-linux
		build_buildkit_image
		note="built buildkit $BUILDKIT_VERSION"
		built=1
	fi
	# The pinned tag for builders created as the generated CI file creates them, and
	# buildx's default tag for builders created without an image.
	docker tag "$BUILDKIT_IMAGE" moby/buildkit:buildx-stable-1
	if [[ $built == 1 ]] || ! mirror_has moby/buildkit "$BUILDKIT_VERSION"; then
		push_to_mirror "$BUILDKIT_IMAGE" "moby/buildkit:$BUILDKIT_VERSION" "$LOG_DIR/standin-buildkit.log"
		push_to_mirror "$BUILDKIT_IMAGE" moby/buildkit:buildx-stable-1 "$LOG_DIR/standin-buildkit.log"
	fi
	phase_end "$note"
}
