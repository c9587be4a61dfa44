# shellcheck shell=bash
# rootfs.sh: assemble a stand-in's root fs from this machine's files, docker import it, push it to the mirror.

local_has() { docker image inspect "$1" >/dev/null 2>&1; }

# True when IMAGE exists and its recipe revision (label org.gotpl.standin.recipe) is
# REVISION: a recipe that changes what an image holds raises its revision, so a machine
# keeping an image from the older recipe builds it again.
standin_current() { # image revision
	[[ $(docker image inspect -f '{{index .Config.Labels "org.gotpl.standin.recipe"}}' "$1" 2>/dev/null) == "$2" ]]
}

# Copy the shared libraries a program (of this machine or unpacked from a package) needs
# from this machine into a root fs. Libraries ldd cannot find are skipped: a package
# unpacked next to the program may bring them.
copy_libraries() { # program rootfs
	local src=$1 root=$2 lib
	# ldd prints "name => /path (addr)" or "/path (addr)" for the loader.
	while read -r lib; do
		[[ -e $lib ]] || continue
		mkdir -p "$root$(dirname "$lib")"
		rm -f "$root$lib"
		cp -L "$lib" "$root$lib"
	done < <(ldd "$src" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }')
}

# Copy a dynamically or statically linked binary and the shared libraries it needs into a root fs.
copy_binary() { # src rootfs dest
	local src=$1 root=$2 dest=$3
	mkdir -p "$root$(dirname "$dest")"
	# Remove first: the destination may be one of busybox's links, and cp would write
	# through it to this machine's own busybox.
	rm -f "$root$dest"
	cp -L "$src" "$root$dest"
	copy_libraries "$src" "$root"
}

# Unpack a Debian package of this machine's suite without installing it; prints the directory.
unpack_deb() { # package[/release] log
	local pkg=$1 log=$2 dir
	dir=$(new_workdir "deb-${pkg%%/*}")
	apt_update
	(cd "$dir" && apt-get download "$pkg") >>"$log" 2>&1 || die "apt-get download $pkg failed" "$log"
	dpkg-deb -x "$dir"/*.deb "$dir/root" >>"$log" 2>&1 || die "unpacking $pkg failed" "$log"
	printf '%s\n' "$dir/root"
}

# Put Debian packages into a root fs the way dpkg would lay them out (documentation,
# manuals and translations left out), plus the libraries their programs need from this
# machine. Unpacked rather than installed, so this machine's programs stay as they are
# (an unpigz on the host would change how the host's dockerd unpacks layers). Their
# maintainer scripts do not run: no alternatives, users or triggers.
add_debs() { # rootfs log package...
	local root=$1 log=$2 pkg dir file
	shift 2
	for pkg in "$@"; do
		dir=$(unpack_deb "$pkg" "$log")
		printf '\n$ copy the files of %s into %s\n' "$pkg" "$root" >>"$log"
		# GNU tar replaces an existing file or link (a busybox applet) instead of writing through it.
		tar -C "$dir" --exclude=./usr/share/doc --exclude=./usr/share/man \
			--exclude=./usr/share/locale --exclude=./usr/share/lintian -c . |
			tar -C "$root" --keep-directory-symlink -x >>"$log" 2>&1 || die "copying $pkg failed" "$log"
		while IFS= read -r -d '' file; do
			copy_libraries "$file" "$root"
		done < <(find "$dir" -type f \( -perm -u+x -o -name '*.so*' \) -print0)
		rm -rf "$(dirname "$dir")"
	done
}

# Run each command in a new container of IMAGE, so a missing library or file fails the
# recipe and not a test (the image is removed, so the next "up" builds it again).
check_image() { # image log "command args"...
	local image=$1 log=$2 cmd
	shift 2
	for cmd in "$@"; do
		printf '\n$ docker run %s %s\n' "$image" "$cmd" >>"$log"
		# shellcheck disable=SC2086 # each argument is a command line, split on spaces
		if ! docker run --rm --network none --entrypoint ${cmd%% *} "$image" ${cmd#* } >>"$log" 2>&1; then
			docker rmi "$image" >>"$log" 2>&1 || true
			die "\"$cmd\" failed in the new $image" "$log"
		fi
	done
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
