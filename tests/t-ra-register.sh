#!/bin/bash
# t-ra-register.sh - an RA registers the end entity it enrolls (issue 13
# point 2; sql/009_ra_register.sql; doc/enrollment.md "RA registration").
#
# Seed 001's workflow as written, with curl for libest's estclient (which
# Debian does not ship):
#   estclient -e -s HOST -p PORT -o certs -u estadmin -h foo123 --pem-output --common-name myclient
#     = a new key, a CSR with CN=myclient and nothing else, POSTed to
#       /.well-known/est/simpleenroll with HTTP Basic estadmin:<password>
#   estclient -r ... -c certs/cert-0-0.pem -k certs/key-x-x.pem
#     = a CSR with the same subject, POSTed to simplereenroll with the
#       certificate as TLS client certificate
# myclient is registered by nobody.  Checked:
#   - without the alias option (the default): 403, nothing registered;
#   - with it, but a role without quota: 403;
#   - with a quota: 200, the end entity registered (no code, the alias's
#     uses, the role and member recorded), an ra_register audit row naming
#     the member, then renewal as for any end entity, and no second
#     registration of the same name;
#   - the limits: subject (CN=<name> alone, a fixed suffix, a pattern),
#     SAN types, DNS suffixes, the quota; each refusal registers nothing;
#   - an RA by TLS client certificate registers too (a certificate of the
#     rig's CA, so lighttpd passes it);
#   - a wrong RA password registers nothing;
#   - the DBA functions' checks and audit rows.
# The seed's password foo123 is below the 8 characters an RA password
# needs: the test uses a longer one.
set -u
. "$(dirname "$0")/lib.sh"

need_root
need_cmd curl openssl psql
est_rig_up t-ra-register
S=$W/seed
mkdir -p "$S/certs"

PW=foo123-$(openssl rand -hex 6)
note_secret "$PW"

# estclient_e NAME SUBJ [SAN] [curl options...]: what estclient -e does,
# with curl: a new key $S/NAME.key, a CSR for SUBJ, POSTed to the default
# alias's simpleenroll with HTTP Basic estadmin:$PW unless curl options
# are given; reply in $W/NAME.body, status printed.
estclient_e() {
	local name=$1 subj=$2 san=${3:-}
	shift 3 2>/dev/null || shift $#
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$S/$name.key" -subj "$subj" ${san:+-addext "subjectAltName=$san"} \
	    -outform DER -out "$S/$name.der" 2>/dev/null &&
	    openssl base64 -in "$S/$name.der" -out "$S/$name.b64" || return 1
	if [ $# -eq 0 ]; then
		set -- -u "estadmin:$PW"
	fi
	curl -s --cacert "$ESTCA_CACERT" -D "$W/$name.hdr" -o "$W/$name.body" \
	    -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
	    --data-binary "@$S/$name.b64" "$@" "$EST/simpleenroll"
}

subject_of() {
	openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'
}
ee_count() {
	sql "SELECT count(*) FROM est.end_entity WHERE alias = 'est' AND username = '$1'"
}
refused_reg() {   # refused_reg NAME STATUS REASON-PART USER
	local st=$1 want=$2 part=$3 user=$4
	is "$name: $want" "$st" "$want"
	case $(reason_of "$name") in
	*"$part"*) ok "... reason: $part" ;;
	*) fail "... reason: $part" "got: $(reason_of "$name")" ;;
	esac
	is "... $user not registered" "$(ee_count "$user")" 0
}

# ---- the seed's set-up: the default alias in RA mode, user estadmin ------
check "DBA turns alias est into an RA alias with role raops, member estadmin" dba "
SELECT est.update_alias('est', enroll_mode => 'ra');
SELECT est.create_role('raops', 'est');
SELECT est.add_role_member_password('raops', 'estadmin', :'pw');" -v pw="$PW"
MEMBER=$(sql "SELECT id FROM est.role_member WHERE username = 'estadmin'")
ROLE=$(sql "SELECT id FROM est.role WHERE name = 'raops'")
is "the option is off by default" \
    "$(sql "SELECT ra_register::text || ' ' || register_quota FROM est.alias a
        JOIN est.role r ON r.alias = a.name WHERE a.name = 'est'")" "false 0"

# ---- off by default ----------------------------------------------------------
name=off
refused_reg "$(estclient_e off /CN=myclient)" 403 \
    "no such end entity registered under this alias" myclient

# ---- on, but the role has no quota -----------------------------------------
check "DBA creates a code alias, codes" \
    dba "SELECT est.create_alias('codes', 'est', 'device', 'challenge_password');"
if dba "SELECT est.set_alias_ra_register('codes', true);" >/dev/null 2>&1; then
	fail "set_alias_ra_register refuses an alias not in mode ra"
else
	ok "set_alias_ra_register refuses an alias not in mode ra"
fi
if dba "SELECT est.set_alias_ra_register('est', true, subject_pattern => '([');" >/dev/null 2>&1; then
	fail "set_alias_ra_register refuses a pattern that does not compile"
