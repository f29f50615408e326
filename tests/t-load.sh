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
URL=$EST/$ALIAS/simpleenroll
note_secret "$PW"

rss_of() {	# rss_of PID...: summed resident set, KiB
	local p t=0 v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
workers() { pgrep -f "$ESTCA_RIG_DIR/bin/estca-fcgi" | tr '\n' ' '; }

check "DBA: RA alias $ALIAS, a password member, $C end entities with $PER uses" dba "
SELECT est.create_alias('$ALIAS', 'est', 'device', 'ra');
SELECT est.create_role('loadops', '$ALIAS');
SELECT est.add_role_member_password('loadops', 'loader', :'pw');
SELECT est.register_end_entity('$ALIAS', 'load-' || i, NULL, '{}', NULL, $PER)
  FROM generate_series(1, $C) i;" -v pw="$PW"

# One request to warm every worker's RA cache and the pool; it counts.
mkdir -p "$W/out"
for i in $(seq 1 $C); do
	mkcsr "c$i" "/CN=load-$i" '' '' || fail "CSR $i"
	{
		printf 'cacert = "%s"\nuser = "loader:%s"\n' "$ESTCA_CACERT" "$PW"
		printf 'header = "Content-Type: application/pkcs10"\n'
		printf 'data-binary = "@%s"\nmax-time = 30\nsilent\n' "$W/c$i.b64"
		printf 'write-out = "%%{http_code}\\n"\n'
		for j in $(seq 1 $PER); do
			printf 'url = "%s"\noutput = "%s/out/%d-%d"\n' "$URL" "$W" "$i" "$j"
		done
	} >"$W/c$i.curl"
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
for i in $(seq 1 $C); do
	timeout "$SECS" curl -K "$W/c$i.curl" >"$W/status.$i" 2>"$W/curl.$i.err" &
done
wait $(jobs -p | grep -v "^$fault\$") 2>/dev/null
wait "$fault" 2>/dev/null
took=$((SECONDS - start))
diag_file "$W/fault.txt"
diag "load: $N requests by $C clients in ${took}s"

cat "$W"/status.* >"$W/status.all"
total=$(wc -l <"$W/status.all")
n200=$(grep -c '^200$' "$W/status.all")
n503=$(grep -c '^503$' "$W/status.all")
other=$((total - n200 - n503))
is "every request answered" "$total" "$((C * PER))"
is "every answer is 200 or 503" "$other" 0
[ "$other" -eq 0 ] || diag "$(sort "$W/status.all" | uniq -c | tr '\n' ' ')"
diag "200: $n200, 503: $n503"
is "the engine runs again (a new process)" \
    "$(pgrep -f "$ESTCA_RIG_DIR/bin/estca-signd" | grep -vc "^$eng_pid0\$")" 1
# After the restart, each client enrolls once more (503s used nothing up,
# so every end entity that got one has a use left).
after_ok=0
after_n=0
for i in $(seq 1 $C); do
	left=$(sql "SELECT uses_left FROM est.end_entity WHERE alias = '$ALIAS' AND username = 'load-$i'")
	[ "${left:-0}" -gt 0 ] || continue
	after_n=$((after_n + 1))
	st=$(post "after$i" "$URL" "$W/c$i.b64" -u "loader:$PW")
	if [ "$st" = 200 ]; then
		after_ok=$((after_ok + 1))
		openssl base64 -d -in "$W/after$i.body" | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
		    openssl x509 -noout -serial | cut -d= -f2 | sed 's/^0*//' >>"$W/serials.after"
	fi
done
is "after the restart every client enrolls again ($after_n clients)" "$after_ok" "$after_n"
n200=$((n200 + after_ok))

# Every 200 carries a certificate of this CA; collect the serials.
: >"$W/serials.client"
bad=0
for i in $(seq 1 $C); do
	j=0
	while read -r st; do
		j=$((j + 1))
		[ "$st" = 200 ] || continue
		f=$W/out/$i-$j
		if openssl base64 -d -in "$f" | openssl pkcs7 -inform DER -print_certs 2>/dev/null |
		    openssl x509 -noout -serial >"$f.sn" 2>/dev/null; then
			cut -d= -f2 "$f.sn" | sed 's/^0*//' >>"$W/serials.client"
		else
			bad=$((bad + 1))
		fi
	done <"$W/status.$i"
done
is "every 200 carries one certificate" "$bad" 0
one=$(ls "$W"/out/*.sn 2>/dev/null | head -n 1)
openssl base64 -d -in "${one%.sn}" |
    openssl pkcs7 -inform DER -print_certs -out "$W/one.pem" 2>/dev/null
check "a delivered certificate verifies against the CA" \
    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$W/one.pem"

sql "SELECT serial FROM est.certificate WHERE alias = '$ALIAS'" | sort >"$W/serials.db"
[ ! -f "$W/serials.after" ] || cat "$W/serials.after" >>"$W/serials.client"
sort -o "$W/serials.client" "$W/serials.client"
is "certificate rows = 200 answers" "$(wc -l <"$W/serials.db")" "$n200"
is "... and the same serials" "$(comm -3 "$W/serials.client" "$W/serials.db" | wc -l)" 0
is "accept rows in est.audit = 200 answers" \
    "$(sql "SELECT count(*) FROM est.audit WHERE alias = '$ALIAS' AND decision = 'accept'
        AND operation = 'simpleenroll'")" "$n200"
is "uses consumed = 200 answers (no 503 used anything up)" \
    "$(sql "SELECT $C * $PER - sum(uses_left) FROM est.end_entity WHERE alias = '$ALIAS'")" "$n200"

# The engine's own log against the tables.
grep "event=sign result=issued" "$ESTCA_RIG_DIR/log/audit.log" | grep "alias=$ALIAS " |
    sed -n 's/.* serial=\([^ ]*\) .*/\1/p' | sort >"$W/serials.engine"
sql "SELECT serial FROM est.audit WHERE alias = '$ALIAS' AND decision = 'refuse'
     AND reason LIKE 'certificate signed but not recorded%'" | sort >"$W/serials.unrecorded"
sort -m "$W/serials.db" "$W/serials.unrecorded" | sort -u >"$W/serials.known"
lost=$(comm -23 "$W/serials.engine" "$W/serials.known" | wc -l)
is "every recorded serial is in the engine's log" "$(comm -13 "$W/serials.engine" "$W/serials.db" | wc -l)" 0
diag "engine log: $(wc -l <"$W/serials.engine") issued; $(wc -l <"$W/serials.unrecorded") audited as signed but not recorded; $lost replies lost to the kill"
if [ "$lost" -le "$n503" ]; then
	ok "engine serials missing from the tables ($lost) are at most the 503s ($n503)"
else
	fail "engine serials missing from the tables are at most the 503s" "$lost > $n503"
fi

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
if [ -z "$grew" ]; then
	ok "no worker's memory grew without bound"
else
	fail "no worker's memory grew without bound" "$grew"
fi

done_testing
