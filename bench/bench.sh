#!/bin/bash
# bench.sh - engine benchmark (make bench): certificates per second over the
# engine socket with 1 and 2 client threads, next to the raw C_Sign rate of
# the same SoftHSM token and key, for a P-256 and an RSA-2048 CA.  Needs
# root (the engine runs as user estca).  Prints a table; the numbers of a
# run on the reference machine are kept in doc/performance.md.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SECS=${BENCH_SECONDS:-5}
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: needs root" >&2; exit 1; }
D=$(mktemp -d "${TMPDIR:-/tmp}/estca-bench.XXXXXX")
chmod 755 "$D"
PID=
cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$D"
}
trap cleanup EXIT
id estca >/dev/null 2>&1 ||
    useradd --system --no-create-home --shell /usr/sbin/nologin estca
mkdir -p "$D/run"
CA=$top_builddir/engine/estca-ca
"$top_srcdir/hsm/estca-hsm-init" --dir "$D/hsm" --key-label ca-p256 \
    --estca-ca "$CA" --module "$MODULE" >/dev/null || exit 1
export SOFTHSM2_CONF=$D/hsm/softhsm2.conf
P11=(--module "$MODULE" --token estca --pin-file "$D/hsm/user.pin")
"$CA" genkey "${P11[@]}" --key-label ca-rsa2048 --type rsa:2048 >/dev/null &&
"$CA" selfsign "${P11[@]}" --key-label ca-rsa2048 --subject "/CN=bench RSA CA" \
    --out "$D/rsa.pem" >/dev/null || exit 1
chown -R estca "$D/hsm" "$D/run"
cat > "$D/signd.conf" <<CONF
socket = $D/run/signd.sock
allow_uids = 0
user = estca
pkcs11_module = $MODULE
token_label = estca
pin_file = $D/hsm/user.pin
audit_log = $D/audit.log
[ca p256]
key_label = ca-p256
chain = $D/hsm/chain.pem
[ca rsa2048]
key_label = ca-rsa2048
chain = $D/rsa.pem
CONF
"$top_builddir/engine/estca-signd" -f "$D/signd.conf" 2>"$D/signd.log" &
PID=$!
for _ in $(seq 100); do [ -S "$D/run/signd.sock" ] && break; sleep 0.1; done
B=$top_builddir/bench/bench-engine
echo "estca engine benchmark: $(nproc) cores, $SECS s per run, $(date -u +%F)"
printf '%-10s %-8s %14s %14s %8s\n' "CA key" threads "raw C_Sign/s" "engine cert/s" ratio
for ca in p256 rsa2048; do
	for t in 1 2; do
		raw=$("$B" raw "$MODULE" estca "$D/hsm/user.pin" "ca-$ca" "$t" "$SECS" |
		    sed -n 's/.*rate=//p')
		eng=$("$B" engine "$D/run/signd.sock" "$ca" "$t" "$SECS" |
		    sed -n 's/.*rate=//p')
		printf '%-10s %-8s %14s %14s %7s%%\n' "$ca" "$t" "${raw:-?}" "${eng:-?}" \
		    "$(awk -v a="${eng:-0}" -v b="${raw:-0}" 'BEGIN { if (b > 0) printf "%.0f", 100 * a / b; else print "?" }')"
	done
done
