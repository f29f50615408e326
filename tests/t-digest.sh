#!/bin/bash
# t-digest.sh - HTTP Digest (RFC 7616) for RA members (issue 13 point 4;
# seed 002: Kura's EST client "HTTP basic authentication digest";
# sql/010_digest.sql; doc/enrollment.md "RA Digest").
#
# curl 7.88 stands in for the Kura client: `curl --digest -u user:pass`
# against an RA alias that offers SHA-256 and MD5:
#   - a 401 carries the Basic and both Digest challenges (qop="auth",
#     one nonce each), and none where the alias offers no Digest;
#   - curl 7.88 can do both SHA-256 and MD5: which it answers depends on
#     the order of the challenges and on whether the web server kept them
#     in separate headers (Apache merges them into one, and curl then
#     takes the last one's parameters): the two orders make it use both;
#   - a wrong password, an unknown user, a member whose password was set
#     before the migration (no verifier) get 401;
#   - the Authorization header of a successful request, sent again with
#     -H, gets 401 (the (nonce, nc) is recorded in Postgres; any worker
#     refuses it); a nonce older than 300 s (made here with the rig's key)
#     gets 401 with stale=true; a forged nonce 401 without it;
#   - Basic still works next to Digest; an alias that offers MD5 only
#     refuses a SHA-256 answer; the HA1 table is not readable by the DBA.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl openssl psql python3
est_rig_up t-digest

PW=kura-$(openssl rand -hex 8)
PW2=kura2-$(openssl rand -hex 8)
note_secret "$PW" "$PW2"

check "DBA makes alias est an RA alias with member kura" dba "
SELECT est.update_alias('est', enroll_mode => 'ra');
SELECT est.create_role('raops', 'est');
SELECT est.add_role_member_password('raops', 'kura', :'pw');" -v pw="$PW"
# a member as before the migration: no Digest verifier
check "DBA adds member old-kura and removes its verifiers (as if set before 010)" dba "
SELECT est.add_role_member_password('raops', 'old-kura', :'pw');" -v pw="$PW2"
sql "DELETE FROM est.role_member_digest d USING est.role_member m
    WHERE m.id = d.member AND m.username = 'old-kura'" >/dev/null
is "verifiers stored per algorithm, realm 'estca est'" \
    "$(sql "SELECT string_agg(d.algorithm || ' ' || d.realm || ' ' || length(d.ha1), ',' ORDER BY d.algorithm)
        FROM est.role_member_digest d JOIN est.role_member m ON m.id = d.member WHERE m.username = 'kura'")" \
    "MD5 estca est 32,SHA-256 estca est 64"
is "... the SHA-256 HA1 is H(username:realm:password)" \
    "$(sql "SELECT d.ha1 FROM est.role_member_digest d JOIN est.role_member m ON m.id = d.member
        WHERE m.username = 'kura' AND d.algorithm = 'SHA-256'")" \
    "$(printf '%s' "kura:estca est:$PW" | openssl dgst -sha256 -r | cut -d' ' -f1)"
if dba "SELECT count(*) FROM est.role_member_digest;" >/dev/null 2>&1; then
	fail "the DBA role cannot read the HA1s"
else
	ok "the DBA role cannot read the HA1s"
fi

n=0
# csr: a fresh CSR for CN=dev-N (registered, 1 use), path in $CSR
newcsr() {
	n=$((n + 1))
	dba "SELECT est.register_end_entity('est', :'u', NULL, '{}', NULL, 1);" -v u="dev-$n" >/dev/null
	mkcsr "c$n" "/CN=dev-$n" '' ''
	CSR=$W/c$n.b64
}

newcsr
is "no Digest offered by default: a 401 carries Basic only" \
    "$(post nod "$EST/simpleenroll" "$CSR") $(grep -ci '^WWW-Authenticate: Digest' "$W/nod.hdr")" "401 0"
check "DBA offers SHA-256 and MD5 on est (in that order)" \
    dba "SELECT est.set_alias_digest('est', '{SHA-256,MD5}');"
