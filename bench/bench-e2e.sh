#!/bin/bash
# bench-e2e.sh - end-to-end benchmark (make bench; make bench BENCH=e2e for
# this part alone): a whole rig (tests/rig.sh) behind Apache, then behind
# lighttpd, driven over loopback HTTPS by 16 clients, with keep-alive and
# with a new TLS connection per request.  Rows:
#
#   static    GET of a file in the web server's document root (the ceiling)
#   cacerts   GET /.well-known/est/cacerts
#   ra        simpleenroll, RA with HTTP Basic (alias benchra, mode ra)
#   code      simpleenroll, a one-time code from est.issue_enrollment_code()
#   renew     simplereenroll with a TLS client certificate
#   skg       serverkeygen, P-256, RA with HTTP Basic
#
# Tools (Debian packages): wrk (with bench-e2e.lua) wherever every request
# needs its own body (ra, code, skg: one end entity and CSR per request);
# ab, 16 processes of one connection each, where a client certificate is
# needed (renew: wrk cannot present one; each process is one device with
# its own certificate).  The GET rows are measured with both tools, so each
# row has its ceiling from the same tool.  Every enrollment is real: end
# entities, codes and CSRs are made before the timed runs, one per request,
# and the certificates issued are counted in Postgres afterwards.
#
# Each cell is the median of BENCH_ROUNDS rounds (rows and modes taking
# turns within a round).  Every run is bounded in count and in time.  A row
# is valid when every request got 2xx, no socket error happened, no refusal
# was audited and est.certificate grew by at least the 2xx count; the web
# server's access log is tallied too.  After the rounds, one more RA run
# is profiled: CPU of the rig's processes from /proc, and perf record -a -g
# when perf is installed.  Results and numbers: doc/performance.md.
#
# BENCH_QUICK=1: one round, small counts.  BENCH_WEB="apache lighttpd"
# picks the servers, BENCH_ROWS (default: all of the rows above, with
# static and cacerts as static-ab static-wrk cacerts-ab cacerts-wrk) the
# rows.  BENCH_KEEP=1 keeps the work directory.  Needs root and the
# packages of tools/deps.sh.
set -u
: "${top_srcdir:?}" "${top_builddir:?}"
[ "$(id -u)" -eq 0 ] || { echo "bench-e2e.sh: needs root" >&2; exit 1; }

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	ROUNDS=${BENCH_ROUNDS:-1}; ENR_N=${BENCH_E2E_N:-320}; CODE_N=${BENCH_E2E_CODE_N:-96}
	GET_N=5000; GET_SECS=2
else
	ROUNDS=${BENCH_ROUNDS:-3}; ENR_N=${BENCH_E2E_N:-600}; CODE_N=${BENCH_E2E_CODE_N:-240}
	GET_N=30000; GET_SECS=3
fi
RENEW_N=$ENR_N
ENR_SECS=30            # time bound of an enrollment run (the count ends it first)
CONNS=16
THREADS=2              # wrk threads
WEBS=${BENCH_WEB:-apache lighttpd}
PY=/usr/bin/python3
RA_USER=benchra
RA_PASS=bench-ra-password-1
LUA=$top_srcdir/bench/bench-e2e.lua

for c in ab wrk $PY; do
	command -v "$c" >/dev/null 2>&1 ||
	    { echo "bench-e2e.sh: $c missing (tools/deps.sh installs it)" >&2; exit 1; }
done
$PY -c 'import cryptography' 2>/dev/null ||
    { echo "bench-e2e.sh: python3-cryptography missing (tools/deps.sh)" >&2; exit 1; }

D=$(mktemp -d /tmp/estca-e2e.XXXXXX)
chmod 755 "$D"
RIG=$D/rig
W=$D/w
R=$D/res
mkdir -p "$W" "$R"
BG=()          # background processes of ours (load tools, perf)
WRK_TICKS=0
RIG_UP=no

bg_del() {     # bg_del PID...: forget our finished background processes
	local p q keep=()
	for p in "${BG[@]}"; do
		for q in "$@"; do [ "$p" = "$q" ] && continue 2; done
		keep+=("$p")
	done
	BG=("${keep[@]}")
}

