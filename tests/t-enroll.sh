#!/bin/bash
# t-enroll.sh - simpleenroll and simplereenroll through a whole rig.
#
# Real Apache, Postgres and engine; curl, openssl and psql only, with the
# command lines of the EJBCA EST workflows (shared seeds 000, 001):
#   - challengePassword enrollment (EC and RSA keys), base64 with and
#     without line breaks and Content-Transfer-Encoding, raw DER;
#   - the reply: certs-only PKCS#7 whose certificate verifies against the
#     CA, recorded in est.certificate, code used up, est.audit rows;
#   - renewal with the issued certificate as TLS client certificate; same
#     key refused or allowed per alias; other subject or SANs refused;
#     no certificate, a foreign certificate, a revoked certificate refused;
#   - wrong codes counted, lockout, unlock; unknown end entity with the
#     wrong-code reason; replayed one-time code; subject and SAN mismatch;
#     DN-part password (the code stays out of the certificate);
#   - malformed bodies 400, wrong Content-Type 415, oversized 413, bad
#     CSR signature 400, ra mode without credentials 401;
#   - engine down: 503 + Retry-After and the code still good afterwards;
#   - 50 concurrent requests with one one-time code: exactly one 200;
#   - SQL metacharacters in username and DN;
#   - no enrollment code in any log or in the database.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl openssl psql xargs
est_rig_up t-enroll

# ---- set-up as the DBA ------------------------------------------------------

CODE_A=Aa1-$(openssl rand -hex 8)
check "DBA registers end entities" register dev-a "$CODE_A" \
    'CN=dev-a,O=Example' '{DNS:dev-a.example,IP:192.0.2.10}' 1
check "DBA creates aliases" dba "
SELECT est.create_alias('samekey', 'est', 'device', 'challenge_password',
    allow_same_key_renewal => true);
SELECT est.create_alias('dnpart', 'est', 'device', 'dn_part_password',
    dn_part_field => 'serialNumber');
SELECT est.create_alias('ra1', 'est', 'device', 'ra');"
GEN=$(dba "SELECT est.new_enrollment_code();")
case $GEN in
[0-9a-f]*) [ ${#GEN} -eq 32 ] && ok "new_enrollment_code: 128 bits as 32 hex digits" ||
    fail "new_enrollment_code: 128 bits as 32 hex digits" "got '$GEN'" ;;
*) fail "new_enrollment_code: 128 bits as 32 hex digits" "got '$GEN'" ;;
esac
hash=$(sql "SELECT code_hash FROM est.end_entity WHERE username = 'dev-a'")
case $hash in
'$2a$08$'*) ok "code stored as a bcrypt hash" ;;
*) fail "code stored as a bcrypt hash" "got '$hash'" ;;
esac
if dba "UPDATE est.audit SET reason = 'x';" >/dev/null 2>&1; then
	fail "the DBA cannot rewrite the audit trail"
else
	ok "the DBA cannot rewrite the audit trail"
fi

# ---- challengePassword enrollment, as in the seed workflow ------------------

mkcsr a '/O=Example/CN=dev-a' 'DNS:dev-a.example,IP:192.0.2.10' "$CODE_A"
check "CSR with challengePassword made" test -s "$W/a.b64"
# curl --data strips the line breaks; Content-Transfer-Encoding as the seed.
st=$(curl -s --cacert "$ESTCA_CACERT" --max-time 60 -D "$W/a.hdr" -o "$W/a.body" \
    -w '%{http_code}' --data "@$W/a.b64" -H "Content-Type: application/pkcs10" \
    -H "Content-Transfer-Encoding: base64" "$EST/simpleenroll")
is "simpleenroll (seed command line: --data, CTE base64): 200" "$st" 200
is "reply Content-Type" "$(header "$W/a.hdr" Content-Type)" \
    "application/pkcs7-mime; smime-type=certs-only"
