# shellcheck shell=bash
# standins/registry/build.sh: the registry:2 stand-in, Debian's docker-registry binary with this folder's config.yml and entrypoint.sh.

build_registry_image() {
	local log=$LOG_DIR/standin-registry.log root
	root=$(new_workdir registry)/rootfs
	mkdir -p "$root"
	add_busybox "$root"
	add_base_files "$root"
	copy_binary /usr/bin/docker-registry "$root" /bin/registry
	install -D -m 0644 "$STANDINS/registry/config.yml" "$root/etc/docker/registry/config.yml"
	install -D -m 0755 "$STANDINS/registry/entrypoint.sh" "$root/entrypoint.sh"
	mkdir -p "$root/var/lib/registry"
	import_rootfs "$root" registry:2 "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'VOLUME ["/var/lib/registry"]' 'EXPOSE 5000' \
		'ENTRYPOINT ["/entrypoint.sh"]' 'CMD ["/etc/docker/registry/config.yml"]'
	rm -rf "$(dirname "$root")"
}

ensure_registry_image() {
	phase_begin "standin registry:2"
	if local_has registry:2; then
		phase_end "present"
		return
	fi
	ensure_packages docker-registry busybox-static ca-certificates
	build_registry_image
	phase_end "built"
}