cleanup() {
	local p
	trap - EXIT INT TERM HUP
	for p in "${BG[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	[ "$RIG_UP" = no ] || bash "$top_srcdir/tests/rig.sh" down "$RIG" >/dev/null 2>&1
	if [ -n "${BENCH_KEEP:-}" ]; then
		echo "bench-e2e.sh: kept $D"
	else
		rm -rf "$D"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }'; }
sum() { awk '{ s += $1 } END { print s + 0 }'; }
pctl() {   # pctl P < values (one per line): the P-th percentile, nearest rank
	sort -n | awk -v p="$1" '{ v[NR] = $1 } END { if (!NR) { print "-"; exit }
	    i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; print v[i] }'
}

pg() { "$ESTCA_PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 "$ESTCA_PGURI" "$@"; }
dba() { { echo 'SET ROLE estca_dba;'; cat; } | pg "$@"; }
pg_counts() {
	pg -F ' ' -c "SELECT (SELECT count(*) FROM est.certificate),
	    (SELECT count(*) FROM est.audit WHERE decision = 'refuse' AND operation NOT LIKE 'dba:%')"
}

# register_ra PREFIX N: N end entities of alias benchra, no code -> lines
# "USERNAME" on stdout.
register_ra() {
	dba -v p="$1" -v n="$2" <<-'EOF'
	SELECT u FROM (SELECT :'p' || g AS u FROM generate_series(1, :n) g) s
	 WHERE est.register_end_entity('benchra', u, NULL, '{}', NULL, 1) IS NOT NULL;
	EOF
}

# register_code PREFIX N: N end entities of alias est, each with a
# one-time code the CA generates (est.issue_enrollment_code: the fast
# salted hash) -> lines "USERNAME CODE".
register_code() {
	dba -F ' ' -v p="$1" -v n="$2" <<-'EOF'
	SELECT u, est.issue_enrollment_code('est', u, 1)
	  FROM (SELECT :'p' || g AS u FROM generate_series(1, :n) g) s
	 WHERE est.register_end_entity('est', u, NULL, '{}', NULL, 1) IS NOT NULL;
	EOF
}

# pool KIND WEB ROUND MODE N: the body file of one enrollment run.
pool() {
	local kind=$1 tag=$2-$3-$4 n=$5 f=$W/pool.$1.$2.$3.$4
	case $kind in
	ra|skg) register_ra "$kind-$tag-" "$n" ;;
	code) register_code "$kind-$tag-" "$n" ;;
	esac | $PY "$top_srcdir/bench/bench-e2e-csr.py" "$f" || return 1
	[ "$(wc -l <"$f")" -eq "$n" ] || { echo "pool $f: wanted $n CSRs" >&2; return 1; }
}

# renew_devices WEB: $CONNS end entities enrolled once (alias est, with a
# code) -> $W/dev.WEB.I.pem (certificate + key, for ab -E) and
# $W/dev.WEB.I.b64 (a renewal CSR: new key, empty subject).
renew_devices() {
	local web=$1 i u code code_http
	mkdir -p "$W/keys"
	register_code "dev-$web-" "$CONNS" >"$W/dev.$web.list" || return 1
	$PY "$top_srcdir/bench/bench-e2e-csr.py" "$W/dev.$web.csr" --keydir "$W/keys" \
	    <"$W/dev.$web.list" || return 1
	i=0
	while read -r u code; do
		code_http=$(sed -n "$((i + 1))p" "$W/dev.$web.csr" |
		    curl -s --cacert "$ESTCA_CACERT" --max-time 30 -o "$W/dev.$web.$i.p7b64" \
		    -w '%{http_code}' -H 'Content-Type: application/pkcs10' --data-binary @- \
		    "$ESTCA_URL/.well-known/est/simpleenroll")
		[ "$code_http" = 200 ] || { echo "enrolling $u: HTTP $code_http" >&2; return 1; }
		openssl base64 -d -in "$W/dev.$web.$i.p7b64" |
		    openssl pkcs7 -inform DER -print_certs | openssl x509 >"$W/dev.$web.$i.pem" &&
		    cat "$W/keys/$u.key" >>"$W/dev.$web.$i.pem" || return 1
		echo "$u" | $PY "$top_srcdir/bench/bench-e2e-csr.py" "$W/dev.$web.$i.b64" \
		    --empty-subject || return 1
		i=$((i + 1))
	done <"$W/dev.$web.list"
	[ "$i" -eq "$CONNS" ]
}

