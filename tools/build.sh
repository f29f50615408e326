#!/bin/bash
# build.sh - configure and build estca out of tree.
#
#   tools/build.sh [--werror] [--sanitizers] [--autoreconf] [BUILDDIR]
#
# BUILDDIR defaults to build/ in the source tree; a relative BUILDDIR is
# taken relative to the current directory.  configure is regenerated when it
# is missing or older than configure.ac or Makefile.am, or build-aux/ is
# missing (always with --autoreconf).  Extra configure arguments can be given in CONFIGURE_ARGS.
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=
conf_args=()
force_autoreconf=no

while [ $# -gt 0 ]; do
	case $1 in
	--werror) conf_args+=(--enable-werror) ;;
	--sanitizers) conf_args+=(--enable-sanitizers) ;;
	--autoreconf) force_autoreconf=yes ;;
	-h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
	-*) echo "build: unknown option $1" >&2; exit 2 ;;
	*) builddir=$1 ;;
	esac
	shift
done
builddir=${builddir:-$srcdir/build}
mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)

if [ "$force_autoreconf" = yes ] || [ ! -x "$srcdir/configure" ] ||
    [ ! -f "$srcdir/build-aux/install-sh" ] ||
    [ "$srcdir/configure.ac" -nt "$srcdir/configure" ] ||
    [ "$srcdir/Makefile.am" -nt "$srcdir/Makefile.in" ]; then
	echo "build: autoreconf -fi in $srcdir"
	(cd "$srcdir" && autoreconf -fi >/dev/null)
fi

echo "build: configure ${conf_args[*]} ${CONFIGURE_ARGS:-} in $builddir"
cd "$builddir"
# shellcheck disable=SC2086 # CONFIGURE_ARGS is a word list on purpose
if ! "$srcdir/configure" -q "${conf_args[@]}" ${CONFIGURE_ARGS:-} >configure.out 2>&1; then
	cat configure.out >&2
	echo "build: configure failed (details in $builddir/config.log)" >&2
	exit 1
fi
echo "build: make -j2 in $builddir"
make -s -j2
echo "build: done"
