# shellcheck shell=bash
# standins/golang-debian/build.sh: the realistic golang stand-in, golang:<patch>-<release>
# (also <minor>-<release>), next to the small one (standins/golang/).
#
# The official image of a Go line's default Debian variant (docker-library/golang,
# "<minor>/trixie/Dockerfile") is buildpack-deps:trixie-scm, plus gcc, g++, libc6-dev,
# make and pkg-config for cgo, plus the Go release unpacked to /usr/local/go, plus
# GOPATH=/go. buildpack-deps:trixie-scm is debian:trixie plus two package layers
# (ca-certificates curl gnupg netbase sq wget; git mercurial openssh-client subversion
# procps), and debian:trixie is debuerreotype's minbase debootstrap of the release.
# This recipe makes the same layers from the same Debian packages (this machine's own
# Debian mirror, read from its apt sources) with this folder's Dockerfile, and takes
# the Go release from the module proxy, like the small stand-in. What differs: the Go
# tree comes from the golang.org/toolchain module rather than the go.dev tarball, and
# the base layer is not upgraded to the security suite before the package layers.
#
# It is about four times the small stand-in (about 300 MB compressed against 80), so
# it is what the benchmark builds on; the tests keep the small one.

# The Debian release of the golang image's default variant for the current Go lines
# (the first Debian entry of "variants" in docker-library/golang's versions.json).
GOLANG_DEBIAN_RELEASE=${GOTPL_GOLANG_DEBIAN_RELEASE:-trixie}

golang_debian_tag() { # version (minor or patch)
	printf '%s-%s' "$1" "$GOLANG_DEBIAN_RELEASE"
}

# Turn a fresh debootstrap into what debuerreotype ships: no package caches or lists,
# no services started by package scripts, apt set up to clean up after itself.
tidy_debian_rootfs() { # rootfs
	local root=${1:?a root fs directory}
	[[ $root != / && -d $root/var/lib/dpkg ]] || die "$root is not a fresh Debian root fs"
	rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root/etc/apt/sources.list"
	find "$root/var/lib/apt/lists" -maxdepth 1 -type f -delete
	# The container runtime provides /dev, /proc and /sys.
	rm -rf "${root:?}"/var/log/bootstrap.log "${root:?}"/dev/* "${root:?}"/proc/* "${root:?}"/sys/*
	debian_sources_for "$GOLANG_DEBIAN_RELEASE" >"$root/etc/apt/sources.list.d/debian.sources"
	# Package scripts must not start services in an image.
	printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
	chmod 0755 "$root/usr/sbin/policy-rc.d"
	# An image build is thrown away on failure: dpkg need not sync every file.
	printf 'force-unsafe-io\n' >"$root/etc/dpkg/dpkg.cfg.d/gotpl-unsafe-io"
	# Downloaded packages and apt's binary caches are deleted after every install and
	# update, index files stay compressed, and no translations are fetched.
	cat >"$root/etc/apt/apt.conf.d/gotpl-image" <<-'EOF'
		DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
		Dir::Cache::pkgcache "";
		Dir::Cache::srcpkgcache "";
		Acquire::GzipIndexes "true";
		Acquire::Languages "none";
		Apt::AutoRemove::SuggestsImportant "false";
	EOF
}

# Compressed size of an image in the mirror: the sum of its manifest's blobs.
mirror_image_bytes() { # repository tag
	curl -fsS --max-time 10 -H 'Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
		"http://$MIRROR/v2/$1/manifests/$2" |
		python3 -c 'import json, sys; m = json.load(sys.stdin); print(m["config"]["size"] + sum(layer["size"] for layer in m["layers"]))'
}

build_golang_debian_image() { # minor full
	local minor=$1 full=$2 log=$LOG_DIR/standin-golang-debian-$1.log ctx tc mirror_uri
	mirror_uri=$(debian_mirror_uri)
	[[ -n $mirror_uri ]] || die "no Debian archive in /etc/apt/sources.list.d/debian.sources to debootstrap from" "$log"
	debian_sources_for "$GOLANG_DEBIAN_RELEASE" >/dev/null ||
		die "cannot derive $GOLANG_DEBIAN_RELEASE sources from /etc/apt/sources.list.d/debian.sources" "$log"
	ctx=$(new_workdir "golang-debian-$minor")
	run_logged "$log" "debootstrap of Debian $GOLANG_DEBIAN_RELEASE" \
		debootstrap --variant=minbase --merged-usr "$GOLANG_DEBIAN_RELEASE" "$ctx/rootfs" "$mirror_uri"
	tidy_debian_rootfs "$ctx/rootfs"
	tar --numeric-owner --xattrs -C "$ctx/rootfs" -cf "$ctx/rootfs.tar" . || die "packing the $GOLANG_DEBIAN_RELEASE root fs failed" "$log"
	rm -rf "$ctx/rootfs"
	# The same toolchain tree the small stand-in has (fetched through the module proxy).
	{ printf '\n$ GOTOOLCHAIN=go%s go version\n' "$full"; (cd / && GOFLAGS='' GOTOOLCHAIN="go$full" go version); } \
		>>"$log" 2>&1 || die "downloading Go $full through the module proxy failed" "$log"
	tc=$(go env GOMODCACHE)/golang.org/toolchain@v0.0.1-go$full.linux-amd64
	[[ -x $tc/bin/go ]] || die "Go $full toolchain not found at $tc" "$log"
	cp -a "$tc" "$ctx/go"
	chmod -R u+w "$ctx/go"
	cp "$STANDINS/golang-debian/Dockerfile" "$ctx/Dockerfile"
	docker buildx inspect "$STANDIN_BUILDER" >/dev/null 2>&1 || standin_builder_up "$log"
	# The builder runs with network=host: its apt-get reaches the same mirror as the host's.
	run_logged "$log" "building golang:$(golang_debian_tag "$full")" \
		docker buildx build --builder "$STANDIN_BUILDER" --provenance=false --sbom=false \
		--build-arg "GOLANG_VERSION=$full" \
		-t "$MIRROR/library/golang:$(golang_debian_tag "$full")" \
		-t "$MIRROR/library/golang:$(golang_debian_tag "$minor")" --push "$ctx"
	rm -rf "$ctx"
}

ensure_golang_debian_image() { # minor
	local minor=$1 full note="in mirror" log=$LOG_DIR/standin-golang-debian-$1.log
	phase_begin "standin golang:$(golang_debian_tag "$minor")"
	full=$(go_patch "$minor")
	[[ -n $full ]] || die "no Go $minor.x toolchain listed by the Go module proxy" "$log"
	if ! { mirror_has library/golang "$(golang_debian_tag "$full")" &&
		mirror_has library/golang "$(golang_debian_tag "$minor")"; }; then
		ensure_packages debootstrap ca-certificates
		build_golang_debian_image "$minor" "$full"
		note="built go$full on $GOLANG_DEBIAN_RELEASE"
	fi
	phase_end "$note, $(($(mirror_image_bytes library/golang "$(golang_debian_tag "$full")") / 1000000)) MB compressed"
}