# run_wrk OUT MODE METHOD PATH BODIES COUNT SECS [AUTH]: one wrk run; OUT
# gets "rate p50 p99 answered ok non2xx errors ka".
run_wrk() {
	local out=$1 mode=$2 method=$3 path=$4 bodies=$5 count=$6 secs=$7 auth=${8:-}
	local pid n t=0 close=0
	[ "$mode" = ka ] || close=1
	rm -f "$W"/done.*
	E2E_METHOD=$method E2E_PATH=$path E2E_BODIES=$bodies \
	E2E_COUNT=$(((count + THREADS - 1) / THREADS)) E2E_THREADS=$THREADS \
	E2E_AUTH=$auth E2E_CLOSE=$close E2E_DONE=$W/done \
	    wrk -t "$THREADS" -c "$CONNS" -d "${secs}s" --timeout 30s -s "$LUA" \
	    "$ESTCA_URL$path" >"$W/wrk.out" 2>&1 &
	pid=$!
	BG+=("$pid")
	# wrk sleeps for its -d even when every thread has stopped: end it
	# once they all have (SIGINT makes it print its results).
	while kill -0 "$pid" 2>/dev/null; do
		n=$(compgen -G "$W/done.*" | wc -l)
		if [ "$n" -ge "$THREADS" ] || [ "$t" -gt $(((secs + 30) * 20)) ]; then
			# the load tool's own CPU, for the profile
			WRK_TICKS=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null)
			kill -INT "$pid" 2>/dev/null
			break
		fi
		t=$((t + 1))
		sleep 0.05
	done
	wait "$pid"
	bg_del "$pid"
	cat "$W/wrk.out" >>"$W/wrk.log"
	sed -n 's/^E2E //p' "$W/wrk.out" | tr ' ' '\n' | sed 's/.*=//' | tr '\n' ' ' |
	    awk '{ printf "%s %s %s %s %s %s %s -\n", $6, $7, $8, $1, $2, $3, $4 }' >"$out"
	[ -s "$out" ] || { echo "wrk gave no result:" >&2; cat "$W/wrk.out" >&2; echo "- - - 0 0 0 1 -" >"$out"; }
}

# run_ab OUT MODE PATH COUNT SECS [BODYPREFIX CERTPREFIX]: $CONNS ab
# processes of one connection each; client i posts BODYPREFIX.i.b64 and
# presents CERTPREFIX.i.pem when given.  OUT as for run_wrk.
run_ab() {
	local out=$1 mode=$2 path=$3 count=$4 secs=$5 body=${6:-} cert=${7:-}
	local i pids=() args t0 t1 per
	per=$(((count + CONNS - 1) / CONNS))
	rm -f "$W"/ab.*
	t0=$(date +%s.%N)
	for i in $(seq 0 $((CONNS - 1))); do
		args=(-q -r -l -s 30 -t "$secs" -n "$per" -c 1 -g "$W/ab.$i.g")
		[ "$mode" = new ] || args+=(-k)
		[ -z "$cert" ] || args+=(-E "$cert.$i.pem")
		[ -z "$body" ] || args+=(-p "$body.$i.b64" -T application/pkcs10)
		timeout -k 5 $((secs + 60)) ab "${args[@]}" "$ESTCA_URL$path" >"$W/ab.$i.out" 2>&1 &
		pids+=($!)
	done
	BG+=("${pids[@]}")
	wait "${pids[@]}"
	t1=$(date +%s.%N)
	bg_del "${pids[@]}"
	local done non2xx failed ka p50 p99
	done=$(sed -n 's/^Complete requests: *//p' "$W"/ab.*.out | sum)
	non2xx=$(sed -n 's/^Non-2xx responses: *//p' "$W"/ab.*.out | sum)
	failed=$(sed -n 's/^Failed requests: *//p' "$W"/ab.*.out | sum)
	ka=$(sed -n 's/^Keep-Alive requests: *//p' "$W"/ab.*.out | sum)
	p50=$(tail -q -n +2 "$W"/ab.*.g | cut -f5 | pctl 50)
	p99=$(tail -q -n +2 "$W"/ab.*.g | cut -f5 | pctl 99)
	awk -v n="$done" -v a="$t0" -v b="$t1" -v p50="$p50" -v p99="$p99" \
	    -v non="$non2xx" -v f="$failed" -v ka="$ka" \
	    'BEGIN { printf "%.1f %s %s %d %d %d %d %d\n", n / (b - a), p50, p99, n, n - non, non, f, ka }' >"$out"
}

