#!/bin/bash
# t-pop.sh - proof of possession (RFC 7030 3.5; seed 002: Kura's
# "Proof-of-Possession" puts the TLS channel binding, tls-unique, into the
# CSR's challengePassword).  Neither Apache nor lighttpd gives the worker
# the channel's value, so estca cannot verify a binding; it answers such a
# CSR with a reason that says so and never takes the value for an
# enrollment code (doc/enrollment.md, "Proof of possession"):
#   - where no code is expected in the challengePassword (ra with the
#     seed 004 curl line, dn_part_password, simplereenroll): 403 with the
#     reason, nothing used, no failed attempt;
#   - challenge_password with est.set_alias_channel_binding(alias, true):
#     the same, and the code still works; without it the challengePassword
#     is the code, whatever it looks like;
#   - any other challengePassword in the ra mode is ignored as before.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl openssl psql
est_rig_up t-pop

TU12=$(openssl rand -base64 12)   # tls-unique of TLS 1.2 (12 bytes)
TU32=$(openssl rand -base64 32)   # tls-exporter (RFC 9266, 32 bytes)
REASON="the challengePassword carries a channel binding (RFC 7030 3.5, tls-unique), which this server cannot verify behind its web server; send the request without it"

note_secret foo123-pw 2>/dev/null
check "DBA creates aliases ra, cb (challenge_password, binding expected), dnp" dba "
SELECT est.create_alias('ra', 'est', 'device', 'ra');
SELECT est.create_role('raops', 'ra');
SELECT est.add_role_member_password('raops', 'estadmin', 'foo123-pw');
SELECT est.create_alias('cb', 'est', 'device', 'challenge_password');
SELECT est.create_alias('dnp', 'est', 'device', 'dn_part_password',
    dn_part_field => 'serialNumber');"
is "DBA says the clients of cb send a channel binding" \
    "$(dba "SELECT est.set_alias_channel_binding('cb', true);")" t
is "... of an unknown alias: false" \
    "$(dba "SELECT est.set_alias_channel_binding('nosuch', true);")" f
is "... audited" "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'dba:set_alias_channel_binding'")" 1
check "DBA registers myclient under ra (no code, 5 uses)" dba "
SELECT est.register_end_entity('ra', 'myclient', 'CN=myclient', '{}', NULL, 5);"
CODE=Cb1-$(openssl rand -hex 8)
check "DBA registers dev-c under cb" register dev-c "$CODE" 'CN=dev-c' '{}' 1 cb
CODE_D=Dp1-$(openssl rand -hex 8)
check "DBA registers dev-p under dnp" register dev-p "$CODE_D" 'CN=dev-p' '{}' 1 dnp
check "DBA registers dev-t under est, its code shaped like a binding" \
    register dev-t "$TU12" 'CN=dev-t' '{}' 1

cp "$ESTCA_CACERT" "$W/ManagementCA.cacert.pem"
# seed 004's curl line (alias ra; --user of the RA)
seed_post() {   # seed_post NAME CSR-NAME
	(cd "$W" && cp "$2.b64" device.b64 &&
	    curl -v --cacert ManagementCA.cacert.pem --user estadmin:foo123-pw --data @device.b64 -o device-p7.b64 -H "Content-Type: application/pkcs10" -H "Content-Transfer-Encoding: base64" "$EST/ra/simpleenroll" &&
	    cp device-p7.b64 "$1.body") >"$W/$1.log" 2>&1
	http_code_of "$W/$1.log"
}
uses() {
	sql "SELECT uses_left || ' ' || failed_attempts FROM est.end_entity WHERE alias = '$1' AND username = '$2'"
}

mkcsr b12 /CN=myclient "" "$TU12"
is "ra, tls-unique (12 bytes) in the challengePassword: 403" "$(seed_post rb12 b12)" 403
is "... reason" "$(reason_of rb12)" "$REASON"
mkcsr b32 /CN=myclient "" "$TU32"
is "ra, tls-exporter (32 bytes) in the challengePassword: 403" "$(seed_post rb32 b32)" 403
is "... nothing used" "$(uses ra myclient)" "5 0"
is "... audited, not as a code" \
    "$(sql "SELECT count(*) FROM est.audit WHERE alias = 'ra' AND decision = 'refuse' AND reason LIKE 'channel binding in the challengePassword%'")" 2
mkcsr o1 /CN=myclient "" "just-a-password-field"
is "ra, any other challengePassword is ignored: 200" "$(seed_post ro1 o1)" 200
check "... certificate verifies" certof ro1
mkcsr o2 /CN=myclient "" "$(openssl rand -base64 9)"
is "ra, base64 of another length is no binding: 200" "$(seed_post ro2 o2)" 200

mkcsr r1 /CN=myclient "" "$TU12"
is "simplereenroll with a binding: 403" \
    "$(post r1 "$EST/ra/simplereenroll" "$W/r1.b64" --cert "$W/ro1.pem" --key "$W/o1.key")" 403
is "... reason" "$(reason_of r1)" "$REASON"
mkcsr r2 /CN=myclient "" ""
is "simplereenroll without: 200" \
    "$(post r2 "$EST/ra/simplereenroll" "$W/r2.b64" --cert "$W/ro1.pem" --key "$W/o1.key")" 200

mkcsr c1 /CN=dev-c "" "$TU12"
is "challenge_password, binding expected, binding sent: 403" "$(post c1 "$EST/cb/simpleenroll" "$W/c1.b64")" 403
is "... reason" "$(reason_of c1)" "$REASON"
is "... no failed attempt counted, nothing used" "$(uses cb dev-c)" "1 0"
mkcsr c2 /CN=dev-c "" "$CODE"
is "... the enrollment code still works: 200" "$(post c2 "$EST/cb/simpleenroll" "$W/c2.b64")" 200

mkcsr p1 "/CN=dev-p/serialNumber=$CODE_D" "" "$TU32"
is "dn_part_password (code in the subject), binding in the challengePassword: 403" \
    "$(post p1 "$EST/dnp/simpleenroll" "$W/p1.b64")" 403
is "... reason" "$(reason_of p1)" "$REASON"
is "... nothing used" "$(uses dnp dev-p)" "1 0"

mkcsr t1 /CN=dev-t "" "$TU12"
is "challenge_password without the alias option: the challengePassword is the code: 200" \
    "$(post t1 "$EST/simpleenroll" "$W/t1.b64")" 200

done_testing
