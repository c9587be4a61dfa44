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
