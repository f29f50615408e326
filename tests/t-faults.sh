#!/bin/bash
# t-faults.sh - parts failing under load, through a whole rig; after each
# fault the service comes back by itself (or after the part is back), and
# at the end the books agree with what every client was told:
#   - PostgreSQL restarted during a burst: requests in flight get 503 (or
#     500), the workers reconnect by themselves, nothing half-written;
#   - the workers' database sessions killed (no message, only the end of
#     the socket): the next request of every worker connects again and
#     is served;
#   - a FastCGI worker killed with SIGKILL mid-request: an error for what it
#     had in hand, the next requests served;
#   - the token's store taken away under load (as when an HSM is pulled):
#     503s while it is gone, the engine re-opens it once it is back;
#   - the engine stopped (its socket gone): 503 with Retry-After at once,
#     never a hang, and a log line that names the engine's socket;
#   - the engine refusing the workers (its allow_uids without www-data):
#     503 and a log line on both sides;
#   then every 200 is a recorded certificate with its audit row and one use,
#   no failed request used anything up, and the engine's audit log agrees.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql pgrep runuser
est_rig_up t-faults

C=8
PER=${FAULT_PER:-40}
ALIAS=faultra
PW=Fault-$(openssl rand -hex 8)
note_secret "$PW"
URL=$EST/$ALIAS/simpleenroll
USES=$((C * 6 * PER))
N200=0
NFAIL=0

check "DBA: RA alias $ALIAS, a password member, $C end entities" dba "
SELECT est.create_alias('$ALIAS', 'est', 'device', 'ra');
SELECT est.create_role('faultops', '$ALIAS');
SELECT est.add_role_member_password('faultops', 'faulter', :'pw');
SELECT est.register_end_entity('$ALIAS', 'fault-' || i, NULL, '{}', NULL, $((6 * PER)))
  FROM generate_series(1, $C) i;" -v pw="$PW"
for i in $(seq 1 $C); do
	mkcsr "c$i" "/CN=fault-$i" '' '' || fail "CSR $i"
done
issued() { sql "SELECT count(*) FROM est.certificate WHERE alias = '$ALIAS'"; }
# after_issued N: wait (at most 60 s) until N more certificates exist
after_issued() {
	local want=$(($(issued) + $1)) t=$((SECONDS + 60))
	while [ "$(issued)" -lt "$want" ] && [ $SECONDS -lt $t ]; do sleep 0.1; done
}
# tally TAG ALLOWED: count run TAG into the books; every status must be one
# of ALLOWED (a regex of codes)
tally() {
	local tag=$1 allowed=$2 bad
	load_tally "$tag"
	N200=$((N200 + L_200))
	NFAIL=$((NFAIL + L_TOTAL - L_200))
	bad=$(grep -cvE "^($allowed)\$" "$W/$tag/status.all")
	is "$tag: every answer is one of $allowed ($L_STATUSES)" "$bad" 0
	[ "$bad" -eq 0 ] || load_why "$tag" "$allowed"
	is "$tag: every 200 carries one certificate" "$L_BAD" 0
}
# one_each TAG: one more request per client, all must be 200
one_each() {
	load_run "$1" "$URL" $C 1 60 "user = \"faulter:$PW\""
	tally "$1" 200
}

# ---- PostgreSQL restarted during a burst -------------------------------------

load_run pg "$URL" $C $PER 120 "user = \"faulter:$PW\"" &
run=$!
after_issued 20
pgdata=$(sql "SHOW data_directory")
(cd / && runuser -u postgres -- "$ESTCA_PGBIN/pg_ctl" -D "$pgdata" -m fast -w restart) \
    >"$W/pg-restart.log" 2>&1
st=$?
wait $run
is "postgres restarted" "$st" 0
tally pg '200|500|503|000'
one_each pg-after

# ---- the workers' database sessions ended without a word --------------------

# A backend killed (or a connection cut) leaves the worker nothing to read
# but the end of its socket: no message says why.  Every worker (16 behind
# Apache, 8 behind lighttpd; 16 clients at once reach most of them) finds that out
# when its next request looks at the connection, and must connect again
# for that request, not answer it with a 503.  (Killing a backend makes
# PostgreSQL restart every session; it is back once it answers.)
backends=$(sql "SELECT pid FROM pg_stat_activity WHERE usename = 'estca_fcgi'")
n_backends=$(printf '%s\n' "$backends" | grep -c '[0-9]')
# shellcheck disable=SC2086
kill -KILL $backends 2>/dev/null
is "the workers had database sessions to kill" "$((n_backends > 0))" 1
wait_until 60 sql "SELECT 1" >/dev/null 2>&1
for i in $(seq 1 $C); do ln -sf "$W/c$i.b64" "$W/c$((i + C)).b64"; done
load_run silent "$URL" $((2 * C)) 1 60 "user = \"faulter:$PW\""
tally silent 200

# ---- a worker killed mid-burst ------------------------------------------------

