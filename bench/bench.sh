#!/bin/bash
# bench.sh - engine benchmark (make bench): certificates per second over the
# engine socket with 1 and 2 client threads, next to the raw C_Sign rate of
# the same SoftHSM token and key, for a P-256 and an RSA-2048 CA.  Needs
# root (the engine runs as user estca).  Prints a table; the numbers of a
# run on the reference machine are kept in doc/performance.md.
#
# The machine is noisy: each cell is measured BENCH_ROUNDS times (default 5,
# BENCH_SECONDS long, default 2), raw and engine runs taking turns, and the
# median of each is shown.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SECS=${BENCH_SECONDS:-2}
ROUNDS=${BENCH_ROUNDS:-5}
DEPTH=${BENCH_DEPTH:-16}
[ "$(id -u)" -eq 0 ] || { echo "bench.sh: needs root" >&2; exit 1; }
D=$(mktemp -d "${TMPDIR:-/tmp}/estca-bench.XXXXXX")
chmod 755 "$D"
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
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
"$CA" selfsign "${P11[@]}" --key-label ca-rsa2048 --subject "CN=bench RSA CA" \
    --out "$D/rsa.pem" >/dev/null || exit 1
chown -R estca "$D/hsm" "$D/run"
# Two engines on the same token: verify_signatures yes (the default) and no.
for v in yes no; do
	cat > "$D/signd-$v.conf" <<CONF
socket = $D/run/signd-$v.sock
allow_uids = 0
user = estca
pkcs11_module = $MODULE
token_label = estca
pin_file = $D/hsm/user.pin
audit_log = $D/audit-$v.log
verify_signatures = $v
[ca p256]
key_label = ca-p256
chain = $D/hsm/chain.pem
[ca rsa2048]
key_label = ca-rsa2048
chain = $D/rsa.pem
CONF
	"$top_builddir/engine/estca-signd" -f "$D/signd-$v.conf" 2>>"$D/signd.log" &
	PIDS+=($!)
done
for _ in $(seq 100); do
	[ -S "$D/run/signd-yes.sock" ] && [ -S "$D/run/signd-no.sock" ] && break
	sleep 0.1
done
NOVERIFY_PID=${PIDS[1]}
B=$top_builddir/bench/bench-engine

rate() { sed -n 's/.*rate=//p'; }
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "?" }'; }
pct() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { if (b > 0 && a > 0) printf "%.0f%%", 100 * a / b; else print "?" }'; }
cpu() { awk '{ print $14 + $15 }' "/proc/$NOVERIFY_PID/stat"; }   # engine CPU ticks

echo "estca engine benchmark: $(nproc) cores, median of $ROUNDS runs of $SECS s, $(date -u +%F)"
echo "(certificates per second over the socket; client threads share the cores;"
echo " sync = one request at a time through the client library, as a web worker;"
echo " piped = $DEPTH requests in flight per connection; % = share of raw C_Sign/s)"
printf '%-8s %-7s %12s %15s %15s %18s %10s\n' "CA key" threads "raw C_Sign/s" \
    "sync" "piped" "piped, no verify" "engine us"
for ca in p256 rsa2048; do
	for t in 1 2; do
		: > "$D/raw"; : > "$D/sy"; : > "$D/pi"; : > "$D/nv"; : > "$D/us"
		for _ in $(seq "$ROUNDS"); do
			"$B" raw "$MODULE" estca "$D/hsm/user.pin" "ca-$ca" "$t" "$SECS" | rate >> "$D/raw"
			"$B" engine "$D/run/signd-yes.sock" "$ca" "$t" "$SECS" 1 | rate >> "$D/sy"
			"$B" engine "$D/run/signd-yes.sock" "$ca" "$t" "$SECS" "$DEPTH" | rate >> "$D/pi"
			c0=$(cpu)
			out=$("$B" engine "$D/run/signd-no.sock" "$ca" "$t" "$SECS" "$DEPTH")
			c1=$(cpu)
			echo "$out" | rate >> "$D/nv"
			ops=$(echo "$out" | sed -n 's/.* ops=\([0-9]*\).*/\1/p')
			awk -v c=$((c1 - c0)) -v n="${ops:-0}" -v hz="$(getconf CLK_TCK)" \
			    'BEGIN { if (n > 0) printf "%.0f\n", c * 1e6 / hz / n }' >> "$D/us"
		done
		raw=$(median < "$D/raw"); sy=$(median < "$D/sy"); pi=$(median < "$D/pi")
		nv=$(median < "$D/nv"); us=$(median < "$D/us")
		printf '%-8s %-7s %12s %9s %5s %9s %5s %12s %5s %10s\n' "$ca" "$t" "$raw" \
		    "$sy" "$(pct "$sy" "$raw")" "$pi" "$(pct "$pi" "$raw")" \
		    "$nv" "$(pct "$nv" "$raw")" "$us"
	done
done
