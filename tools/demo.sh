#!/bin/bash
# demo.sh - a running estca on this machine, for trying it with curl.
#
#   tools/demo.sh up [--dir DIR] [--port N]    (default /var/lib/estca-demo, 8443)
#   tools/demo.sh down [--dir DIR]
#
# up installs the Debian packages (tools/deps.sh), builds in build/
# (tools/build.sh) and starts the rig (tests/rig.sh) in DIR with Apache on
# 127.0.0.1:PORT.  down stops it; the directory stays until you remove it.
# Run as root on Debian 12.
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/lib/estca-demo
port=8443

usage() {
	sed -n '4,5s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
while [ $# -gt 0 ]; do
	case $1 in
	--dir) [ $# -ge 2 ] || usage; dir=$2; shift ;;
	--port) [ $# -ge 2 ] || usage; port=$2; shift ;;
	*) usage ;;
	esac
	shift
done
if [ "$(id -u)" -ne 0 ]; then
	echo "demo: run as root (it installs packages and starts services as their users)" >&2
	exit 1
fi

show_usage() {
	# shellcheck disable=SC1091
	. "$dir/rig.env"
	cat <<-EOF

	estca demo is up: $ESTCA_URL (also https://localhost:$ESTCA_PORT)

	CA certificates over EST:
	  curl --cacert $ESTCA_CACERT https://localhost:$ESTCA_PORT/.well-known/est/cacerts | base64 -d | openssl pkcs7 -inform DER -print_certs -noout

	The database (aliases, end entities, audit):
	  psql '$ESTCA_PGURI'

	Everything else (logs in $dir/log, variables for scripts):
	  cat $dir/rig.env

	Stop:            tools/demo.sh down
	Stop and remove: tools/demo.sh down && rm -rf $dir
	EOF
}

case $cmd in
up)
	if [ -f "$dir/rig.env" ] && curl -s -o /dev/null --max-time 5 \
	    --cacert "$dir/ca/ca.pem" "https://127.0.0.1:$port/"; then
		echo "demo: already running in $dir"
		show_usage
		exit 0
	fi
	"$srcdir/tools/deps.sh"
	"$srcdir/tools/build.sh" "$srcdir/build"
	"$srcdir/tests/rig.sh" up "$dir" --port "$port" --builddir "$srcdir/build"
	show_usage
	;;
down)
	"$srcdir/tests/rig.sh" down "$dir"
	echo "demo: stopped; the CA, token and database stay in $dir"
	echo "demo: to remove them: rm -rf $dir"
	;;
*)
	usage
	;;
esac
