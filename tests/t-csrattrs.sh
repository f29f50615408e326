#!/bin/bash
# t-csrattrs.sh - GET csrattrs through a whole rig (RFC 7030 4.5): 204 for
# an alias without attributes, then the list a DBA sets with
# est.add_csrattr as base64 DER CsrAttrs, decoded with openssl asn1parse;
# the DBA functions refuse malformed input; unknown alias 404, wrong method
# 405; fullcmc answers 501 with its reason.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql base64
est_rig_up t-csrattrs

# get URL: status in $W/status, headers in $W/hdr, body in $W/body
get() {
	curl -s --cacert "$ESTCA_CACERT" -D "$W/hdr" -o "$W/body" \
	    -w '%{http_code}' "$@" > "$W/status"
}

get "$EST/csrattrs"
is "no attributes: 204" "$(cat "$W/status")" 204
is "204 has no body" "$(wc -c < "$W/body")" 0

# extensionRequest holding extendedKeyUsage = clientAuth (RFC 9908 style)
cat > "$W/ext.cnf" <<'CNF'
asn1 = SET:vals
[vals]
exts = SEQUENCE:exts
[exts]
eku = SEQUENCE:eku
[eku]
id = OID:extendedKeyUsage
val = OCTWRAP,SEQUENCE:ekuval
[ekuval]
a = OID:clientAuth
CNF
openssl asn1parse -genconf "$W/ext.cnf" -out "$W/ext.der" -noout >/dev/null ||
    { echo "Bail out! cannot build the extensionRequest values"; exit 1; }
exthex=$(od -An -v -tx1 "$W/ext.der" | tr -d ' \n')

check "DBA adds challengePassword" dba \
    "SELECT est.add_csrattr('est', '1.2.840.113549.1.9.7');"
check "DBA adds id-ecPublicKey with secp384r1" dba \
    "SELECT est.add_csrattr('est', '1.2.840.10045.2.1', ARRAY['1.3.132.0.34']);"
check "DBA adds extensionRequest with clientAuth" dba \
    "SELECT est.add_csrattr('est', '1.2.840.113549.1.9.14', values_der => decode(:'hex', 'hex'));" \
    -v hex="$exthex"
check "DBA adds macAddress" dba \
    "SELECT est.add_csrattr('est', '1.3.6.1.1.1.1.22');"
for bad in "SELECT est.add_csrattr('est', '1.2.x');" \
    "SELECT est.add_csrattr('est', '3.1');" \
    "SELECT est.add_csrattr('nope', '1.2.3');" \
    "SELECT est.add_csrattr('est', '1.2.3', values_der => '\\x0401ff');" \
    "SELECT est.add_csrattr('est', '1.2.3', ARRAY['1.2.3'], '\\x3100');"; do
	if dba "$bad" >/dev/null 2>&1; then
		fail "DBA function refuses: $bad"
	else
		ok "DBA function refuses: $bad"
	fi
done
is "refusals left no rows" "$(psql -X -q -At "$ESTCA_PGURI" -c \
    "SELECT count(*) FROM est.csrattr WHERE alias = 'est'")" 4

get "$EST/csrattrs"
is "csrattrs: 200" "$(cat "$W/status")" 200
if grep -qi '^content-type: application/csrattrs' "$W/hdr"; then
	ok "Content-Type application/csrattrs"
else
	fail "Content-Type application/csrattrs" "$(cat "$W/hdr")"
fi
if base64 -d < "$W/body" > "$W/attrs.der" 2>/dev/null &&
    openssl asn1parse -inform DER -in "$W/attrs.der" > "$W/attrs.txt" 2>&1; then
	ok "body is base64 DER"
else
	fail "body is base64 DER" "$(head -c 300 "$W/body")"
fi
for want in ":challengePassword" ":id-ecPublicKey" ":secp384r1" \
    ":Extension Request" ":X509v3 Extended Key Usage" ":1.3.6.1.1.1.1.22"; do
	if grep -q -- "$want" "$W/attrs.txt"; then
		ok "CsrAttrs has $want"
	else
		fail "CsrAttrs has $want" "$(cat "$W/attrs.txt")"
	fi
done
# The outer SEQUENCE holds exactly the four AttrOrOIDs in order.
top=$(grep ':d=1 ' "$W/attrs.txt" | awk '{print $NF}' | tr '\n' ' ')
is "four entries, in position order" "$top" \
    ":challengePassword SEQUENCE SEQUENCE :1.3.6.1.1.1.1.22 "

get "$EST/est/csrattrs"
is "csrattrs with the alias in the path: 200" "$(cat "$W/status")" 200
get "$EST/nosuchalias/csrattrs"
is "unknown alias: 404" "$(cat "$W/status")" 404
get -X POST --data-binary x "$EST/csrattrs"
is "POST csrattrs: 405" "$(cat "$W/status")" 405
get -X POST -H 'Content-Type: application/pkcs7-mime' --data-binary x "$EST/fullcmc"
is "fullcmc: 501" "$(cat "$W/status")" 501
if grep -q "fullcmc (Full PKI Request) is not supported" "$W/body"; then
	ok "fullcmc reason says what to use"
else
	fail "fullcmc reason says what to use" "$(cat "$W/body")"
fi

check "DBA clears the list" dba "SELECT est.clear_csrattrs('est');"
get "$EST/csrattrs"
is "cleared: 204 again" "$(cat "$W/status")" 204
n=$(psql -X -q -At "$ESTCA_PGURI" -c \
    "SELECT count(*) FROM est.audit WHERE operation IN ('dba:add_csrattr', 'dba:clear_csrattrs')")
is "DBA changes are audited" "$n" 5

done_testing