is "reply Content-Transfer-Encoding" "$(header "$W/a.hdr" Content-Transfer-Encoding)" base64
check "reply is a certs-only PKCS#7 whose certificate verifies against the CA" certof a
subj=$(openssl x509 -in "$W/a.pem" -noout -subject -nameopt RFC2253 2>/dev/null)
is "issued subject is the requested one" "$subj" "subject=CN=dev-a,O=Example"
sans=$(openssl x509 -in "$W/a.pem" -noout -ext subjectAltName 2>/dev/null | tail -n1 | tr -d ' ')
is "issued SANs are the requested ones" "$sans" "DNS:dev-a.example,IPAddress:192.0.2.10"
check "issued certificate carries the CSR's key" cmp -s \
    <(openssl x509 -in "$W/a.pem" -noout -pubkey) <(openssl pkey -in "$W/a.key" -pubout)
SA=$(serial_of "$W/a.pem")
is "est.certificate records it for the end entity" \
    "$(sql "SELECT e.username || ' ' || c.alias || ' ' || c.subject FROM est.certificate c
        JOIN est.end_entity e ON e.id = c.end_entity WHERE c.serial = '$SA'")" \
    "dev-a est CN=dev-a,O=Example"
is "est.certificate holds the DER" \
    "$(sql "SELECT encode(der, 'base64') FROM est.certificate WHERE serial = '$SA'" | tr -d '\n')" \
    "$(openssl x509 -in "$W/a.pem" -outform DER | base64 -w0)"
is "code used up (uses_left 0)" \
    "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-a'")" 0
is "est.audit has the accept row" \
    "$(sql "SELECT decision FROM est.audit WHERE operation = 'simpleenroll' AND serial = '$SA'")" accept

st=$(post a2 "$EST/simpleenroll" "$W/a.b64" -H "Content-Transfer-Encoding: base64")
is "replayed one-time code: 403" "$st" 403
is "replay reason" "$(reason_of a2)" "enrollment code already used"

# Body variants, each with its own end entity.
for v in breaks crlf der rsa; do
	c=Code-$v-$(openssl rand -hex 6)
	register "dev-$v" "$c" "CN=dev-$v" '{}' 1
	if [ $v = rsa ]; then
		mkcsr "$v" "/CN=dev-$v" '' "$c" rsa
	else
		mkcsr "$v" "/CN=dev-$v" '' "$c"
	fi
done
is "base64 with line breaks, no CTE header: 200" \
    "$(post breaks "$EST/simpleenroll" "$W/breaks.b64")" 200
check "... certificate verifies" certof breaks
sed 's/$/\r/' "$W/crlf.b64" >"$W/crlf.crlf"
is "base64 with CRLF line breaks and CTE: 200" \
    "$(post crlf "$EST/simpleenroll" "$W/crlf.crlf" -H 'Content-Transfer-Encoding: base64')" 200
is "raw DER body: 200" "$(post der "$EST/est/simpleenroll" "$W/der.der")" 200
check "... certificate verifies" certof der
is "RSA-2048 key: 200" "$(post rsa "$EST/simpleenroll" "$W/rsa.b64")" 200
check "... certificate verifies" certof rsa

# ---- renewal --------------------------------------------------------------

mkcsr r1 '/O=Example/CN=dev-a' 'DNS:dev-a.example,IP:192.0.2.10' ''
st=$(post r1 "$EST/simplereenroll" "$W/r1.b64" --cert "$W/a.pem" --key "$W/a.key" \
    -H 'Content-Transfer-Encoding: base64')
is "simplereenroll with the issued certificate: 200" "$st" 200
check "renewed certificate verifies" certof r1
is "renewed certificate has the same subject" \
    "$(openssl x509 -in "$W/r1.pem" -noout -subject)" "$(openssl x509 -in "$W/a.pem" -noout -subject)"
SR1=$(serial_of "$W/r1.pem")
is "renewal recorded for the same end entity" \
    "$(sql "SELECT count(DISTINCT end_entity) || ' ' || count(*) FROM est.certificate WHERE serial IN ('$SA', '$SR1')")" "1 2"

mkcsr same '/O=Example/CN=dev-a' 'DNS:dev-a.example,IP:192.0.2.10' '' "$W/a.key"
is "renewal with the same key, alias forbids: 403" \
    "$(post same "$EST/simplereenroll" "$W/same.b64" --cert "$W/a.pem" --key "$W/a.key")" 403
mkcsr osubj '/O=Example/CN=dev-b' 'DNS:dev-a.example,IP:192.0.2.10' ''
is "renewal with another subject: 403" \
    "$(post osubj "$EST/simplereenroll" "$W/osubj.b64" --cert "$W/a.pem" --key "$W/a.key")" 403
