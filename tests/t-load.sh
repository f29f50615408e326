#!/bin/bash
# t-load.sh - a bounded load with the engine killed in the middle, then
# the books are checked against what every client was told:
#   - LOAD_N enrollments (default 2000) by 16 keep-alive clients (one curl
#     each, RA HTTP Basic, each client its own end entity), bounded by
#     LOAD_SECONDS (default 120) in all;
#   - once a third of them are issued, estca-signd gets SIGKILL and is
#     started again; requests meanwhile get 503 with Retry-After, and
#     every client enrolls once more after the restart;
#   - then: every answer is 200 or 503; every 200 carries a certificate
#     that verifies and is in est.certificate with its accept row in
#     est.audit, and used up exactly one enrollment; no 503 used anything
#     up; every serial the engine's audit log says it issued for this
#     alias is in est.certificate, in a "signed but not recorded" row of
#     est.audit, or one of the replies lost to the kill (at most one per
#     503); the workers' memory (RSS) before and after is reported and
#     must not have grown without bound.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql pgrep
est_rig_up t-load

N=${LOAD_N:-2000}
SECS=${LOAD_SECONDS:-120}
C=16
PER=$(((N + C - 1) / C))
ALIAS=loadra
PW=Load-$(openssl rand -hex 8)
note_secret "$PW"
URL=$EST/$ALIAS/simpleenroll

rss_of() {	# rss_of PID...: summed resident set, KiB
	local p t=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
workers() { pgrep -f "$ESTCA_RIG_DIR/bin/estca-fcgi" | tr '\n' ' '; }

check "DBA: RA alias $ALIAS, a password member, $C end entities with $((PER + 1)) uses" dba "
SELECT est.create_alias('$ALIAS', 'est', 'device', 'ra');
SELECT est.create_role('loadops', '$ALIAS');
SELECT est.add_role_member_password('loadops', 'loader', :'pw');
SELECT est.register_end_entity('$ALIAS', 'load-' || i, NULL, '{}', NULL, $((PER + 1)))
  FROM generate_series(1, $C) i;" -v pw="$PW"
for i in $(seq 1 $C); do
	mkcsr "c$i" "/CN=load-$i" '' '' || fail "CSR $i"
done

w_before=$(workers)
for p in $w_before; do echo "$p $(rss_of "$p")"; done >"$W/rss.before"
eng_pid0=$(cat "$ESTCA_RIG_DIR/run/signd.pid")

# The fault: SIGKILL once a third is issued, then a restart.
(
	deadline=$((SECONDS + SECS))
	while [ $SECONDS -lt $deadline ]; do
		n=$(sql "SELECT count(*) FROM est.certificate WHERE alias = '$ALIAS'")
		[ "${n:-0}" -ge $((N / 3)) ] && break
		sleep 0.2
	done
	kill -KILL "$eng_pid0" 2>/dev/null
	echo "killed engine $eng_pid0 after $n certificates" >"$W/fault.txt"
	sleep 1
	"$RIG_SH" engine-start "$ESTCA_RIG_DIR" >>"$W/fault.txt" 2>&1
) &
fault=$!
start=$SECONDS
load_run load "$URL" $C $PER "$SECS" "user = \"loader:$PW\""
wait "$fault"
diag_file "$W/fault.txt"
diag "load: $((C * PER)) requests by $C clients in $((SECONDS - start))s"

load_tally load
n200=$L_200
nfail=$((L_TOTAL - L_200))
is "every request answered" "$L_TOTAL" "$((C * PER))"
# 000: the client gave up (curl's max-time) on a request the server may
# still have completed; it counts like a reply lost, nothing more.
is "every answer is 200 or 503 ($L_STATUSES)" "$(grep -cvE '^(200|503|000)$' "$W/load/status.all")" 0
gaveup=$(grep -c '^000$' "$W/load/status.all")
is "every 200 carries one certificate" "$L_BAD" 0
is "the engine runs again (a new process)" \
    "$(pgrep -f "$ESTCA_RIG_DIR/bin/estca-signd" | grep -vc "^$eng_pid0\$")" 1

# After the restart, each client enrolls once more: all succeed.
load_run after "$URL" $C 1 60 "user = \"loader:$PW\""
load_tally after
is "after the restart every client enrolls again ($L_STATUSES)" "$L_200" "$C"
n200=$((n200 + L_200))
nfail=$((nfail + L_TOTAL - L_200))
one=$(ls "$W"/after/out/* | head -n 1)
openssl base64 -d -in "$one" | openssl pkcs7 -inform DER -print_certs -out "$W/one.pem" 2>/dev/null
check "a delivered certificate verifies against the CA" \
    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$W/one.pem"

books "$ALIAS" "$n200" "$nfail" "$((C * (PER + 1)))" "$gaveup"

w_after=$(workers)
# shellcheck disable=SC2086
diag "workers RSS: $(rss_of $w_before) KiB in all before ($w_before), $(rss_of $w_after) KiB after ($w_after)"
eng_pid1=$(cat "$ESTCA_RIG_DIR/run/signd.pid")
diag "engine RSS after the run: $(rss_of "$eng_pid1") KiB (pid $eng_pid1)"
# The same workers before and after (the pool grows under load; a new
# worker is no growth of an old one).
grew=
for p in $w_before; do
	case " $w_after " in *" $p "*) ;; *) continue ;; esac
	b=$(awk -v p="$p" '$1 == p { print $2 }' "$W/rss.before")
	a=$(rss_of "$p")
	diag "worker $p: $b -> $a KiB"
	[ "$a" -le $((2 * b + 20480)) ] || grew="$grew $p:$b->$a"
done
if [ -n "${ASAN_OPTIONS:-}" ]; then
	# AddressSanitizer keeps freed memory in quarantine (up to 256 MB)
	ok "# SKIP workers' memory under AddressSanitizer is its quarantine"
elif [ -z "$grew" ]; then
	ok "no worker's memory grew without bound"
else
	fail "no worker's memory grew without bound" "$grew"
fi

done_testing
