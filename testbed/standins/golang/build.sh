# shellcheck shell=bash
# standins/golang/build.sh: the golang:<minor> stand-ins, the newest Go toolchain of each minor from the module proxy.

# Newest published patch release of a Go minor version (e.g. 1.24 -> 1.24.13), from the module proxy.
latest_go_patch() { # minor
	local minor=$1
	GOFLAGS='' go list -m -versions golang.org/toolchain 2>/dev/null | tr ' ' '\n' |
		sed -n "s/^v0\.0\.1-go\(${minor//./\\.}\.[0-9][0-9]*\)\.linux-amd64\$/\1/p" | sort -V | tail -n1
}

build_golang_image() { # minor full
	local minor=$1 full=$2 log=$LOG_DIR/standin-golang-$1.log tc root
	# The go command fetches exactly that toolchain through the module proxy into the module cache.
	{ printf '\n$ GOTOOLCHAIN=go%s go version\n' "$full"; (cd / && GOFLAGS='' GOTOOLCHAIN="go$full" go version); } \
		>>"$log" 2>&1 || die "downloading Go $full through the module proxy failed" "$log"
	tc=$(go env GOMODCACHE)/golang.org/toolchain@v0.0.1-go$full.linux-amd64
	[[ -x $tc/bin/go ]] || die "Go $full toolchain not found at $tc" "$log"
	root=$(new_workdir "golang-$minor")/rootfs
	mkdir -p "$root/usr/local" "$root/go/bin" "$root/go/src"
	cp -a "$tc" "$root/usr/local/go"
	chmod -R u+w "$root/usr/local/go" # the module cache is read-only
	chmod -R 1777 "$root/go"          # as in the official image
	add_busybox "$root"
	add_base_files "$root"
	import_rootfs "$root" "golang:$minor" "$log" \
		'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		"ENV GOLANG_VERSION=$full" 'ENV GOPATH=/go' 'ENV GOTOOLCHAIN=local' 'ENV HOME=/root' \
		'WORKDIR /go' 'CMD ["sh"]'
	rm -rf "$(dirname "$root")"
}

ensure_golang_image() { # minor
	local minor=$1 full note=present log=$LOG_DIR/standin-golang-$1.log
	phase_begin "standin golang:$minor"
	if mirror_has library/golang "$minor"; then
		phase_end "in mirror"
		return
	fi
	if ! local_has "golang:$minor"; then
		command -v go >/dev/null || die "Go is needed to fetch the Go $minor toolchain" "$log"
		ensure_packages busybox-static ca-certificates
		full=$(latest_go_patch "$minor")
		[[ -n $full ]] || die "no Go $minor.x toolchain listed by the Go module proxy" "$log"
		build_golang_image "$minor" "$full"
		note="built go$full"
	fi
	full=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "golang:$minor" | sed -n 's/^GOLANG_VERSION=//p')
	push_to_mirror "golang:$minor" "library/golang:$minor" "$log"
	if [[ -n $full ]]; then push_to_mirror "golang:$minor" "library/golang:$full" "$log"; fi
	phase_end "$note"
}