mkcsr osan '/O=Example/CN=dev-a' 'DNS:dev-a.example' ''
is "renewal with other SANs: 403" \
    "$(post osan "$EST/simplereenroll" "$W/osan.b64" --cert "$W/a.pem" --key "$W/a.key")" 403
is "renewal without a client certificate: 403" \
    "$(post nocert "$EST/simplereenroll" "$W/r1.b64")" 403
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$W/self.key" -out "$W/self.pem" -subj '/O=Example/CN=dev-a' \
    -addext 'subjectAltName=DNS:dev-a.example,IP:192.0.2.10' 2>/dev/null
is "renewal with a certificate of another CA: 403" \
    "$(post self "$EST/simplereenroll" "$W/r1.b64" --cert "$W/self.pem" --key "$W/self.key")" 403
is "renewal with the TLS server certificate (our CA, not issued by EST): 403" \
    "$(post tls "$EST/simplereenroll" "$W/r1.b64" --cert "$ESTCA_TLS_CERT" --key "$ESTCA_TLS_KEY")" 403

# Same-key renewal where the alias allows it.
CODE_K=Kk-$(openssl rand -hex 6)
register dev-k "$CODE_K" 'CN=dev-k' '{}' 1 samekey
mkcsr k '/CN=dev-k' '' "$CODE_K"
is "enroll under alias samekey: 200" "$(post k "$EST/samekey/simpleenroll" "$W/k.b64")" 200
certof k >/dev/null 2>&1
mkcsr k2 '/CN=dev-k' '' '' "$W/k.key"
is "renewal with the same key, alias allows: 200" \
    "$(post k2 "$EST/samekey/simplereenroll" "$W/k2.b64" --cert "$W/k.pem" --key "$W/k.key")" 200
is "its certificate renews only under its own alias: 403" \
    "$(post k3 "$EST/simplereenroll" "$W/k2.b64" --cert "$W/k.pem" --key "$W/k.key")" 403

# Revocation by the DBA, then renewal is refused.
check "DBA revokes the renewed certificate" dba \
    "SELECT est.revoke_certificate(NULL, :'s', 'keyCompromise');" -v s="$SR1"
is "revocation recorded" "$(sql "SELECT revocation_reason FROM est.certificate WHERE serial = '$SR1'")" \
    keyCompromise
mkcsr r2 '/O=Example/CN=dev-a' 'DNS:dev-a.example,IP:192.0.2.10' ''
is "renewal with a revoked certificate: 403" \
    "$(post r2 "$EST/simplereenroll" "$W/r2.b64" --cert "$W/r1.pem" --key "$W/r1.key")" 403
is "revoked reason" "$(reason_of r2)" "client certificate revoked"

# ---- codes: wrong, lockout, unlock, unknown ---------------------------------

CODE_L=Ll-$(openssl rand -hex 6)
register dev-l "$CODE_L" 'CN=dev-l' '{}' 1
mkcsr lw '/CN=dev-l' '' 'wrong-code-1'
mkcsr l '/CN=dev-l' '' "$CODE_L"
for i in 1 2 3 4; do
	post "lw$i" "$EST/simpleenroll" "$W/lw.b64" >"$W/lw$i.st"
done
is "four wrong codes: 403 each" "$(cat "$W"/lw[1-4].st)" 403403403403
is "wrong code reason" "$(reason_of lw1)" "unknown end entity or wrong enrollment code"
is "failures counted (committed despite the refusal)" \
    "$(sql "SELECT failed_attempts || ' ' || status FROM est.end_entity WHERE username = 'dev-l'")" "4 active"
is "fifth wrong code: 403" "$(post lw5 "$EST/simpleenroll" "$W/lw.b64")" 403
is "fifth failure locks (alias limit 5)" \
    "$(sql "SELECT failed_attempts || ' ' || status FROM est.end_entity WHERE username = 'dev-l'")" "5 locked"