else
	ok "set_alias_ra_register refuses a pattern that does not compile"
fi
is "set_alias_ra_register of an unknown alias: false" \
    "$(dba "SELECT est.set_alias_ra_register('nosuch', true);")" f
check "DBA switches RA registration on for est" dba "SELECT est.set_alias_ra_register('est', true);"
name=noquota
refused_reg "$(estclient_e noquota /CN=myclient)" 403 \
    "this RA role may not register end entities" myclient

# ---- on, with a quota: seed 001 ------------------------------------------------
check "DBA gives role raops a quota of 3" dba "SELECT est.set_role_register_quota('raops', 3);"
is "Get client certificate, by \"RA\" (estclient -e -u estadmin --common-name myclient): 200" \
    "$(estclient_e seed-e /CN=myclient)" 200
if certof seed-e >/dev/null 2>&1; then
	ok "... the certificate verifies"
	cp "$W/seed-e.pem" "$S/certs/cert-0-0.pem"
	cp "$S/seed-e.key" "$S/certs/key-x-x.pem"
else
	fail "... the certificate verifies" "$(reason_of seed-e)"
fi
is "... for CN=myclient" "$(subject_of "$W/seed-e.pem" 2>/dev/null)" "CN=myclient"
is "... end entity registered: subject, no SAN, no code, 1 use used, by role raops member estadmin" \
    "$(sql "SELECT subject_dn || ' ' || sans::text || ' ' || (code_hash IS NULL) || ' ' ||
        uses_left || ' ' || status || ' ' || registered_role || ' ' || registered_by
        FROM est.end_entity WHERE alias = 'est' AND username = 'myclient'")" \
    "CN=myclient {} true 0 active $ROLE $MEMBER"
is "... audited as a registration by that RA member" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'ra_register' AND alias = 'est'
        AND username = 'myclient' AND decision = 'accept'
        AND reason LIKE '% registered by RA role raops member $MEMBER (estadmin)%'
        AND requester LIKE '% ra=estadmin'")" 1
is "... and the enrollment audited, naming the RA" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'simpleenroll' AND alias = 'est'
        AND username = 'myclient' AND decision = 'accept' AND requester LIKE '% ra=estadmin'
        AND serial = '$(serial_of "$W/seed-e.pem" 2>/dev/null)'")" 1
is "... certificate recorded for the new end entity" \
    "$(sql "SELECT count(*) FROM est.certificate c JOIN est.end_entity e ON e.id = c.end_entity
        WHERE e.username = 'myclient' AND c.serial = '$(serial_of "$W/seed-e.pem" 2>/dev/null)'")" 1

# estclient -r -c certs/cert-0-0.pem -k certs/key-x-x.pem: a new key (without
# -x estclient makes one), the certificate's subject
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$S/renew.key" \
    -subj /CN=myclient -outform DER -out "$S/renew.der" 2>/dev/null &&
    openssl base64 -in "$S/renew.der" -out "$S/renew.b64"
is "Re-enroll with the old client certificate (estclient -r): 200" \
    "$(curl -s --cacert "$ESTCA_CACERT" --cert "$S/certs/cert-0-0.pem" --key "$S/certs/key-x-x.pem" \
        -o "$W/seed-r.body" -w '%{http_code}' -H 'Content-Type: application/pkcs10' \
        --data-binary "@$S/renew.b64" "$EST/simplereenroll")" 200
check "... the renewed certificate verifies" certof seed-r
is "... for CN=myclient, recorded for the same end entity" \
    "$(subject_of "$W/seed-r.pem" 2>/dev/null) $(sql "SELECT count(*) FROM est.certificate c
        JOIN est.end_entity e ON e.id = c.end_entity WHERE e.username = 'myclient'")" \
    "CN=myclient 2"
name=again
refused_reg "$(estclient_e again /CN=myclient)" 403 "end entity has no enrollments left" nobody-else
is "... myclient registered once, still" "$(ee_count myclient)" 1
is "... one ra_register row in all" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'ra_register'")" 1

# ---- the limits --------------------------------------------------------------
name=other-o
refused_reg "$(estclient_e other-o /O=Evil/CN=other)" 403 "the subject must be CN=<name>" other
name=san-none
refused_reg "$(estclient_e san-none /CN=web1 DNS:web1.example.com)" 403 \
    "subjectAltName type DNS is not one RAs may register here" web1
check "DBA allows DNS SANs under example.com" \
    dba "SELECT est.set_alias_ra_register('est', true, san_types => '{DNS}', dns_suffixes => '{.example.com}');"
is "RA registers web1 with DNS:web1.example.com: 200" \
    "$(estclient_e web1 /CN=web1 DNS:web1.example.com)" 200
check "... the certificate verifies" certof web1
is "... with its SAN" \
    "$(openssl x509 -in "$W/web1.pem" -noout -ext subjectAltName 2>/dev/null | sed -n 2p | tr -d ' ')" \
    "DNS:web1.example.com"
