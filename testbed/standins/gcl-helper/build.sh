# shellcheck shell=bash
# standins/gcl-helper/build.sh: a stand-in for gitlab-ci-local's helper image (its
# --helper-image, by default firecow/gitlab-ci-local-util). The emulator runs it to hand
# the job's volume to the job's user (sh, chown, chmod) and to copy caches and artifacts
# out of it (bash, rsync): busybox, plus this machine's bash and rsync.

GCL_HELPER_IMAGE=firecow/gitlab-ci-local-util:latest

build_gcl_helper_image() {
	local log=$LOG_DIR/standin-gcl-helper.log root
	root=$(new_workdir gcl-helper)/rootfs
	mkdir -p "$root"
	copy_binary /bin/bash "$root" /bin/bash
	copy_binary "$(command -v rsync)" "$root" /usr/bin/rsync
	add_busybox "$root"
	add_base_files "$root"
	import_rootfs "$root" "$GCL_HELPER_IMAGE" "$log" \
		'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'CMD ["sh"]'
	rm -rf "$(dirname "$root")"
}

ensure_gcl_helper_image() {
	phase_begin "standin gcl helper"
	local note=present
	if ! local_has "$GCL_HELPER_IMAGE"; then
		ensure_packages busybox-static ca-certificates rsync
		build_gcl_helper_image
		note=built
	fi
	mirror_has firecow/gitlab-ci-local-util latest ||
		push_to_mirror "$GCL_HELPER_IMAGE" "$GCL_HELPER_IMAGE" "$LOG_DIR/standin-gcl-helper.log"
	phase_end "$note"
}
