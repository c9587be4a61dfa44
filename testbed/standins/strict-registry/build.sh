# shellcheck shell=bash
# standins/strict-registry/build.sh: not a stand-in for a public image but the
# testbed's own one, built on every machine, online or not: the gate that makes a test
# registry refuse what GitLab's container registry refuses (main.go says what). A
# static Go binary in an image with nothing else, run by harness.infra.registry in the
# registry container's network namespace.

STRICT_REGISTRY_IMAGE=gotpl/strict-registry:local

# The digest of the gate's sources, kept as a label: changed sources mean a rebuild.
strict_registry_source_digest() {
	cat "$STANDINS/strict-registry/go.mod" "$STANDINS/strict-registry"/*.go | sha256sum | cut -c1-16
}

build_strict_registry_image() { # source-digest
	local log=$LOG_DIR/standin-strict-registry.log root
	command -v go >/dev/null || die "Go is needed to build the strict registry gate" "$log"
	root=$(new_workdir strict-registry)/rootfs
	mkdir -p "$root"
	(
		cd "$STANDINS/strict-registry"
		printf '\n$ go test and go build in %s\n' "$PWD"
		go test -count=1 ./... &&
			CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$root/strict-registry" .
	) >>"$log" 2>&1 || die "building the strict registry gate failed" "$log"
	import_rootfs "$root" "$STRICT_REGISTRY_IMAGE" "$log" \
		"LABEL org.gotpl.source-digest=$1" 'EXPOSE 5000' 'ENTRYPOINT ["/strict-registry"]'
	rm -rf "$(dirname "$root")"
}

ensure_strict_registry_image() {
	phase_begin "strict registry gate"
	local digest have
	digest=$(strict_registry_source_digest)
	have=$(docker image inspect --format '{{index .Config.Labels "org.gotpl.source-digest"}}' \
		"$STRICT_REGISTRY_IMAGE" 2>/dev/null || true)
	if [[ $have == "$digest" ]]; then
		phase_end "present"
		return
	fi
	build_strict_registry_image "$digest"
	phase_end "built"
}
