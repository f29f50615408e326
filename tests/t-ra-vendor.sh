#!/bin/bash
# t-ra-vendor.sh - simpleenroll in the ra and vendor modes through a whole
# rig (real Apache, Postgres and engine; curl, openssl and psql).
#
#   - RA with HTTP Basic (seed 001: estclient -u estadmin -h foo123):
#     right / wrong / missing password, unknown RA user, 401 with
#     WWW-Authenticate; the password cached per worker still checked
#     right; SQL metacharacters in RA username and password;
#   - RA with a TLS client certificate: a member whose issuer the role
#     trusts, a non-member from the same issuer, a member whose issuer is
#     not trusted;
#   - the RA still needs a registered, matching end entity with uses left;
#   - vendor mode (seed 000): device certificates from a vendor CA made
#     here; empty CSR subject as in the seed; the client-sent chain as
#     intermediates; a device of another vendor; an intermediate vendor
#     CA as the only anchor; ChangeSubjectName allowed and refused, and
#     always refused on simplereenroll;
#   - DBA functions of sql/003_ra_vendor.sql and their audit rows; no
#     password in any log or audit row.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl openssl psql
CSN=$top_builddir/tests/csn-csr
[ -x "$CSN" ] || skip_all "tests/csn-csr not built (make check builds it)"
if [ "${ESTCA_TEST_WEB:-apache}" != apache ]; then
	# lighttpd exports no client chain and drops certificates of CAs
	# it does not know (see DESIGN.md).
	skip_all "needs Apache (client chain variables)"
fi
est_rig_up t-ra-vendor

# post NAME URL FILE [curl options...]: est-lib's post, with the
# Content-Transfer-Encoding header the seed's command lines send.
post_cte() {
	post "$@" -H 'Content-Transfer-Encoding: base64'
}

# csr NAME SUBJ [SAN] [KEYFILE]: $W/NAME.key, .der, .b64 (SUBJ "/" = empty)
csr() {
	local name=$1 subj=$2 san=${3:-} key=${4:-}
	if [ -n "$key" ]; then
		cp "$key" "$W/$name.key"
	else
		openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		    -out "$W/$name.key" 2>/dev/null
	fi
	openssl req -new -key "$W/$name.key" -subj "$subj" -outform DER \
	    ${san:+-addext "subjectAltName=$san"} -out "$W/$name.der" 2>"$W/$name.err" &&
	    openssl base64 -in "$W/$name.der" -out "$W/$name.b64"
}

# csn NAME FROM NEWSUBJ [NEWSAN] [which]: request FROM plus a
# ChangeSubjectName naming NEWSUBJ (and NEWSAN) -> $W/NAME.b64
csn() {
	local name=$1 from=$2 subj=$3 san=${4:-} which=${5:-both}
	openssl req -new -key "$W/$from.key" -subj "$subj" -outform DER \
	    ${san:+-addext "subjectAltName=$san"} -out "$W/$name.tmpl.der" 2>/dev/null &&
	    "$CSN" "$W/$from.key" "$W/$from.der" "$W/$name.tmpl.der" "$W/$name.der" "$which" &&
	    openssl base64 -in "$W/$name.der" -out "$W/$name.b64"
}

subject_of() {
	openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'
}

# ---- test PKI: vendor CAs, devices, RA certificates ----------------------

check "vendor root CA made" mkca vroot '/O=Vendor/CN=Vendor Root CA'
check "vendor sub CA made" mkca vsub '/O=Vendor/CN=Vendor Sub CA' vroot
for i in 1 2 3; do
	check "device certificate dev-v$i made" mkleaf "dev$i" "/O=Vendor/CN=dev-v$i" vsub
done
check "another vendor's root CA made" mkca oroot '/O=Other/CN=Other Root CA'
check "... and its device with a registered name" mkleaf odev '/O=Vendor/CN=dev-v1' oroot
check "RA issuer CA made" mkca raca '/O=Example/CN=RA Issuer'
check "RA member certificate made" mkleaf ra1 '/O=Example/CN=ra-bot' raca
check "RA certificate of no member made" mkleaf ra2 '/O=Example/CN=ra-intruder' raca
check "rogue CA made" mkca rogue '/O=Example/CN=Rogue'
check "RA certificate from the rogue CA made" mkleaf ra3 '/O=Example/CN=ra-rogue' rogue

# ---- DBA set-up ------------------------------------------------------------