# challenges CHALLENGE-HDR-FILE: the schemes of the WWW-Authenticate
# challenges, in order, with the Digest algorithms ("Basic Digest:SHA-256
# ..."), whether the web server sent one header per challenge (what the
# worker writes) or merged them into one (Apache does, RFC 9110 5.3).
challenges() {
	grep -i '^WWW-Authenticate:' "$1" | tr -d '\r' | sed 's/^WWW-Authenticate: *//I' |
	    tr '\n' ',' | grep -oE '(^|, *)(Basic|Digest) [^,]*(, *[a-z]+=("[^"]*"|[^, ]*))*' |
	    sed -E 's/^, *//' | while read -r line; do
		case $line in
		Basic*) printf 'Basic ' ;;
		Digest*) printf 'Digest:%s%s ' "$(printf '%s' "$line" | sed -nE 's/.*algorithm=([A-Za-z0-9-]+).*/\1/p')" \
		    "$(case $line in *stale=true*) printf ':stale' ;; esac)" ;;
		esac
	done
}
is "a 401 now carries Basic and the Digest challenges, SHA-256 first, then MD5" \
    "$(post ch "$EST/simpleenroll" "$CSR") $(challenges "$W/ch.hdr")" \
    "401 Basic Digest:SHA-256 Digest:MD5 "
is "... realm estca est and qop auth in each" \
    "$(grep -oi 'Digest realm="estca est", qop="auth", algorithm=[A-Z0-9-]*, nonce="[0-9a-f]\{112\}"' "$W/ch.hdr" | grep -c .)" 2
diag "$(grep -ci '^WWW-Authenticate:' "$W/ch.hdr") WWW-Authenticate header line(s) reached curl behind $ESTCA_WEB"

# curl --digest -u kura:PW, verbose log in $W/NAME.log
dpost() {
	local name=$1 file=$2
	shift 2
	# HTTP/1.1 so that -v shows the request headers as "> Name: value"
	# (lighttpd speaks HTTP/2 otherwise)
	curl -sv --http1.1 --cacert "$ESTCA_CACERT" --max-time 60 -o "$W/$name.body" \
	    -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$file" "$@" "$EST/simpleenroll" 2>"$W/$name.log"
}
alg_used() {
	sed -n 's/^> Authorization: Digest .*algorithm=\([A-Za-z0-9-]*\).*/\1/p' "$W/$1.log" | tail -n1
}

is "curl --digest -u kura:PW (SHA-256 offered first): 200" \
    "$(dpost d1 "$CSR" --digest -u "kura:$PW")" 200
check "... the certificate verifies" certof d1
A1=$(alg_used d1)
diag "curl answered the challenges SHA-256, MD5 with $A1"
is "... audited as the RA by Digest" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'simpleenroll' AND decision = 'accept'
        AND username = 'dev-$n' AND requester LIKE '% ra-digest=kura'")" 1

# the replay: the Authorization header of that request, sent again
AUTH=$(sed -n 's/^> \(Authorization: Digest .*\)/\1/p' "$W/d1.log" | tr -d '\r' | tail -n1)
newcsr
is "the same Authorization header sent again (-H): 401" \
    "$(post replay "$EST/simpleenroll" "$CSR" -H "$AUTH")" 401
is "... reason" "$(reason_of replay)" "Digest nonce count already used"
is "... nothing used" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-$n'")" 1

check "DBA offers MD5 first" dba "SELECT est.set_alias_digest('est', '{MD5,SHA-256}');"
is "curl --digest (MD5 offered first): 200" "$(dpost d2 "$CSR" --digest -u "kura:$PW")" 200
A2=$(alg_used d2)
diag "curl answered the challenges MD5, SHA-256 with $A2"
# curl 7.88 takes the parameters of the last Digest challenge it parsed when
# the server merged them into one header; with one header each, the first.
# Either way the two orders make it use both algorithms.
is "curl 7.88 did SHA-256 and MD5 Digest (one in each order)" \
    "$(printf '%s\n' "$A1" "$A2" | sort | tr '\n' ' ')" "MD5 SHA-256 "