# The victim is a worker with a request in hand: an idle one waits in the
# system call the idle workers share (accept(2)); a busy one is running,
# or waits in another (on the engine or PostgreSQL), anywhere between the
# end entity's lock and the COMMIT.
worker_syscall() { local nr; read -r nr _ <"/proc/$1/syscall" 2>/dev/null && echo "$nr"; }
idle_nr=$(for p in $(pgrep -f "$ESTCA_RIG_DIR/bin/estca-fcgi"); do worker_syscall "$p"; done |
    sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
busy_worker() {
	local t=$((SECONDS + 10)) p nr
	while [ $SECONDS -lt $t ]; do
		for p in $(pgrep -f "$ESTCA_RIG_DIR/bin/estca-fcgi"); do
			nr=$(worker_syscall "$p") || continue
			[ "$nr" = "$idle_nr" ] || { echo "$p $nr"; return 0; }
		done
		sleep 0.02
	done
	return 1
}
load_run wk "$URL" $C $PER 120 "user = \"faulter:$PW\"" &
run=$!
after_issued 20
if [ -z "$idle_nr" ]; then
	# /proc/PID/syscall unreadable here (no ptrace rights): any worker
	victim=$(pgrep -f "$ESTCA_RIG_DIR/bin/estca-fcgi" | head -n 1)
	kill -KILL "$victim" 2>/dev/null
	diag "killed worker $victim, busy or not: /proc/$victim/syscall is not readable"
elif victim=$(busy_worker); then
	kill -KILL "${victim%% *}" 2>/dev/null
	ok "a worker with a request in hand killed (pid, system call: $victim; idle ones wait in $idle_nr)"
else
	fail "a worker with a request in hand killed" "none found within 10 s (idle ones wait in system call $idle_nr)"
fi
wait $run
tally wk '200|500|502|503|000'
KILLED=$(grep -cvE '^200$' "$W/wk/status.all")
KILLED=$((KILLED + $(cat "$W/pg/status.all" | grep -c '^000$')))
one_each wk-after

# ---- the token's store taken away under load ---------------------------------

tokens=$(sed -n 's/^directories.tokendir *= *//p' "$SOFTHSM2_CONF")
load_run tk "$URL" $C $PER 120 "user = \"faulter:$PW\"" &
run=$!
after_issued 20
mv "$tokens" "$tokens.away"
sleep 1
mv "$tokens.away" "$tokens"
wait $run
tally tk '200|503|000'
one_each tk-after
if grep -q "re-opened after a fault" "$ESTCA_RIG_DIR/log/signd.log"; then
	ok "the engine re-opened the token (logged)"
else
	fail "the engine re-opened the token (logged)"
fi

# ---- the engine gone ----------------------------------------------------------

"$RIG_SH" engine-stop "$ESTCA_RIG_DIR" >/dev/null 2>&1
is "engine stopped: its socket is gone" "$([ -e "$ESTCA_ENGINE_SOCKET" ] && echo there || echo gone)" gone
t0=$SECONDS
load_run gone "$URL" $C 2 60 "user = \"faulter:$PW\""
is "engine gone: every request answered within 10 s" "$(((SECONDS - t0) <= 10))" 1
tally gone 503
st=$(post gonehdr "$URL" "$W/c1.b64" -u "faulter:$PW")
is "... a 503" "$st" 503
NFAIL=$((NFAIL + 1))
is "... with Retry-After" "$(header "$W/gonehdr.hdr" Retry-After | grep -c '^[0-9]')" 1
is "... reason" "$(reason_of gonehdr)" "CA engine temporarily unavailable"
if grep -qs "engine $ESTCA_ENGINE_SOCKET" "$ESTCA_RIG_DIR"/log/*.log; then
	ok "... and a log line names the engine's socket"
else
	fail "... and a log line names the engine's socket"
fi
"$RIG_SH" engine-start "$ESTCA_RIG_DIR" >/dev/null 2>&1
one_each gone-after

# ---- the engine refusing the workers ------------------------------------------

conf=$ESTCA_RIG_DIR/engine/signd.conf
cp "$conf" "$W/signd.conf.saved"
sed -i 's/^allow_uids = .*/allow_uids = 0/' "$conf"
"$RIG_SH" engine-stop "$ESTCA_RIG_DIR" >/dev/null 2>&1
"$RIG_SH" engine-start "$ESTCA_RIG_DIR" >/dev/null 2>&1
st=$(post peer "$URL" "$W/c1.b64" -u "faulter:$PW" --max-time 30)
is "engine refuses the workers' uid: 503" "$st" 503
NFAIL=$((NFAIL + 1))
if wait_until 5 grep -q "refused connection from uid $(id -u www-data)" "$ESTCA_RIG_DIR/log/signd.log"; then
	ok "... the engine logs the refused uid"
else
	fail "... the engine logs the refused uid"
fi
cp "$W/signd.conf.saved" "$conf"
"$RIG_SH" engine-stop "$ESTCA_RIG_DIR" >/dev/null 2>&1
"$RIG_SH" engine-start "$ESTCA_RIG_DIR" >/dev/null 2>&1
one_each peer-after

# ---- the books -----------------------------------------------------------------

# 000: a client that gave up (curl's max-time; slow sanitizer builds) on
# a request the server may still have completed: like a lost reply.
KILLED=$((KILLED + $(cat "$W"/tk/status.all | grep -c '^000$')))
books "$ALIAS" "$N200" "$NFAIL" "$USES" "$KILLED"

done_testing
