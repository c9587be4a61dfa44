#!/bin/bash
# wait-for.sh HOST:PORT [-t SECONDS]: exit 0 once a TCP connection to HOST:PORT opens,
# 1 when SECONDS (default 15, 0 = forever) pass first. Written for the testbed as a
# stand-in for the wait image gitlab-ci-local runs against a service's exposed ports.
set -u
target=${1:?usage: wait-for.sh HOST:PORT [-t SECONDS]}
shift
seconds=15
while (($#)); do
	case $1 in
		-t) seconds=${2:?-t needs a number}; shift 2 ;;
		--timeout=*) seconds=${1#*=}; shift ;;
		*) echo "wait-for.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
host=${target%:*} port=${target##*:}
start=$SECONDS
until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
	if ((seconds > 0 && SECONDS - start >= seconds)); then
		echo "wait-for.sh: $host:$port did not open within ${seconds}s" >&2
		exit 1
	fi
	sleep 1
done
echo "wait-for.sh: $host:$port is open after $((SECONDS - start))s"