is "locked: even the right code gets 403" "$(post l1 "$EST/simpleenroll" "$W/l.b64")" 403
case $(reason_of l1) in
*locked*) ok "locked reason says so once the code is right" ;;
*) fail "locked reason says so once the code is right" "got '$(reason_of l1)'" ;;
esac
check "DBA unlocks" dba "SELECT est.unlock_end_entity('est', 'dev-l');"
is "after unlock the right code: 200" "$(post l2 "$EST/simpleenroll" "$W/l.b64")" 200
is "audit rows for the failures" \
    "$(sql "SELECT count(*) FROM est.audit WHERE username = 'dev-l' AND decision = 'refuse' AND reason LIKE 'wrong enrollment code%'")" 5

mkcsr u '/CN=nobody-here' '' 'some-code-1'
is "unknown end entity: 403" "$(post u "$EST/simpleenroll" "$W/u.b64")" 403
is "unknown end entity: same reason as a wrong code" "$(reason_of u)" "$(reason_of lw1)"
is "audit says it was unknown" \
    "$(sql "SELECT reason FROM est.audit WHERE username = 'nobody-here'")" "unknown end entity"

# ---- subject and SAN matching -------------------------------------------

CODE_S=Ss-$(openssl rand -hex 6)
register dev-s "$CODE_S" 'CN=dev-s,O=Example' '{DNS:dev-s.example}' 3
mkcsr s1 '/O=Other/CN=dev-s' '' "$CODE_S"
is "subject not the registered one: 403" "$(post s1 "$EST/simpleenroll" "$W/s1.b64")" 403
is "subject mismatch reason" "$(reason_of s1)" "subject does not match the registered subject"
mkcsr s2 '/O=Example/CN=dev-s' 'DNS:dev-s.example,DNS:evil.example' "$CODE_S"
is "SAN not registered: 403" "$(post s2 "$EST/simpleenroll" "$W/s2.b64")" 403
is "mismatches use no enrollment" \
    "$(sql "SELECT uses_left || ' ' || failed_attempts FROM est.end_entity WHERE username = 'dev-s'")" "3 0"
mkcsr s3 '/O=Example/CN=dev-s' 'DNS:DEV-S.example' "$CODE_S"
is "registered subject, SAN differing in case only: 200" "$(post s3 "$EST/simpleenroll" "$W/s3.b64")" 200

# ---- DN-part password ----------------------------------------------------

CODE_P=Pp-$(openssl rand -hex 6)
register dev-p "$CODE_P" 'CN=dev-p,O=Example' '{}' 1 dnpart
mkcsr pw "/O=Example/serialNumber=wrong-code-2/CN=dev-p" '' ''
is "dn_part_password, wrong code: 403" "$(post pw "$EST/dnpart/simpleenroll" "$W/pw.b64")" 403
mkcsr p "/O=Example/serialNumber=$CODE_P/CN=dev-p" '' ''
is "dn_part_password, code in serialNumber: 200" "$(post p "$EST/dnpart/simpleenroll" "$W/p.b64")" 200
check "... certificate verifies" certof p
is "the code is not in the certificate's subject" \
    "$(openssl x509 -in "$W/p.pem" -noout -subject -nameopt RFC2253)" "subject=CN=dev-p,O=Example"
check "... nor anywhere in the certificate" sh -c "! openssl x509 -in '$W/p.pem' -text | grep -q -- '$CODE_P'"

# ---- malformed and refused requests ------------------------------------------

CODE_M=Mm-$(openssl rand -hex 6)
register dev-m "$CODE_M" 'CN=dev-m' '{}' 1
mkcsr m '/CN=dev-m' '' "$CODE_M"
cp "$W/m.der" "$W/badsig.der"
# flip the last byte: inside the signature value
last=$(($(stat -c %s "$W/badsig.der") - 1))
printf "$(printf '\\%03o' $(( $(od -An -tu1 -j "$last" -N1 "$W/badsig.der") ^ 1 )))" |
    dd of="$W/badsig.der" bs=1 seek="$last" conv=notrunc 2>/dev/null
openssl base64 -in "$W/badsig.der" -out "$W/badsig.b64"
is "CSR whose signature does not verify: 400" "$(post badsig "$EST/simpleenroll" "$W/badsig.b64")" 400
is "bad signature reason" "$(reason_of badsig)" "request signature does not verify"
printf 'this is not base64!' >"$W/junk.txt"
is "body neither base64 nor DER: 400" "$(post junk "$EST/simpleenroll" "$W/junk.txt")" 400
printf 'aGVsbG8gd29ybGQ=' >"$W/hello.b64"
is "base64 of something else: 400" "$(post hello "$EST/simpleenroll" "$W/hello.b64")" 400
: >"$W/empty"
is "empty body: 400" "$(post empty "$EST/simpleenroll" "$W/empty")" 400
is "wrong Content-Type: 415" "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$ESTCA_CACERT" \
    --data-binary "@$W/m.b64" -H 'Content-Type: text/plain' "$EST/simpleenroll")" 415
