# shellcheck shell=bash
# packages.sh: Debian packages through apt, and the low-priority trixie source built from the machine's own.

APT_UPDATED=0
apt_update() {
	[[ $APT_UPDATED == 1 ]] && return 0
	run_logged "$LOG_DIR/apt.log" "apt-get update" apt-get update
	APT_UPDATED=1
}
# For callers that ran "apt-get update" themselves (with the trixie source added).
apt_mark_updated() { APT_UPDATED=1; }

# Add Debian trixie as a low-priority source, reusing the machine's own Debian
# source (its first deb822 stanza) so that no host name is written by us.
add_trixie_source() {
	local src=/etc/apt/sources.list.d/debian.sources
	[[ -r $src ]] || return 1
	awk '
		/^[[:space:]]*#/ { next }                 # drop comments
		/^[[:space:]]*$/ { if (seen) exit; next } # the first stanza ends at a blank line
		{ seen = 1 }
		$1 == "Suites:" { print "Suites: trixie"; next }
		{ print }
	' "$src" >/etc/apt/sources.list.d/gotpl-trixie.sources
	grep -q '^URIs:' /etc/apt/sources.list.d/gotpl-trixie.sources || return 1
	# Priority 100: trixie packages are installed only when asked for by name.
	printf 'Package: *\nPin: release n=trixie\nPin-Priority: 100\n' >/etc/apt/preferences.d/gotpl-trixie
}

remove_trixie_source() {
	rm -f /etc/apt/sources.list.d/gotpl-trixie.sources /etc/apt/preferences.d/gotpl-trixie
	APT_UPDATED=0
}

# Install the listed Debian packages that are not installed yet.
ensure_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || missing+=("$pkg")
	done
	((${#missing[@]} == 0)) && return 0
	apt_update
	run_logged "$LOG_DIR/apt.log" "apt-get install ${missing[*]}" \
		apt-get install -y --no-install-recommends "${missing[@]}"
}

# The machine's own Debian sources (every deb822 stanza of debian.sources, comments
# dropped) with its release's name replaced by another release's, in Suites lines only:
# "bookworm bookworm-updates" becomes "trixie trixie-updates", "bookworm-security"
# becomes "trixie-security". So an image gets the machine's mirror without us naming one.
debian_sources_for() { # release
	local src=/etc/apt/sources.list.d/debian.sources own
	[[ -r $src ]] || return 1
	# shellcheck source=/dev/null
	own=$(. /etc/os-release && printf '%s' "${VERSION_CODENAME:-}")
	[[ -n $own ]] || return 1
	awk -v own="$own" -v release="$1" '
		/^[[:space:]]*#/ { next }
		$1 == "Suites:" { for (i = 2; i <= NF; i++) sub("^" own, release, $i) }
		{ print }
	' "$src"
}

# The first Debian archive URI the machine's own sources name (for debootstrap).
debian_mirror_uri() {
	awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null
}

# Debian sid as one deb822 stanza, made from the machine's own first stanza (so no host
# name is written by us). It goes to a file for mmdebstrap only: this machine's apt
# never sees sid, so nothing here can pull sid's libc onto the host.
sid_sources() {
	local stanza
	stanza=$(awk '
		/^[[:space:]]*#/ { next }
		/^[[:space:]]*$/ { if (seen) exit; next }
		{ seen = 1 }
		$1 == "Suites:" { print "Suites: sid"; next }
		{ print }
	' /etc/apt/sources.list.d/debian.sources 2>/dev/null) || return 1
	grep -q '^URIs:' <<<"$stanza" || return 1
	printf '%s\n' "$stanza"
}

# A root fs of Debian sid's Essential packages plus the listed ones, made by mmdebstrap
# in a directory (documentation and translations left out). The machine's own settings
# for release-file dates are passed on: a snapshot mirror's release files are "expired".
sid_rootfs() { # rootfs log package...
	local root=$1 log=$2 sources valid date
	shift 2
	ensure_packages mmdebstrap
	sources=$(dirname "$root")/sid.sources
	sid_sources >"$sources" || die "no Debian source to derive sid from (/etc/apt/sources.list.d/debian.sources)" "$log"
	valid=$(apt-config dump Acquire::Check-Valid-Until | sed -n 's/^Acquire::Check-Valid-Until "\(.*\)";$/\1/p')
	date=$(apt-config dump Acquire::Check-Date | sed -n 's/^Acquire::Check-Date "\(.*\)";$/\1/p')
	run_logged "$log" "mmdebstrap sid with $*" mmdebstrap --mode=root --variant=essential \
		--format=directory --include="$(IFS=,; printf '%s' "$*")" \
		--aptopt="Acquire::Check-Valid-Until \"${valid:-true}\"" --aptopt="Acquire::Check-Date \"${date:-true}\"" \
		--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' sid "$root" "$sources"
}
