# shellcheck shell=bash
# standins/golang/build.sh: the golang:<minor> stand-ins: the Go release cookiecutter.json
# pins for that line (else the newest one), fetched through the module proxy.

# Newest published patch release of a Go minor version (e.g. 1.24 -> 1.24.13), from the module proxy.
latest_go_patch() { # minor
	local minor=$1
	GOFLAGS='' go list -m -versions golang.org/toolchain 2>/dev/null | tr ' ' '\n' |
		sed -n "s/^v0\.0\.1-go\(${minor//./\\.}\.[0-9][0-9]*\)\.linux-amd64\$/\1/p" | sort -V | tail -n1
}

# The release a Go line is built from: the template's pin, else the newest published one.
go_patch() { # minor
	local pinned
	pinned=$(template_value _pins go_patch "$1")
	if [[ -n $pinned ]]; then printf '%s\n' "$pinned"; else latest_go_patch "$1"; fi
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
	local minor=$1 full have note=present log=$LOG_DIR/standin-golang-$1.log
	phase_begin "standin golang:$minor"
	command -v go >/dev/null || die "Go is needed to fetch the Go $minor toolchain" "$log"
	full=$(go_patch "$minor")
	[[ -n $full ]] || die "no Go $minor.x toolchain listed by the Go module proxy" "$log"
	if mirror_has library/golang "$full" && mirror_has library/golang "$minor"; then
		phase_end "go$full in mirror"
		return
	fi
	# The Go release of a local golang:<minor> image, if there is one.
	have=$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "golang:$minor" 2>/dev/null |
		sed -n 's/^GOLANG_VERSION=//p') || have=""
	if [[ $have != "$full" ]]; then
		ensure_packages busybox-static ca-certificates
		build_golang_image "$minor" "$full"
		note="built go$full"
	fi
	push_to_mirror "golang:$minor" "library/golang:$minor" "$log"
	push_to_mirror "golang:$minor" "library/golang:$full" "$log"
	phase_end "$note"
}
