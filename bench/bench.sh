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
verify_signatures = yes
[ca p256]
key_label = ca-p256
chain = $D/hsm/chain.pem
[ca rsa2048]
key_label = ca-rsa2048
chain = $D/rsa.pem
CONF
start_engine() { # start_engine yes|no: verify_signatures setting
	if [ -n "$PID" ]; then
		kill -TERM "$PID"
		wait "$PID" 2>/dev/null
	fi
	sed "s/^verify_signatures = .*/verify_signatures = $1/" "$D/signd.conf" > "$D/run.conf"
	"$top_builddir/engine/estca-signd" -f "$D/run.conf" 2>>"$D/signd.log" &
	PID=$!
	for _ in $(seq 100); do [ -S "$D/run/signd.sock" ] && break; sleep 0.1; done
}
B=$top_builddir/bench/bench-engine
DEPTH=${BENCH_DEPTH:-16}
echo "estca engine benchmark: $(nproc) cores, $SECS s per run, $(date -u +%F)"
echo "(certificates per second over the socket; client threads share the cores;"
echo " sync = one request at a time through the client library, as a web worker;"
echo " piped = $DEPTH requests in flight per connection; % = share of raw C_Sign/s)"
printf '%-8s %-7s %12s %15s %15s %18s %10s\n' "CA key" threads "raw C_Sign/s" \
    "sync" "piped" "piped, no verify" "engine us"
cpu() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }   # engine CPU ticks
pct() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "?" }'; }
rate() { sed -n 's/.*rate=//p'; }
for ca in p256 rsa2048; do
	for t in 1 2; do
		raw=$("$B" raw "$MODULE" estca "$D/hsm/user.pin" "ca-$ca" "$t" "$SECS" | rate)
		start_engine yes
		sy=$("$B" engine "$D/run/signd.sock" "$ca" "$t" "$SECS" 1 | rate)
		pi=$("$B" engine "$D/run/signd.sock" "$ca" "$t" "$SECS" "$DEPTH" | rate)
		start_engine no
		c0=$(cpu)
		out=$("$B" engine "$D/run/signd.sock" "$ca" "$t" "$SECS" "$DEPTH")
		c1=$(cpu)
		nv=$(echo "$out" | rate)
		ops=$(echo "$out" | sed -n 's/.* ops=\([0-9]*\).*/\1/p')
		us=$(awk -v c=$((c1 - c0)) -v n="${ops:-0}" -v hz="$(getconf CLK_TCK)" \
		    'BEGIN { if (n > 0) printf "%.0f", c * 1e6 / hz / n; else print "?" }')
		printf '%-8s %-7s %12s %9s %5s %9s %5s %12s %5s %10s\n' "$ca" "$t" "${raw:-?}" \
		    "${sy:-?}" "$(pct "$sy" "$raw")" "${pi:-?}" "$(pct "$pi" "$raw")" \
		    "${nv:-?}" "$(pct "$nv" "$raw")" "$us"
	done
done
