#!/bin/sh
# Entry point of the registry:2 stand-in. It takes the same arguments as the
# official image: a config path alone means "serve it", a sub-command goes to
# the registry binary, anything else is run as given.
set -e
case "${1:-}" in
	*.yml | *.yaml) set -- registry serve "$@" ;;
	serve | garbage-collect | help | -*) set -- registry "$@" ;;
esac
exec "$@"
