#!/bin/bash
# t-hostile.sh - hostile input at the door, through a whole rig: each
# request gets a 4xx with a one-line reason, and nothing changes (no
# certificate, no enrollment used up, no accept row), and the workers keep
# serving:
#   - bodies with NULs, trailing garbage after the DER, a body that stalls
#     (the client gives up; the server is not stuck), a slow but complete
#     body;
#   - a CSR with a thousand subjectAltNames, with an otherName, with
#     control characters and bytes that are not UTF-8 in the subject;
#   - SQL metacharacters in the alias, the subject, the SANs, the
#     challengePassword, the Basic credentials and the Content-Type;
#   - client-certificate variables spoofed as request headers.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql
est_rig_up t-hostile

state() {
	sql "SELECT (SELECT count(*) FROM est.certificate) || '/' ||
	    (SELECT count(*) FROM est.audit WHERE decision = 'accept') || '/' ||
	    (SELECT coalesce(sum(uses_left), 0) FROM est.end_entity)"
}
# refused NAME WANT: the answer to NAME has status WANT (4xx) and a body of
# exactly one line.
refused() {
	local name=$1 want=$2 st=$3 lines
	lines=$(tr -d '\r' <"$W/$name.body" | grep -c '')
	if [ "$st" = "$want" ] && [ "$lines" -le 1 ]; then
		ok "$name: $want, one line: $(reason_of "$name" | cut -c1-80)"
	else
		fail "$name: $want with a one-line reason" "got $st, $lines lines: $(head -c 200 "$W/$name.body")"
	fi
}

CODE=Ho1-$(openssl rand -hex 8)
check "DBA registers hostile (any subject, DNS SANs allowed)" \
    register hostile "$CODE" '' '{DNS:h.example}' 3
mkcsr good /CN=hostile 'DNS:h.example' "$CODE"
before=$(state)

# ---- bodies ------------------------------------------------------------------

{ head -c 200 "$W/good.b64"; printf '\0\0\0'; tail -c +201 "$W/good.b64"; } >"$W/nul.b64"
refused nul 400 "$(post nul "$EST/simpleenroll" "$W/nul.b64")"
{ cat "$W/good.der"; printf 'garbage'; } >"$W/trail.der"
refused trail 400 "$(post trail "$EST/simpleenroll" "$W/trail.der")"
{ cat "$W/good.der"; printf 'garbage'; } | openssl base64 >"$W/trail.b64"
refused trail64 400 "$(post trail64 "$EST/simpleenroll" "$W/trail.b64")"

# A body announced longer than sent: the client gives up after 3 s; the
# server must not be left stuck.
st=$(curl -s --cacert "$ESTCA_CACERT" --max-time 3 -o /dev/null -w '%{http_code}' \
    -H 'Content-Type: application/pkcs10' -H 'Content-Length: 5000' \
    --data-binary "@$W/good.b64" "$EST/simpleenroll" 2>/dev/null)
diag "stalled body: client saw '$st' after giving up"
is "after a stalled body, cacerts still answers" \
    "$(http_status GET "$EST/cacerts" --max-time 10)" 200

# ---- names and SANs ---------------------------------------------------------

sans=$(for i in $(seq 1 1000); do printf 'DNS:n%d.h.example,' "$i"; done)
mkcsr many /CN=hostile "${sans%,}" "$CODE"
st=$(post many "$EST/simpleenroll" "$W/many.b64")
case $st in
400|403|413) refused many "$st" "$st" ;;
*) fail "a thousand SANs: refused" "got $st" ;;
esac
mkcsr other /CN=hostile 'otherName:1.2.3.4;UTF8:x' "$CODE"
refused other 403 "$(post other "$EST/simpleenroll" "$W/other.b64")"

printf '[req]\ndistinguished_name = dn\nprompt = no\nstring_mask = default\n[dn]\nCN = host\001ile\nO = \377\376bad\n' >"$W/ctl.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ctl.key" \
    -config "$W/ctl.cnf" -outform DER -out "$W/ctl.der" 2>/dev/null &&
    openssl base64 -in "$W/ctl.der" -out "$W/ctl.b64"
if [ -s "$W/ctl.b64" ]; then
	refused ctl 403 "$(post ctl "$EST/simpleenroll" "$W/ctl.b64")"
	if grep -q $'\001' "$ESTCA_RIG_DIR"/log/*.log; then
		fail "no control character reached a log"
	else
		ok "no control character reached a log"
	fi
else
	fail "CSR with control characters made"
fi

# ---- SQL metacharacters -------------------------------------------------------

Q="x'); DROP TABLE est.audit; --"
st=$(post sqa "$EST/a%27b%3B--/simpleenroll" "$W/good.b64")
refused sqa 404 "$st"
mkcsr sq1 "/CN=$Q" '' "$CODE"
refused sq1 403 "$(post sq1 "$EST/simpleenroll" "$W/sq1.b64")"
mkcsr sq2 /CN=hostile "DNS:a'b.h.example" "$CODE"
refused sq2 403 "$(post sq2 "$EST/simpleenroll" "$W/sq2.b64")"
# (as a code: a string of its own, since Q is logged as a name above)
mkcsr sq3 /CN=hostile 'DNS:h.example' "y'); DELETE FROM est.audit; --"
refused sq3 403 "$(post sq3 "$EST/simpleenroll" "$W/sq3.b64")"
check "DBA: an RA alias with no members" dba "SELECT est.create_alias('hra', 'est', 'device', 'ra');"
refused sq4 401 "$(post sq4 "$EST/hra/simpleenroll" "$W/good.b64" -u "$Q:$Q")"
st=$(curl -s --cacert "$ESTCA_CACERT" -o "$W/sq5.body" -w '%{http_code}' \
    -H "Content-Type: application/pkcs10'; DROP TABLE x; --" --data-binary "@$W/good.b64" \
    "$EST/simpleenroll")
refused sq5 415 "$st"
is "est.audit is still there" "$(sql "SELECT count(*) > 0 FROM est.audit")" t

# ---- spoofed client-certificate variables -----------------------------------

mkcsr r /CN=hostile 'DNS:h.example' ''
pem=$(openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null \
    -subj /CN=hostile -days 1 2>/dev/null | tr -d '\n')
refused spoof1 403 "$(post spoof1 "$EST/simplereenroll" "$W/r.b64" -H "SSL-Client-Cert: $pem")"
refused spoof2 403 "$(post spoof2 "$EST/simplereenroll" "$W/r.b64" -H "SSL_CLIENT_CERT: $pem" \
    -H 'SSL-Client-Verify: SUCCESS')"

# ---- nothing changed, and it still works -------------------------------------

is "no certificate, no accept row, no use consumed" "$(state)" "$before"
is "the good request still enrolls: 200" "$(post good "$EST/simpleenroll" "$W/good.b64")" 200
check "... and its certificate verifies" certof good

done_testing