check "DBA creates ra and vendor aliases" dba "
SELECT est.create_alias('ra1', 'est', 'device', 'ra');
SELECT est.create_alias('vendor1', 'est', 'device', 'vendor');
SELECT est.update_alias('vendor1', change_subject_name => true);
SELECT est.create_alias('vendor2', 'est', 'device', 'vendor');"
is "update_alias changed the flag" \
    "$(sql "SELECT change_subject_name FROM est.alias WHERE name = 'vendor1'")" t
is "update_alias of an unknown alias: false" \
    "$(dba "SELECT est.update_alias('nosuch', serverkeygen => true);")" f

note_secret foo123-pw
check "DBA creates an RA role with a password member" dba "
SELECT est.create_role('raops', 'ra1');
SELECT est.add_role_member_password('raops', 'estadmin', 'foo123-pw');"
check "DBA adds an RA issuer and a member certificate (PEM)" dba "
SELECT est.add_role_issuer('raops', :'issuer');
SELECT est.add_role_member_cert('raops', :'cert', 'ra-bot');" \
    -v issuer="$(cat "$W/raca.pem")" -v cert="$(cat "$W/ra1.pem")"
check "DBA adds a member certificate as DER (bytea)" dba "
SELECT est.add_role_member_cert('raops', decode(:'der', 'base64'), 'ra-rogue');" \
    -v der="$(openssl x509 -in "$W/ra3.pem" -outform DER | base64 -w0)"
hash=$(sql "SELECT password_hash FROM est.role_member WHERE username = 'estadmin'")
case $hash in
'$2a$08$'*) ok "RA password stored as bcrypt" ;;
*) fail "RA password stored as bcrypt" "got '$hash'" ;;
esac
if dba "SELECT est.add_role_member_password('raops', 'shorty', 'short');" >/dev/null 2>&1; then
	fail "RA password under 8 characters refused"
else
	ok "RA password under 8 characters refused"
fi
if dba "SELECT est.add_role_member_password('raops', 'a:b', 'long-enough');" >/dev/null 2>&1; then
	fail "RA username with a colon refused"
else
	ok "RA username with a colon refused"
fi
if dba "SELECT est.add_vendor_ca('vendor1', 'not a certificate');" >/dev/null 2>&1; then
	fail "add_vendor_ca refuses what is no PEM certificate"
else
	ok "add_vendor_ca refuses what is no PEM certificate"
fi
check "DBA adds vendor CAs (root for vendor1, sub CA alone for vendor2)" dba "
SELECT est.add_vendor_ca('vendor1', :'root', 'Vendor Root CA');
SELECT est.add_vendor_ca('vendor2', :'sub');" \
    -v root="$(cat "$W/vroot.pem")" -v sub="$(cat "$W/vsub.pem")"

reg() {   # reg ALIAS USER DN USES [SANS]
	dba "SELECT est.register_end_entity(:'a', :'u', NULLIF(:'dn', ''),
	    :'s'::text[], NULL, :'n'::integer);" -v a="$1" -v u="$2" -v dn="$3" \
	    -v n="$4" -v s="${5:-{\}}" >/dev/null
}
check "DBA registers myclient (no code, 3 uses)" reg ra1 myclient 'CN=myclient' 3 '{DNS:myclient.example}'
check "DBA registers other" reg ra1 other 'CN=other,O=Example' 1
check "DBA registers dev-v1 under vendor1" reg vendor1 dev-v1 'CN=dev-v1,O=Vendor' 5
check "DBA registers dev-v2 (operator subject)" reg vendor1 dev-v2 'CN=op-0002,O=Operator' 2
check "DBA registers dev-v3" reg vendor1 dev-v3 'CN=dev-v3,O=Vendor' 2
check "DBA registers dev-v1 under vendor2" reg vendor2 dev-v1 'CN=dev-v1,O=Vendor' 3
is "DBA actions audited" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation IN ('dba:create_role',
        'dba:add_role_member_password', 'dba:add_role_issuer', 'dba:add_role_member_cert',
        'dba:add_vendor_ca', 'dba:update_alias')")" 8

# ---- RA with HTTP Basic ------------------------------------------------------

csr m1 '/CN=myclient' 'DNS:myclient.example'
is "RA, right password (curl -u): 200" \
    "$(post_cte rb1 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:foo123-pw')" 200
check "... certificate verifies" certof rb1
is "... for the end entity's subject" "$(subject_of "$W/rb1.pem")" "CN=myclient"
is "... one use of the end entity used" \
    "$(sql "SELECT uses_left FROM est.end_entity WHERE alias = 'ra1' AND username = 'myclient'")" 2
is "... audit names the RA" \
    "$(sql "SELECT requester LIKE '% ra=estadmin' FROM est.audit WHERE alias = 'ra1' AND operation = 'simpleenroll' AND decision = 'accept'")" t
