# shellcheck shell=bash
# standins/gcl-wait/build.sh: a stand-in for gitlab-ci-local's wait image (its
# --wait-image, by default sumina46/wait-for-it), which the emulator runs as
# `<image> HOST:PORT -t SECONDS` to wait for a service's exposed port: busybox, bash
# (for its /dev/tcp) and this folder's wait-for.sh.

GCL_WAIT_IMAGE=sumina46/wait-for-it:latest

build_gcl_wait_image() {
	local log=$LOG_DIR/standin-gcl-wait.log root
	root=$(new_workdir gcl-wait)/rootfs
	mkdir -p "$root"
	copy_binary /bin/bash "$root" /bin/bash
	add_busybox "$root"
	add_base_files "$root"
	install -D -m 0755 "$STANDINS/gcl-wait/wait-for.sh" "$root/usr/local/bin/wait-for.sh"
	import_rootfs "$root" "$GCL_WAIT_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		'ENTRYPOINT ["wait-for.sh"]'
	rm -rf "$(dirname "$root")"
}

ensure_gcl_wait_image() {
	phase_begin "standin gcl wait"
	local note=present
	if ! local_has "$GCL_WAIT_IMAGE"; then
		ensure_packages busybox-static ca-certificates
		build_gcl_wait_image
		note=built
	fi
	mirror_has sumina46/wait-for-it latest ||
		push_to_mirror "$GCL_WAIT_IMAGE" "$GCL_WAIT_IMAGE" "$LOG_DIR/standin-gcl-wait.log"
	phase_end "$note"
}