# cell WEB ROW MODE ROUND: one measured run; appends to $R/WEB.ROW.MODE
cell() {
	local web=$1 row=$2 mode=$3 round=$4 o=$W/cell.out before after
	local p=$W/pool.$row.$web.$round.$mode auth
	auth="Basic $(printf '%s:%s' "$RA_USER" "$RA_PASS" | base64 -w0)"
	before=$(pg_counts)
	case $row in
	static-ab) run_ab "$o" "$mode" /e2e-static.txt "$GET_N" "$GET_SECS" ;;
	static-wrk) run_wrk "$o" "$mode" GET /e2e-static.txt "" "$GET_N" "$GET_SECS" ;;
	cacerts-ab) run_ab "$o" "$mode" /.well-known/est/cacerts "$GET_N" "$GET_SECS" ;;
	cacerts-wrk) run_wrk "$o" "$mode" GET /.well-known/est/cacerts "" "$GET_N" "$GET_SECS" ;;
	ra) run_wrk "$o" "$mode" POST /.well-known/est/benchra/simpleenroll "$p" 0 "$ENR_SECS" "$auth" ;;
	skg) run_wrk "$o" "$mode" POST /.well-known/est/benchra/serverkeygen "$p" 0 "$ENR_SECS" "$auth" ;;
	code) run_wrk "$o" "$mode" POST /.well-known/est/simpleenroll "$p" 0 "$ENR_SECS" ;;
	renew) run_ab "$o" "$mode" /.well-known/est/simplereenroll "$RENEW_N" "$ENR_SECS" \
	    "$W/dev.$web" "$W/dev.$web" ;;
	esac
	after=$(pg_counts)
	# + certificates issued, refusals audited during the run
	echo "$(cat "$o") $(echo "$before $after" | awk '{ print $3 - $1, $4 - $2 }')" \
	    >>"$R/$web.$row.$mode"
	echo "  $web $row $mode round $round: $(tail -n1 "$R/$web.$row.$mode")" >&2
}

