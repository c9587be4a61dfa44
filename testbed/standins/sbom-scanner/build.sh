# shellcheck shell=bash
# standins/sbom-scanner/build.sh: the docker/buildkit-syft-scanner:stable-1 stand-in that
# BuildKit runs for `--sbom=true`: busybox and this folder's scan.sh (see its header).

SBOM_SCANNER=docker/buildkit-syft-scanner:stable-1

build_sbom_scanner_image() {
	local log=$LOG_DIR/standin-sbom-scanner.log root
	root=$(new_workdir sbom-scanner)/rootfs
	mkdir -p "$root"
	add_busybox "$root"
	add_base_files "$root"
	install -D -m 0755 "$STANDINS/sbom-scanner/scan.sh" "$root/bin/scan"
	import_rootfs "$root" "$SBOM_SCANNER" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'ENTRYPOINT ["/bin/scan"]'
	rm -rf "$(dirname "$root")"
}

ensure_sbom_scanner_image() {
	phase_begin "standin sbom scanner"
	local note="in mirror"
	if ! mirror_has "${SBOM_SCANNER%:*}" "${SBOM_SCANNER##*:}"; then
		ensure_packages busybox-static ca-certificates
		build_sbom_scanner_image
		push_to_mirror "$SBOM_SCANNER" "$SBOM_SCANNER" "$LOG_DIR/standin-sbom-scanner.log"
		note=built
	fi
	phase_end "$note"
}