head -c 70000 /dev/zero | tr '\0' 'A' >"$W/big"
is "body above max_body: 413" "$(post big "$EST/simpleenroll" "$W/big")" 413
is "ra mode without RA credentials: 401 (tests/t-ra-vendor.sh has the rest)" \
    "$(post ra "$EST/ra1/simpleenroll" "$W/m.b64")" 401
is "GET simpleenroll: 405" "$(http_status GET "$EST/simpleenroll")" 405
is "none of these used the code" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-m'")" 1

# ---- engine down: 503, nothing consumed ---------------------------------------

"$RIG_SH" engine-stop "$ESTCA_RIG_DIR" >/dev/null 2>&1
is "engine down: simpleenroll 503" "$(post mdown "$EST/simpleenroll" "$W/m.b64")" 503
case $(header "$W/mdown.hdr" Retry-After) in
[0-9]*) ok "503 carries Retry-After" ;;
*) fail "503 carries Retry-After" ;;
esac
is "engine down: code not used up" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-m'")" 1
check "engine starts again" "$RIG_SH" engine-start "$ESTCA_RIG_DIR"
is "engine back: the same code enrolls: 200" "$(post mup "$EST/simpleenroll" "$W/m.b64")" 200

# ---- 50 concurrent requests with one one-time code ------------------------------

CODE_C=Cc-$(openssl rand -hex 6)
register dev-c "$CODE_C" 'CN=dev-c' '{}' 1
mkcsr c '/CN=dev-c' '' "$CODE_C"
export W EST ESTCA_CACERT
seq 1 50 | xargs -P 50 -I{} sh -c 'curl -s -o /dev/null -w "%{http_code}\n" \
    --max-time 120 --cacert "$ESTCA_CACERT" -H "Content-Type: application/pkcs10" \
    --data-binary "@$W/c.b64" "$EST/simpleenroll"' >"$W/race.st"
is "50 concurrent requests, one code: one 200, 49 403" \
    "$(sort "$W/race.st" | uniq -c | sed 's/^ *//' | tr '\n' ' ')" "1 200 49 403 "
is "... and exactly one certificate recorded" \
    "$(sql "SELECT count(*) FROM est.certificate c JOIN est.end_entity e ON e.id = c.end_entity WHERE e.username = 'dev-c'")" 1

# ---- SQL metacharacters ------------------------------------------------

NASTY="x'); DROP TABLE est.audit; --\"%_"
CODE_N=Nn-$(openssl rand -hex 6)
check "DBA registers a username full of SQL metacharacters" register "$NASTY" "$CODE_N" \
    "CN=x')\\; DROP TABLE est.audit\\; --\\\"%_,O=O'Brien" '{URI:urn:x:%27;--}' 1
mkcsr n "/O=O'Brien/CN=$NASTY" "URI:urn:x:%27;--" "$CODE_N"
is "enrollment with SQL metacharacters in username and DN: 200" \
    "$(post n "$EST/simpleenroll" "$W/n.b64")" 200
is "tables intact, audit row for that username" \
    "$(sql "SELECT count(*) FROM est.audit WHERE username = 'x''); DROP TABLE est.audit; --\"%_' AND operation = 'simpleenroll' AND decision = 'accept'")" 1

# ---- secrets --------------------------------------------------------------

leak=
for c in "$CODE_A" "$CODE_L" "$CODE_P" "$CODE_C" "$CODE_M"; do
	grep -rqF -- "$c" "$ESTCA_RIG_DIR/log" && leak="$leak log:$c"
	[ "$(sql "SELECT count(*) FROM est.audit WHERE reason LIKE '%$c%' OR requester LIKE '%$c%'")" = 0 ] ||
	    leak="$leak audit:$c"
done
is "no enrollment code in any log or audit row" "${leak:-none}" none

done_testing
