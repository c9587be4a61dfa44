# shellcheck shell=bash
# rootfs.sh: assemble a stand-in's root fs from this machine's files, docker import it, push it to the mirror.

local_has() { docker image inspect "$1" >/dev/null 2>&1; }

# Copy a dynamically or statically linked binary and the shared libraries it needs into a root fs.
copy_binary() { # src rootfs dest
	local src=$1 root=$2 dest=$3 lib
	mkdir -p "$root$(dirname "$dest")"
	cp -L "$src" "$root$dest"
	# ldd prints "name => /path (addr)" or "/path (addr)" for the loader.
	while read -r lib; do
		[[ -e $lib ]] || continue
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done < <(ldd "$src" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
}

# busybox-static gives a shell and the usual tools; link every applet where it usually lives.
add_busybox() { # rootfs
	local root=$1 applet
	mkdir -p "$root/bin"
	cp /bin/busybox "$root/bin/busybox"
	while read -r applet; do
		[[ -z $applet || -e $root/$applet ]] && continue
		mkdir -p "$root/$(dirname "$applet")"
		ln -s /bin/busybox "$root/$applet"
	done < <(/bin/busybox --list-full)
}

# The files every stand-in needs: users, CA certificates, /tmp.
add_base_files() { # rootfs
	local root=$1
	mkdir -p "$root/etc/ssl/certs" "$root/root" "$root/tmp"
	chmod 1777 "$root/tmp"
	chmod 0700 "$root/root"
	cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
	printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
}

# docker import a root fs as IMAGE with Dockerfile-style changes.
import_rootfs() { # rootfs image log change...
	local root=$1 image=$2 log=$3
	shift 3
	local args=() change
	for change in "$@" "LABEL $OURS_LABEL=standin"; do
		args+=(--change "$change")
	done
	printf '\n$ tar -C %s -c . | docker import %s - %s\n' "$root" "${args[*]}" "$image" >>"$log"
	# File capabilities (the security.capability attribute) travel with the files.
	tar --numeric-owner --xattrs --xattrs-include=security.capability -C "$root" -c . |
		docker import "${args[@]}" - "$image" >>"$log" 2>&1 ||
		die "docker import of $image failed" "$log"
}

push_to_mirror() { # local-image mirror-path:tag log
	local image=$1 target=$MIRROR/$2 log=$3
	run_logged "$log" "tagging $image" docker tag "$image" "$target"
	run_logged "$log" "pushing $target to the mirror" docker push "$target"
	docker rmi "$target" >>"$log" 2>&1 || true # drop the extra tag only; layers stay
}