# cpu_by_comm: "NAME TICKS" (user + system, all threads) for the rig's
# processes (command line names the rig or its URL, or a child of its
# postmaster) by process name, and "(other) TICKS" for everything else on
# the machine (other people's jobs, perf, this script).
cpu_by_comm() {
	local f line rest c pm cmd fs args
	pm=$(head -n1 "$RIG/pg/data/postmaster.pid" 2>/dev/null)
	for f in /proc/[0-9]*/stat; do
		read -r line <"$f" 2>/dev/null || continue
		c=${line#*\(}; c=${c%\)*}; c=${c// /_}
		rest=${line##*) }
		read -r -a fs <<<"$rest"
		args=()
		mapfile -d '' args <"${f%/stat}/cmdline" 2>/dev/null
		cmd=" ${args[*]} "
		if [[ $cmd == *"$RIG"* || $cmd == *"$ESTCA_URL"* || ${fs[1]} == "$pm" ]]; then
			echo "$c $((fs[11] + fs[12]))"
		else
			echo "(other) $((fs[11] + fs[12]))"
		fi
	done | awk '{ t[$1] += $2 } END { for (c in t) print c, t[c] }'
}

# profile WEB: an extra, untimed RA run (keep-alive) with the CPU of every
# process from /proc before and after, and perf record -a -g if present.
profile() {
	local web=$1 a=$W/cpu.before b=$W/cpu.after pp perfpid=
	pool ra "$web" prof ka "$ENR_N" || return 1
	cpu_by_comm >"$a"
	if command -v perf >/dev/null 2>&1; then
		perf record -a -g -q -o "$W/perf.$web.data" -- sleep 3 >/dev/null 2>&1 &
		perfpid=$!
		BG+=("$perfpid")
	fi
	run_wrk "$W/prof.out" ka POST /.well-known/est/benchra/simpleenroll \
	    "$W/pool.ra.$web.prof.ka" 0 "$ENR_SECS" \
	    "Basic $(printf '%s:%s' "$RA_USER" "$RA_PASS" | base64 -w0)"
	cpu_by_comm >"$b"
	echo "wrk ${WRK_TICKS:-0}" >>"$b"
	pp=$(awk '{ print $4 }' "$W/prof.out")
	echo "profile ($web, ra, keep-alive, $pp requests, $(awk '{ print $1 }' "$W/prof.out")/s):"
	echo "  CPU per request (ms) by process name, from /proc (the rig's processes;"
	echo "  (other) is everything else on the machine: other jobs, perf, this script):"
	awk -v n="$pp" -v hz="$(getconf CLK_TCK)" 'NR == FNR { a[$1] = $2; next }
	    { d = $2 - a[$1]; if (d > 0) { t[$1] = d; s += d } }
	    END { for (c in t) if (t[c] * 1000 / hz / n >= 0.05)
	        printf "    %-16s %7.2f ms  %3.0f%%\n", c, t[c] * 1000 / hz / n, 100 * t[c] / s
	        printf "    %-16s %7.2f ms\n", "(all)", s * 1000 / hz / n }' "$a" "$b" | sort -k2 -rn
	if [ -n "$perfpid" ]; then
		wait "$perfpid"
		bg_del "$perfpid"
		echo "  perf record -a -g (3 s), share of samples by process:"
		perf report -i "$W/perf.$web.data" --no-children --sort comm --stdio 2>/dev/null |
		    grep -v '^#' | grep '%' | head -n 10 | sed 's/^/   /'
		echo "  top symbols:"
		perf report -i "$W/perf.$web.data" --no-children --sort comm,dso,sym --stdio -g none 2>/dev/null |
		    grep -v '^#' | grep '%' | head -n 25 | sed 's/^/   /'
	fi
}

# access_tally WEB: requests and non-2xx statuses per path in the web
# server's access log (the server's own per-request record).
access_tally() {
	local log=$RIG/log/$1-access.log
	[ -f "$log" ] || return 0
	echo "access log ($1): requests, non-2xx per request line"
	awk '{ if (match($0, /"[A-Z]+ [^ ]+ HTTP\/[0-9.]+" [0-9]+/)) {
	    s = substr($0, RSTART + 1, RLENGTH - 1); split(s, f, " ")
	    k = f[1] " " f[2]; n[k]++; if (f[4] !~ /^2/) bad[k]++ } }
	    END { for (k in n) printf "  %-46s %7d %5d\n", k, n[k], bad[k] + 0 }' "$log" | sort
}

ROWS=${BENCH_ROWS:-static-ab cacerts-ab static-wrk cacerts-wrk ra code renew skg}