is "RA, right password again (cached in the worker or not): 200" \
    "$(post_cte rb2 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:foo123-pw')" 200
is "RA, wrong password: 401" \
    "$(post_cte rb3 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:foo123-px')" 401
is "... WWW-Authenticate: Basic with the alias realm" \
    "$(header "$W/rb3.hdr" WWW-Authenticate)" 'Basic realm="estca ra1"'
is "... reason" "$(reason_of rb3)" "unknown RA user or wrong password"
is "RA, right password with a different case: 401" \
    "$(post_cte rb3b "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:FOO123-pw')" 401
is "RA, no credentials: 401" "$(post_cte rb4 "$EST/ra1/simpleenroll" "$W/m1.b64")" 401
is "... WWW-Authenticate" "$(header "$W/rb4.hdr" WWW-Authenticate)" 'Basic realm="estca ra1"'
is "RA, unknown user: 401" \
    "$(post_cte rb5 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'nobody:foo123-pw')" 401
is "... same reason as a wrong password" "$(reason_of rb5)" "$(reason_of rb3)"
is "RA, Authorization not Basic: 401" \
    "$(post_cte rb6 "$EST/ra1/simpleenroll" "$W/m1.b64" -H 'Authorization: Bearer abc')" 401
is "audit tells wrong password from unknown user" \
    "$(sql "SELECT string_agg(reason, '|' ORDER BY id) FROM est.audit WHERE alias = 'ra1' AND decision = 'refuse' AND reason LIKE '%RA%'")" \
    "wrong RA password|wrong RA password|no RA credentials|unknown RA user|RA Basic credentials malformed"
is "refusals used nothing" \
    "$(sql "SELECT uses_left FROM est.end_entity WHERE alias = 'ra1' AND username = 'myclient'")" 1
is "RA, last use: 200" \
    "$(post_cte rb7 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:foo123-pw')" 200
is "RA, end entity with no uses left: 403" \
    "$(post_cte rb8 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:foo123-pw')" 403
is "... reason" "$(reason_of rb8)" "end entity has no enrollments left; ask the administrator"

csr o1 '/O=Evil/CN=other'
is "RA enrolling a subject unlike the registered one: 403" \
    "$(post_cte ro1 "$EST/ra1/simpleenroll" "$W/o1.b64" -u 'estadmin:foo123-pw')" 403
is "... reason" "$(reason_of ro1)" "subject does not match the registered subject"
csr o2 '/CN=myclient' 'DNS:evil.example'
check "DBA gives myclient one more use" dba "UPDATE est.end_entity SET uses_left = 1 WHERE alias = 'ra1' AND username = 'myclient';"
is "RA asking for an unregistered SAN: 403" \
    "$(post_cte ro2 "$EST/ra1/simpleenroll" "$W/o2.b64" -u 'estadmin:foo123-pw')" 403
csr o3 '/CN=not-registered'
is "RA enrolling an unregistered end entity: 403" \
    "$(post_cte ro3 "$EST/ra1/simpleenroll" "$W/o3.b64" -u 'estadmin:foo123-pw')" 403
is "... reason" "$(reason_of ro3)" "no such end entity registered under this alias"
is "RA credentials are not accepted by another alias's mode (est: code needed): 403" \
    "$(post_cte ro4 "$EST/simpleenroll" "$W/m1.b64" -u 'estadmin:foo123-pw')" 403

# SQL metacharacters in RA username and password
NU="x'); DROP TABLE est.audit; --\"%_"
NP="p'\"; DELETE FROM est.role_member; --%_\\"
check "DBA adds an RA member with SQL metacharacters" dba "
SELECT est.add_role_member_password('raops', :'u', :'p');" -v u="$NU" -v p="$NP"
csr n1 '/O=Example/CN=other'
is "RA with SQL metacharacters in username and password: 200" \
    "$(post_cte rn1 "$EST/ra1/simpleenroll" "$W/n1.b64" -u "$NU:$NP")" 200
is "... and with a wrong password: 401" \
    "$(post_cte rn2 "$EST/ra1/simpleenroll" "$W/n1.b64" -u "$NU:${NP}x")" 401
is "tables intact" \
    "$(sql "SELECT count(*) FROM est.role_member") $(sql "SELECT count(*) > 0 FROM est.audit")" "4 t"

# ---- RA with a client certificate --------------------------------------------

