#!/bin/sh
# Entry point of the docker:<version> stand-in, written for the testbed. It follows the
# rules the official image documents: an option as the first argument means "docker
# ...", and without DOCKER_HOST the client aims at the service alias "docker", with TLS
# (port 2376) when the client certificates are in $DOCKER_TLS_CERTDIR/client.
set -eu

case "${1:-}" in
	-*) set -- docker "$@" ;;
esac

client=${DOCKER_TLS_CERTDIR:-}/client
have_client_certs() {
	[ -n "${DOCKER_TLS_CERTDIR:-}" ] && [ -s "$client/ca.pem" ] && [ -s "$client/cert.pem" ] && [ -s "$client/key.pem" ]
}

if [ -z "${DOCKER_HOST:-}" ] && [ -S /var/run/docker.sock ]; then
	export DOCKER_HOST=unix:///var/run/docker.sock
fi
if [ -z "${DOCKER_HOST:-}" ]; then
	if have_client_certs || [ -n "${DOCKER_TLS_VERIFY:-}" ]; then
		export DOCKER_HOST=tcp://docker:2376
	else
		export DOCKER_HOST=tcp://docker:2375
	fi
fi
case $DOCKER_HOST in
	tcp:*)
		if [ -z "${DOCKER_TLS_VERIFY:-}" ] && [ -z "${DOCKER_CERT_PATH:-}" ] && have_client_certs; then
			export DOCKER_TLS_VERIFY=1 DOCKER_CERT_PATH="$client"
		fi
		;;
esac

exec "$@"