newcsr
is "wrong password: 401" "$(dpost wrong "$CSR" --digest -u "kura:wrong-$PW")" 401
is "unknown user: 401" "$(dpost unk "$CSR" --digest -u "nobody:$PW")" 401
is "member without a verifier (password set before 010): 401" \
    "$(dpost old "$CSR" --digest -u "old-kura:$PW2")" 401
check "DBA sets old-kura's password again" \
    dba "SELECT est.set_role_member_password('raops', 'old-kura', :'pw');" -v pw="$PW2"
is "... then Digest works for it: 200" "$(dpost old2 "$CSR" --digest -u "old-kura:$PW2")" 200
is "... nothing used by the failures before" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'simpleenroll' AND decision = 'accept'
        AND username = 'dev-$n'")" 1

newcsr
is "Basic still works next to Digest: 200" "$(post basic "$EST/simpleenroll" "$CSR" -u "kura:$PW")" 200

# a stale nonce: made with the rig's key 10 minutes ago, answered right
KEY=$(sql "SELECT encode(key, 'hex') FROM est.digest_key")
HA1=$(printf '%s' "kura:estca est:$PW" | openssl dgst -sha256 -r | cut -d' ' -f1)
# digest_header AGE [MAC-KEY]: an Authorization header for POST URI with a
# nonce AGE seconds old
digest_header() {
	python3 - "$1" "${2:-$KEY}" "$HA1" <<'PY'
import hashlib, hmac, os, struct, sys, time
age, key, ha1 = int(sys.argv[1]), bytes.fromhex(sys.argv[2]), sys.argv[3]
realm, uri = "estca est", "/.well-known/est/simpleenroll"
tr = struct.pack(">Q", int(time.time()) - age) + os.urandom(16)
def field(b):
    return struct.pack(">Q", len(b)) + b
mac = hmac.new(key, field(tr) + field(realm.encode()), hashlib.sha256).digest()
nonce = (tr + mac).hex()
h = lambda s: hashlib.sha256(s.encode()).hexdigest()
nc, cnonce = "00000001", os.urandom(8).hex()
resp = h(":".join([ha1, nonce, nc, cnonce, "auth", h("POST:" + uri)]))
print('Authorization: Digest username="kura", realm="%s", nonce="%s", uri="%s", '
      'algorithm=SHA-256, response="%s", qop=auth, nc=%s, cnonce="%s"'
      % (realm, nonce, uri, resp, nc, cnonce))
PY
}
newcsr
is "a fresh nonce made with the rig's key: 200 (the helper is right)" \
    "$(post fresh "$EST/simpleenroll" "$CSR" -H "$(digest_header 5)")" 200
newcsr
is "a nonce 10 minutes old: 401" "$(post stale "$EST/simpleenroll" "$CSR" -H "$(digest_header 600)")" 401
is "... with stale=true in the Digest challenges" \
    "$(challenges "$W/stale.hdr")" "Basic Digest:MD5:stale Digest:SHA-256:stale "
is "a nonce under another key: 401, not stale" \
    "$(post forged "$EST/simpleenroll" "$CSR" -H "$(digest_header 5 "$(openssl rand -hex 32)")") $(grep -ci 'stale=true' "$W/forged.hdr")" \
    "401 0"

check "DBA offers MD5 only" dba "SELECT est.set_alias_digest('est', '{MD5}');"
is "a SHA-256 answer to an MD5-only alias: 401" \
    "$(post notoff "$EST/simpleenroll" "$CSR" -H "$(digest_header 5)")" 401
is "... one Digest challenge, MD5" "$(challenges "$W/notoff.hdr")" "Basic Digest:MD5 "
is "curl --digest against MD5 only: 200" "$(dpost d3 "$CSR" --digest -u "kura:$PW")" 200

done_testing