is "... registered with it" \
    "$(sql "SELECT sans::text FROM est.end_entity WHERE username = 'web1'")" "{DNS:web1.example.com}"
name=san-evil
refused_reg "$(estclient_e san-evil /CN=web2 DNS:web2.example.com.evil.net)" 403 \
    "DNS name outside the domains RAs may register here" web2
name=san-lookalike
refused_reg "$(estclient_e san-lookalike /CN=web3 DNS:web3.badexample.com)" 403 \
    "DNS name outside the domains" web3
name=san-ip
refused_reg "$(estclient_e san-ip /CN=web4 IP:192.0.2.4)" 403 \
    "subjectAltName type IP is not one RAs may register here" web4

check "DBA sets a fixed subject suffix ,O=Example" \
    dba "SELECT est.set_alias_ra_register('est', true, subject_suffix => ',O=Example');"
name=nosuffix
refused_reg "$(estclient_e nosuffix /CN=dev3)" 403 "the subject must be CN=<name>,O=Example" dev3
is "RA registers CN=dev3,O=Example: 200" "$(estclient_e dev3 /O=Example/CN=dev3)" 200
is "... registered with that subject" \
    "$(sql "SELECT subject_dn FROM est.end_entity WHERE username = 'dev3'")" "CN=dev3,O=Example"
name=quota
refused_reg "$(estclient_e quota /O=Example/CN=dev4)" 403 \
    "this RA role has registered its quota of end entities" dev4
is "... the refusal audited, naming the RA" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'simpleenroll' AND username = 'dev4'
        AND decision = 'refuse' AND reason LIKE 'RA registration refused: %quota%'
        AND requester LIKE '% ra=estadmin'")" 1
check "DBA raises the quota to 6 and sets a pattern" dba "
SELECT est.set_role_register_quota('raops', 6);
SELECT est.set_alias_ra_register('est', true, subject_pattern => '^CN=[a-z0-9-]+,OU=Lab,O=Example\$');"
is "RA registers CN=lab1,OU=Lab,O=Example (pattern): 200" \
    "$(estclient_e lab1 /O=Example/OU=Lab/CN=lab1)" 200
name=pattern
refused_reg "$(estclient_e pattern /O=Example/OU=Prod/CN=lab2)" 403 \
    "the subject is outside what RAs may register under this alias" lab2
name=pattern-name
refused_reg "$(estclient_e pattern-name /O=Example/OU=Lab/CN=Lab_3)" 403 \
    "the subject is outside what RAs may register" Lab_3
check "DBA clears the pattern (suffix ,O=Example again)" \
    dba "SELECT est.set_alias_ra_register('est', true, clear_subject_pattern => true);"

# ---- a wrong password registers nothing ------------------------------------------
name=wrongpw
is "wrong RA password: 401" "$(estclient_e wrongpw /O=Example/CN=dev5 '' -u estadmin:wrong-password-1)" 401
is "... dev5 not registered" "$(ee_count dev5)" 0

# ---- an RA by TLS client certificate -----------------------------------------
# A certificate of the rig's CA (the alias's own CA chain verifies it, and
# lighttpd knows that CA): enrolled under a code alias, then made a member.
BOTCODE=Bot-$(openssl rand -hex 8)
note_secret "$BOTCODE"
check "DBA registers ra-bot under alias codes" register ra-bot "$BOTCODE" 'CN=ra-bot' '{}' 1 codes
mkcsr bot /CN=ra-bot '' "$BOTCODE"
is "ra-bot gets its certificate: 200" "$(post bot "$EST/codes/simpleenroll" "$W/bot.b64")" 200
check "... it verifies" certof bot
check "DBA makes it a member of raops" \
    dba "SELECT est.add_role_member_cert('raops', :'c', 'ra-bot');" -v c="$(cat "$W/bot.pem")"
BOT=$(sql "SELECT id FROM est.role_member WHERE username = 'ra-bot'")
is "RA by certificate registers CN=dev6,O=Example: 200" \
    "$(estclient_e dev6 /O=Example/CN=dev6 '' --cert "$W/bot.pem" --key "$W/bot.key")" 200
check "... the certificate verifies" certof dev6
is "... registered by that member" \
    "$(sql "SELECT registered_by FROM est.end_entity WHERE username = 'dev6'")" "$BOT"
is "... audited as a registration by it" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'ra_register' AND username = 'dev6'
        AND reason LIKE '%member $BOT (ra-bot)%' AND requester LIKE '% ra-cert=role raops member $BOT'")" 1

# ---- switched off again --------------------------------------------------------
check "DBA switches RA registration off" dba "SELECT est.set_alias_ra_register('est', false);"
name=offagain
refused_reg "$(estclient_e offagain /O=Example/CN=dev7)" 403 \
    "no such end entity registered under this alias" dev7
is "the DBA functions audited" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation IN ('dba:set_alias_ra_register',
        'dba:set_role_register_quota')")" 8

done_testing