check "DBA gives myclient more uses" dba "UPDATE est.end_entity SET uses_left = 5 WHERE alias = 'ra1' AND username = 'myclient';"
is "RA client certificate of a member, issuer trusted by the role: 200" \
    "$(post_cte rc1 "$EST/ra1/simpleenroll" "$W/m1.b64" --cert "$W/ra1.pem" --key "$W/ra1.key")" 200
check "... certificate verifies" certof rc1
is "... audit names the role member" \
    "$(sql "SELECT requester LIKE '% ra-cert=role raops member %' FROM est.audit WHERE alias = 'ra1' AND operation = 'simpleenroll' AND decision = 'accept' ORDER BY id DESC LIMIT 1")" t
is "RA client certificate of no member (same issuer): 403" \
    "$(post_cte rc2 "$EST/ra1/simpleenroll" "$W/m1.b64" --cert "$W/ra2.pem" --key "$W/ra2.key")" 403
is "... reason" "$(reason_of rc2)" "client certificate is not a member of an RA role of this alias"
is "RA member certificate whose issuer the role does not trust: 403" \
    "$(post_cte rc3 "$EST/ra1/simpleenroll" "$W/m1.b64" --cert "$W/ra3.pem" --key "$W/ra3.key")" 403
is "... reason" "$(reason_of rc3)" "RA client certificate does not verify"
is "a vendor device certificate is no RA: 403" \
    "$(post_cte rc4 "$EST/ra1/simpleenroll" "$W/m1.b64" --cert "$W/dev1.chain.pem" --key "$W/dev1.key")" 403
check "DBA removes the certificate member" dba "SELECT est.remove_role_member('raops', cert => :'c');" \
    -v c="$(cat "$W/ra1.pem")"
is "removed member: 403" \
    "$(post_cte rc5 "$EST/ra1/simpleenroll" "$W/m1.b64" --cert "$W/ra1.pem" --key "$W/ra1.key")" 403
check "DBA changes the RA password" dba "SELECT est.set_role_member_password('raops', 'estadmin', 'new-secret-9');"
is "old password after the change (even if cached): 401" \
    "$(post_cte rc6 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:foo123-pw')" 401
is "new password: 200" \
    "$(post_cte rc7 "$EST/ra1/simpleenroll" "$W/m1.b64" -u 'estadmin:new-secret-9')" 200
certof rc7 >/dev/null 2>&1
csr r1 '/CN=myclient' 'DNS:myclient.example'
is "a certificate an RA got renews by itself: 200" \
    "$(post_cte rr1 "$EST/ra1/simplereenroll" "$W/r1.b64" --cert "$W/rc7.pem" --key "$W/m1.key")" 200

# ---- vendor mode ---------------------------------------------------------------

# The seed's command lines: an empty subject, the vendor certificate and
# its sub CA sent in the handshake.
csr v1 '/'
is "vendor: device certificate + chain, empty CSR subject: 200" \
    "$(post_cte vv1 "$EST/vendor1/simpleenroll" "$W/v1.b64" --cert "$W/dev1.chain.pem" --key "$W/dev1.key")" 200
check "... certificate verifies" certof vv1
is "... subject is the registered (vendor) subject" "$(subject_of "$W/vv1.pem")" "CN=dev-v1,O=Vendor"
is "... audit names the vendor certificate and the end entity" \
    "$(sql "SELECT username || ' ' || (requester LIKE '% vendor=CN=dev-v1,O=Vendor') FROM est.audit WHERE alias = 'vendor1' AND operation = 'simpleenroll' AND decision = 'accept'")" "dev-v1 true"
csr v2 '/O=Vendor/CN=dev-v1'
is "vendor: CSR repeating the registered subject: 200" \
    "$(post_cte vv2 "$EST/vendor1/simpleenroll" "$W/v2.b64" --cert "$W/dev1.chain.pem" --key "$W/dev1.key")" 200
is "vendor: leaf without the sub CA (root is the anchor): 403" \
    "$(post_cte vv3 "$EST/vendor1/simpleenroll" "$W/v1.b64" --cert "$W/dev1.pem" --key "$W/dev1.key")" 403
is "vendor: device of an unregistered vendor CA: 403" \
    "$(post_cte vv4 "$EST/vendor1/simpleenroll" "$W/v1.b64" --cert "$W/odev.chain.pem" --key "$W/odev.key")" 403
is "... reason" "$(reason_of vv4)" "client certificate does not chain to a vendor CA of this alias"
is "vendor: no client certificate: 403" \
    "$(post_cte vv5 "$EST/vendor1/simpleenroll" "$W/v1.b64")" 403
csr v6 '/O=Vendor/CN=dev-v3'
is "vendor: CSR subject of another device: 403" \
    "$(post_cte vv6 "$EST/vendor1/simpleenroll" "$W/v6.b64" --cert "$W/dev1.chain.pem" --key "$W/dev1.key")" 403
