#!/bin/bash
# build.sh - build the libFuzzer harnesses of fuzz/ with clang, whatever
# compiler the tree was configured with:
#
#   fuzz/build.sh [OUTDIR]        (default: build-fuzz next to fuzz/)
#
# The library sources each harness needs (lib/*.c and the fcgi/ decoders)
# are compiled once into OUTDIR/obj with coverage, AddressSanitizer and
# UBSan (-fsanitize=fuzzer-no-link,address,undefined), then linked with
# each harness (-fsanitize=fuzzer,...) into OUTDIR/fuzz_<name>.  No
# autotools involved: this works in a bare checkout.  CC overrides clang
# (it must be a clang with libFuzzer: libclang-rt-NN-dev on Debian).
set -euo pipefail

srcdir=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$srcdir/build-fuzz}
CC=${FUZZ_CC:-clang}
mkdir -p "$out/obj"
out=$(cd "$out" && pwd)

# The harnesses, and the sources each links (besides lib/).
harnesses=(route b64 csr csn clientcert basic conf reader wire names reply)
declare -A extra=(
	[route]="fcgi/route.c fcgi/status.c"
	[csr]="fcgi/csr.c"
	[csn]="fcgi/csr.c"
	[clientcert]="fcgi/clientcert.c"
	[basic]="fcgi/cred.c fcgi/csr.c"
	[names]="fcgi/names.c"
	[reply]="fcgi/reply.c fcgi/status.c fcgi/certder.c fcgi/names.c"
)
libsrc="lib/errors.c lib/buf.c lib/conf.c lib/wire.c lib/log.c lib/b64.c lib/str.c lib/dn.c"

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
CFLAGS="-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -Wall -Wextra \
-Wno-unused-parameter $SAN"
CPPFLAGS="-I$srcdir/lib -I$srcdir/fcgi -I$srcdir/fuzz \
$(pkg-config --cflags openssl 2>/dev/null || true)"
LIBS="$(pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto) -lfcgi -lcrypt"

# obj SRC: the instrumented object of SRC (rebuilt when SRC or a header
# of lib/ or fcgi/ is newer).
obj() {
	local src=$1 o
	o="$out/obj/$(echo "$src" | tr / _ | sed 's/\.c$/.o/')"
	if [ ! -f "$o" ] || [ -n "$(find "$srcdir/$src" "$srcdir"/lib/*.h \
	    "$srcdir"/fcgi/*.h "$srcdir"/fuzz/*.h -newer "$o" 2>/dev/null)" ]; then
		# shellcheck disable=SC2086
		$CC $CFLAGS -fsanitize=fuzzer-no-link $CPPFLAGS -c "$srcdir/$src" -o "$o"
	fi
	echo "$o"
}

libobjs=()
for s in $libsrc; do
	libobjs+=("$(obj "$s")")
done
for h in "${harnesses[@]}"; do
	objs=()
	for s in ${extra[$h]:-}; do
		objs+=("$(obj "$s")")
	done
	# shellcheck disable=SC2086
	$CC $CFLAGS -fsanitize=fuzzer $CPPFLAGS "$srcdir/fuzz/fuzz_$h.c" \
	    "${objs[@]}" "${libobjs[@]}" $LIBS -o "$out/fuzz_$h"
done
echo "fuzz: built ${#harnesses[@]} harnesses in $out"
