#!/bin/sh
# Entry point of the docker:<version>-dind stand-in, written for the testbed after
# reading how the official image behaves (github.com/docker-library/docker, dind/):
#
# - With DOCKER_TLS_CERTDIR set (the image sets /certs), it makes a CA, a server
#   certificate for every address and name the service may be reached by, and a client
#   certificate, under $DOCKER_TLS_CERTDIR/{ca,server,client}; the CI job reads the
#   client half through the /certs/client volume it shares with the service. dockerd
#   then listens on the unix socket and on tcp 2376 with --tlsverify. Without it, on
#   tcp 2375 in the clear.
# - Arguments that start with "-" are added to dockerd's; any other command runs as is.
# - dockerd runs under docker-init (tini), which reaps the shims' orphans as PID 1.
set -eu

DAYS=825 # what the official image uses; longer certificates are refused by some clients

new_key() { # file
	[ -s "$1" ] || openssl genrsa -out "$1" 4096 2>/dev/null
}

# Every IP of this container, its names, "docker", "localhost" and $DOCKER_TLS_SAN.
server_names() {
	{
		ip -4 -o address show | awk '{ split($4, a, "/"); print "IP:" a[1] }'
		ip -6 -o address show | awk '{ split($4, a, "/"); print "IP:" a[1] }'
		for name in "$(cat /etc/hostname)" docker localhost; do
			[ -n "$name" ] && echo "DNS:$name"
		done
		[ -z "${DOCKER_TLS_SAN:-}" ] || echo "$DOCKER_TLS_SAN"
	} | sort -u | paste -s -d, -
}

sign() { # dir subject usage [san]
	dir=$1
	openssl req -new -key "$dir/key.pem" -subj "$2" -out "$dir/csr.pem"
	{
		echo '[ext]'
		echo "extendedKeyUsage = $3"
		[ -z "${4:-}" ] || echo "subjectAltName = $4"
	} >"$dir/openssl.cnf"
	openssl x509 -req -in "$dir/csr.pem" -CA "$certs/ca/cert.pem" -CAkey "$certs/ca/key.pem" \
		-CAcreateserial -days "$DAYS" -extfile "$dir/openssl.cnf" -extensions ext -out "$dir/cert.pem"
	cp "$certs/ca/cert.pem" "$dir/ca.pem"
	openssl verify -CAfile "$dir/ca.pem" "$dir/cert.pem"
}

make_certs() {
	certs=$1
	# Server material with no CA key next to it was brought by the user: only check it.
	if [ -s "$certs/server/cert.pem" ] && [ -s "$certs/server/key.pem" ] && [ ! -s "$certs/ca/key.pem" ]; then
		openssl verify -CAfile "$certs/server/ca.pem" "$certs/server/cert.pem"
		return
	fi
	mkdir -p "$certs/ca" "$certs/server" "$certs/client"
	if [ -s "$certs/ca/key.pem" ] || [ ! -s "$certs/ca/cert.pem" ]; then
		new_key "$certs/ca/key.pem"
		openssl req -new -x509 -key "$certs/ca/key.pem" -subj '/CN=docker:dind CA' -days "$DAYS" \
			-addext keyUsage=critical,digitalSignature,keyCertSign -out "$certs/ca/cert.pem"
	fi
	[ -s "$certs/ca/key.pem" ] || return 0
	# Made again at every start, so the names match the addresses of this start.
	new_key "$certs/server/key.pem"
	sign "$certs/server" '/CN=docker:dind server' serverAuth "$(server_names)"
	new_key "$certs/client/key.pem"
	chmod 0644 "$certs/client/key.pem" # the job's user may be anyone
	sign "$certs/client" '/CN=docker:dind client' clientAuth
}

if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	if [ -n "${DOCKER_TLS_CERTDIR:-}" ]; then
		make_certs "$DOCKER_TLS_CERTDIR"
		set -- dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2376 --tlsverify \
			--tlscacert "$DOCKER_TLS_CERTDIR/server/ca.pem" \
			--tlscert "$DOCKER_TLS_CERTDIR/server/cert.pem" \
			--tlskey "$DOCKER_TLS_CERTDIR/server/key.pem" "$@"
	else
		set -- dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 "$@"
	fi
fi

if [ "$1" = dockerd ]; then
	# A pid file left by an unclean stop keeps dockerd from starting.
	find /run /var/run -name 'docker*.pid' -delete 2>/dev/null || :
	# Debian's iptables speaks nf_tables; on a host whose rules are in the legacy
	# tables, or where nf_tables does not answer, use the legacy tools instead.
	legacy=""
	for f in /proc/net/ip_tables_names /proc/net/ip6_tables_names; do
		if [ -s "$f" ] && [ -n "$(cat "$f")" ]; then legacy=1; fi
	done
	if [ -z "$legacy" ] && ! iptables -nL >/dev/null 2>&1 && iptables-legacy -nL >/dev/null 2>&1; then
		legacy=1
	fi
	if [ -n "$legacy" ]; then
		mkdir -p /run/iptables-legacy
		for tool in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
			ln -sf "/usr/sbin/${tool%%-*}-legacy${tool#"${tool%%-*}"}" "/run/iptables-legacy/$tool"
		done
		export PATH="/run/iptables-legacy:$PATH"
	fi
	iptables --version
	set -- docker-init -- "$@"
fi

exec "$@"