is "vendor2: the sub CA alone as anchor, leaf only: 200" \
    "$(post_cte vv7 "$EST/vendor2/simpleenroll" "$W/v1.b64" --cert "$W/dev1.pem" --key "$W/dev1.key")" 200

# ChangeSubjectName
csr c1 '/'
check "CSR with ChangeSubjectName made" csn c1n c1 '/O=Operator/CN=op-0002'
is "vendor: ChangeSubjectName to the registered subject, alias allows: 200" \
    "$(post_cte cs1 "$EST/vendor1/simpleenroll" "$W/c1n.b64" --cert "$W/dev2.chain.pem" --key "$W/dev2.key")" 200
check "... certificate verifies" certof cs1
is "... certificate has the new subject" "$(subject_of "$W/cs1.pem")" "CN=op-0002,O=Operator"
is "... audit says ChangeSubjectName" \
    "$(sql "SELECT count(*) FROM est.audit WHERE alias = 'vendor1' AND username = 'dev-v2' AND decision = 'accept' AND reason LIKE '%(ChangeSubjectName)'")" 1
check "CSR with ChangeSubjectName to another subject made" csn c2n c1 '/O=Operator/CN=op-9999'
is "vendor: ChangeSubjectName to an unregistered subject: 403" \
    "$(post_cte cs2 "$EST/vendor1/simpleenroll" "$W/c2n.b64" --cert "$W/dev2.chain.pem" --key "$W/dev2.key")" 403
check "CSR with an empty ChangeSubjectName made" csn c3n c1 '/O=Operator/CN=op-0002' '' empty
is "vendor: empty ChangeSubjectName: 400" \
    "$(post_cte cs3 "$EST/vendor1/simpleenroll" "$W/c3n.b64" --cert "$W/dev2.chain.pem" --key "$W/dev2.key")" 400
csr c4 '/O=Vendor/CN=dev-v1'
check "CSR with ChangeSubjectName for vendor2 made" csn c4n c4 '/O=Vendor/CN=dev-v1'
is "vendor2: ChangeSubjectName, alias disallows: 403" \
    "$(post_cte cs4 "$EST/vendor2/simpleenroll" "$W/c4n.b64" --cert "$W/dev1.pem" --key "$W/dev1.key")" 403
is "... reason" "$(reason_of cs4)" "ChangeSubjectName is not allowed for this alias"
is "ChangeSubjectName on an ra alias: 403" \
    "$(post_cte cs5 "$EST/ra1/simpleenroll" "$W/c4n.b64" -u 'estadmin:new-secret-9')" 403

# Renewal with the certificate vendor mode gave: fine without
# ChangeSubjectName, refused with it.
csr rv1 '/O=Vendor/CN=dev-v1'
is "renewal of a vendor-mode certificate: 200" \
    "$(post_cte rv1 "$EST/vendor1/simplereenroll" "$W/rv1.b64" --cert "$W/vv1.pem" --key "$W/v1.key")" 200
check "CSR for renewal with ChangeSubjectName made" csn rv2n rv1 '/O=Vendor/CN=dev-v1'
is "ChangeSubjectName on simplereenroll: 403" \
    "$(post_cte rv2 "$EST/vendor1/simplereenroll" "$W/rv2n.b64" --cert "$W/vv1.pem" --key "$W/v1.key")" 403
is "... reason" "$(reason_of rv2)" "ChangeSubjectName is not allowed on renewal"

check "DBA removes a vendor CA" dba "SELECT est.remove_vendor_ca('vendor2', :'sub');" \
    -v sub="$(cat "$W/vsub.pem")"
is "vendor2 without vendor CAs: 403" \
    "$(post_cte vv8 "$EST/vendor2/simpleenroll" "$W/v1.b64" --cert "$W/dev1.chain.pem" --key "$W/dev1.key")" 403

# ---- secrets --------------------------------------------------------------

leak=
for p in foo123-pw new-secret-9 "DELETE FROM est.role_member"; do
	grep -rqF -- "$p" "$ESTCA_RIG_DIR/log" && leak="$leak log:$p"
	[ "$(psql -X -q -At "$ESTCA_PGURI" -v p="$p" <<<"SELECT count(*) FROM est.audit WHERE strpos(reason, :'p') > 0 OR strpos(coalesce(requester, ''), :'p') > 0;")" = 0 ] ||
	    leak="$leak audit:$p"
done
is "no RA password in any log or audit row" "${leak:-none}" none

done_testing
