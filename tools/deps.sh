#!/bin/bash
# deps.sh - install the Debian 12 packages estca builds, tests, demos and
# benchmarks with.
#
# Idempotent: packages already installed are not touched and apt is not run
# at all when nothing is missing.  The rig runs private Postgres and Apache
# instances in a directory of its own, so the system services that these
# packages would start are kept stopped during installation (policy-rc.d).
set -euo pipefail

PACKAGES=(
	build-essential autoconf automake libtool pkg-config
	libssl-dev libp11-dev libp11-kit-dev libpq-dev libfcgi-dev libfcgi-bin
	libcrypt-dev
	softhsm2 opensc
	postgresql postgresql-contrib
	apache2 libapache2-mod-fcgid
	lighttpd lighttpd-mod-openssl
	curl openssl ca-certificates python3
	# make fuzz and CI's fuzz step (fuzz/build.sh): clang and its libFuzzer
	# runtime (libclang_rt.fuzzer, only recommended by clang-14)
	clang libclang-rt-14-dev
	# make bench (bench/bench-e2e.sh): load tools, CSRs in bulk
	apache2-utils wrk python3-cryptography
)

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#PACKAGES[@]} packages present"
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${missing[*]}; run as root to install them" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

# Keep postinst scripts from starting apache2, postgresql and lighttpd.  A
# policy-rc.d someone else put there is left alone.
policy=/usr/sbin/policy-rc.d
own_policy=no
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\n# temporary, written by estca tools/deps.sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	own_policy=yes
fi
log=$(mktemp)
cleanup() {
	if [ "$own_policy" = yes ]; then
		rm -f "$policy"
	fi
	rm -f "$log"
}
trap cleanup EXIT

apt_install() {
	apt-get install -y -q -o Dpkg::Use-Pty=0 --no-install-recommends "$@" \
	    >"$log" 2>&1
}

# Refresh the package lists only when there are none yet or the install
# fails with the lists we have (stale lists give 404s on fresh mirrors).
if ! compgen -G '/var/lib/apt/lists/*_Packages' >/dev/null; then
	apt-get update -q >/dev/null
fi
if ! apt_install "${missing[@]}"; then
	apt-get update -q >/dev/null
	if ! apt_install "${missing[@]}"; then
		tail -n 30 "$log" >&2
		echo "deps: apt-get install failed" >&2
		exit 1
	fi
fi
echo "deps: installed ${#missing[@]} packages"