bench_web() {
	local web=$1 r m row
	echo "== $web: rig up" >&2
	RIG_UP=yes
	bash "$top_srcdir/tests/rig.sh" up "$RIG" --port 0 --builddir "$top_builddir" \
	    --web "$web" >"$W/rig-$web.log" 2>&1 || { cat "$W/rig-$web.log" >&2; return 1; }
	# shellcheck disable=SC1091
	. "$RIG/rig.env"
	dba >/dev/null <<-EOF || return 1
	SELECT est.create_alias('benchra', 'est', 'device', 'ra', serverkeygen => true)
	 WHERE NOT EXISTS (SELECT 1 FROM est.alias WHERE name = 'benchra');
	SELECT est.create_role('benchra', 'benchra')
	 WHERE NOT EXISTS (SELECT 1 FROM est.role WHERE name = 'benchra');
	SELECT est.add_role_member_password('benchra', '$RA_USER', '$RA_PASS')
	 WHERE NOT EXISTS (SELECT 1 FROM est.role_member WHERE username = '$RA_USER');
	EOF
	# The static ceiling: a file of the size of the cacerts reply, put into
	# the rig's document root here (the rig's own is empty).
	curl -s --cacert "$ESTCA_CACERT" -o "$W/cacerts.txt" "$ESTCA_URL/.well-known/est/cacerts"
	install -m 644 "$W/cacerts.txt" "$RIG/$web/htdocs/e2e-static.txt"
	[ "$(curl -s --cacert "$ESTCA_CACERT" -o /dev/null -w '%{http_code}' \
	    "$ESTCA_URL/e2e-static.txt")" = 200 ] || { echo "static file not served" >&2; return 1; }
	echo "== $web: preparing end entities and CSRs" >&2
	for r in $(seq "$ROUNDS"); do
		for m in ka new; do
			pool ra "$web" "$r" "$m" "$ENR_N" && pool skg "$web" "$r" "$m" "$ENR_N" &&
			    pool code "$web" "$r" "$m" "$CODE_N" || return 1
		done
	done
	renew_devices "$web" || return 1
	# Warm-up: mod_fcgid starts its workers on demand.
	run_wrk "$W/warm.out" ka GET /.well-known/est/cacerts "" 2000 2
	echo "== $web: $ROUNDS round(s)" >&2
	for r in $(seq "$ROUNDS"); do
		for row in $ROWS; do
			for m in ka new; do
				cell "$web" "$row" "$m" "$r"
			done
		done
	done
	profile "$web" >"$R/$web.profile" 2>&1
	RIG_UP=no
	bash "$top_srcdir/tests/rig.sh" down "$RIG" >>"$W/rig-$web.log" 2>&1
	access_tally "$web" >"$R/$web.access"
}

echo "estca end-to-end benchmark: $(nproc) cores, $(date -u '+%F %H:%M') UTC, median of $ROUNDS round(s)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for web in $WEBS; do
	bench_web "$web" || { echo "bench-e2e.sh: $web failed" >&2; exit 1; }
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

# Table: per row and mode the medians of rate, p50, p99; the sums of the
# validity counts over all rounds.
col() { awk -v c="$1" '{ print $c }' "$2" | median; }
colsum() { awk -v c="$1" '{ s += $c } END { print s + 0 }' "$2"; }
echo
echo "16 clients; rate = requests/s; p50/p99 ms; ka = keep-alive, new = new TLS connection per request"
echo "valid = every request of every round 2xx, no socket errors, no refusal audited, certificates issued >= 2xx answers"
printf '%-8s %-12s %9s %7s %7s | %9s %7s %7s | %8s %6s %6s %6s %s\n' web row \
    "ka rate" p50 p99 "new rate" p50 p99 "2xx" non2xx errors issued valid
for web in $WEBS; do
	for row in $ROWS; do
		ka=$R/$web.$row.ka; nw=$R/$web.$row.new
		[ -f "$ka" ] && [ -f "$nw" ] || continue
		ok=$(( $(colsum 5 "$ka") + $(colsum 5 "$nw") ))
		non=$(( $(colsum 6 "$ka") + $(colsum 6 "$nw") ))
		err=$(( $(colsum 7 "$ka") + $(colsum 7 "$nw") ))
		iss=$(( $(colsum 9 "$ka") + $(colsum 9 "$nw") ))
		ref=$(( $(colsum 10 "$ka") + $(colsum 10 "$nw") ))
		valid=yes
		[ "$non" -eq 0 ] && [ "$err" -eq 0 ] && [ "$ref" -eq 0 ] || valid=NO
		case $row in static-*|cacerts-*) iss=- ;; *) [ "$iss" -ge "$ok" ] || valid=NO ;; esac
		printf '%-8s %-12s %9s %7s %7s | %9s %7s %7s | %8s %6s %6s %6s %s\n' "$web" "$row" \
		    "$(col 1 "$ka")" "$(col 2 "$ka")" "$(col 3 "$ka")" \
		    "$(col 1 "$nw")" "$(col 2 "$nw")" "$(col 3 "$nw")" "$ok" "$non" "$err" "$iss" "$valid"
	done
done
for web in $WEBS; do
	[ -f "$R/$web.renew.ka" ] || continue
	ka=$(awk '{ s += $8 } END { print s + 0 }' "$R/$web.renew.ka")
	echo "$web renew ka: ab counted $ka keep-alive requests"
done
echo
for web in $WEBS; do
	cat "$R/$web.access" "$R/$web.profile" 2>/dev/null
	echo
done
