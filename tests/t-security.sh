#!/bin/bash
# t-security.sh - attacks on the enrollment paths, each tried through a
# whole rig (real web server, Postgres, engine and token; curl, openssl,
# psql), each a regression test of a hole that was open:
#   1. an approved serverkeygen re-key cannot be fetched by the same CSR
#      bytes without the client certificate (queued rows remember how the
#      request authenticated; code retries prove the code again);
#   2. renewal cannot change the case or spacing of the subject to take
#      another end entity's name; an empty renewal subject keeps the old
#      certificate's subject and SANs byte for byte;
#   3. enrollment codes longer than bcrypt's 72 bytes: refused at
#      registration, and a guess sharing the first 72 bytes of an old long
#      code does not enroll;
#   5. a revoked certificate of this CA works neither as an RA client
#      certificate nor as a vendor device certificate;
#   6. a subject too long to record is refused before the engine signs;
#      a certificate signed but not recorded leaves an est.audit row with
#      its serial;
#   8. the FastCGI workers are not dumpable and have no core limit;
#   and a body above every limit is answered 413, not 400.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql pgrep
# Workers inherit this limit: allow cores, so that only the worker's own
# setrlimit can make its limit 0 (section 8).
ulimit -c unlimited 2>/dev/null || true
est_rig_up t-security

# sk_cert NAME: the certificate of a serverkeygen reply NAME -> $W/NAME.pem
sk_cert() {
	awk '/^Content-Type: application\/pkcs7-mime/ { p = 1; next }
	     p && /^--/ { exit } p && NF { print }' "$W/$1.body" | tr -d '\r' |
	    openssl base64 -d | openssl pkcs7 -inform DER -print_certs -out "$W/$1.pem" &&
	    grep -q 'BEGIN CERTIFICATE' "$W/$1.pem"
}
engine_lines() { wc -l <"$ESTCA_RIG_DIR/log/audit.log"; }
count() { sql "SELECT count(*) FROM $1"; }

# ---- 1. approved serverkeygen re-key, replayed without a credential ------

check "DBA creates alias skg (code mode, serverkeygen, approval)" dba "
SELECT est.create_alias('skg', 'est', 'device', 'challenge_password',
    serverkeygen => true, require_approval => true);"
CODE_K=Kk1-$(openssl rand -hex 8)
check "DBA registers sk-dev with 2 uses" register sk-dev "$CODE_K" 'CN=sk-dev' '{}' 2 skg
mkcsr k1 /CN=sk-dev '' "$CODE_K"
is "enrollment with the code: 202" "$(post k1a "$EST/skg/simpleenroll" "$W/k1.b64")" 202
check "DBA approves it" dba "SELECT est.approve_request($(req_id k1a));"
is "retry: 200" "$(post k1b "$EST/skg/simpleenroll" "$W/k1.b64")" 200
check "... certificate verifies" certof k1b
mkcsr k2 /CN=sk-dev '' ''
is "re-key with the client certificate, CSR without code: 202" \
    "$(post k2a "$EST/skg/serverkeygen" "$W/k2.b64" --cert "$W/k1b.pem" --key "$W/k1.key")" 202
ID_K2=$(req_id k2a)
is "the queued row says it authenticated by certificate" \
    "$(sql "SELECT auth FROM est.approval_request WHERE id = ${ID_K2:-0}")" \
    "cert:$(openssl x509 -in "$W/k1b.pem" -outform DER | sha256sum | cut -c1-64)"
check "DBA approves the re-key" dba "SELECT est.approve_request(${ID_K2:-0});"
certs_before=$(count "est.certificate WHERE alias = 'skg'")
is "the same CSR bytes with no certificate and no code: 403" \
    "$(post k2x "$EST/skg/serverkeygen" "$W/k2.b64")" 403
is "... reason" "$(reason_of k2x)" "unknown end entity or wrong enrollment code"
if grep -q 'PRIVATE KEY\|pkcs8' "$W/k2x.body"; then fail "... no private key in the answer"; else
	ok "... no private key in the answer"; fi
is "... no certificate issued" "$(count "est.certificate WHERE alias = 'skg'")" "$certs_before"
is "... the approved request is still open" \
    "$(sql "SELECT status FROM est.approval_request WHERE id = ${ID_K2:-0}")" approved
is "the same CSR through simpleenroll without credential: 403" \
    "$(post k2y "$EST/skg/simpleenroll" "$W/k2.b64")" 403
is "the approved re-key with its certificate: 200" \
    "$(post k2b "$EST/skg/serverkeygen" "$W/k2.b64" --cert "$W/k1b.pem" --key "$W/k1.key")" 200
check "... carries a certificate" sk_cert k2b
is "... and the request is issued" \
    "$(sql "SELECT status FROM est.approval_request WHERE id = ${ID_K2:-0}")" issued

# A code request's retry proves the code again: a DBA who changes the
# code while the request waits makes the old CSR useless.
CODE_K3=Kk3-$(openssl rand -hex 8)
check "DBA registers sk-three" register sk-three "$CODE_K3" 'CN=sk-three' '{}' 1 skg
mkcsr k3 /CN=sk-three '' "$CODE_K3"
is "code request queued: 202" "$(post k3a "$EST/skg/simpleenroll" "$W/k3.b64")" 202
check "DBA approves it and sets a new code" dba "
SELECT est.approve_request($(req_id k3a));
SELECT est.set_enrollment_code('skg', 'sk-three', 'Other-$(openssl rand -hex 8)', 1);"
is "retry with the old code: 403" "$(post k3b "$EST/skg/simpleenroll" "$W/k3.b64")" 403
is "... nothing issued to sk-three" \
    "$(count "est.certificate c JOIN est.end_entity e ON e.id = c.end_entity WHERE e.username = 'sk-three'")" 0

# ---- 2. renewal that changes the subject's case ---------------------------

CODE_A=Sa1-$(openssl rand -hex 8)
CODE_B=Sb1-$(openssl rand -hex 8)
check "DBA registers sec-alice and SEC-ALICE" dba "
SELECT est.register_end_entity('est', 'sec-alice', 'CN=sec-alice,O=Example',
    '{DNS:alice.example}', :'a', 1);
SELECT est.register_end_entity('est', 'SEC-ALICE', 'CN=SEC-ALICE,O=Example',
    '{}', :'b', 1);" -v a="$CODE_A" -v b="$CODE_B"
mkcsr al /O=Example/CN=sec-alice 'DNS:alice.example' "$CODE_A"
is "sec-alice enrolls: 200" "$(post al "$EST/simpleenroll" "$W/al.b64")" 200
check "... certificate verifies" certof al
mkcsr up /O=Example/CN=SEC-ALICE 'DNS:alice.example' ''
is "renewal asking for CN=SEC-ALICE: 403" \
    "$(post up "$EST/simplereenroll" "$W/up.b64" --cert "$W/al.pem" --key "$W/al.key")" 403
is "... reason" "$(reason_of up)" "request subject differs from the client certificate's"
# The same text as PrintableString: equal to X509_NAME_cmp, not to DER.
printf '[req]\ndistinguished_name = dn\nprompt = no\nstring_mask = default\n[dn]\nO = Example\nCN = sec-alice\n' >"$W/ps.cnf"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ps.key" \
    -config "$W/ps.cnf" -addext subjectAltName=DNS:alice.example -outform DER -out "$W/ps.der" 2>/dev/null
openssl base64 -in "$W/ps.der" -out "$W/ps.b64"
is "renewal with the subject in another string type: 403" \
    "$(post sp "$EST/simplereenroll" "$W/ps.b64" --cert "$W/al.pem" --key "$W/al.key")" 403
mkcsr sp2 '/O=Example/CN=sec-alice' 'DNS:ALICE.example' ''
is "renewal with the SAN in upper case: 403" \
    "$(post sp2 "$EST/simplereenroll" "$W/sp2.b64" --cert "$W/al.pem" --key "$W/al.key")" 403
mkcsr same '/O=Example/CN=sec-alice' 'DNS:alice.example' ''
is "renewal repeating subject and SANs: 200" \
    "$(post same "$EST/simplereenroll" "$W/same.b64" --cert "$W/al.pem" --key "$W/al.key")" 200
is "no certificate names SEC-ALICE" "$(count "est.certificate WHERE subject LIKE '%CN=SEC-ALICE%'")" 0
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/em.key" 2>/dev/null
openssl req -new -key "$W/em.key" -subj / -outform DER -out "$W/em.der" 2>/dev/null
openssl base64 -in "$W/em.der" -out "$W/em.b64"
is "renewal with an empty subject and no SANs: 200" \
    "$(post em "$EST/simplereenroll" "$W/em.b64" --cert "$W/al.pem" --key "$W/al.key")" 200
check "... certificate verifies" certof em
subj_der() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253,-esc_msb; }
is "... the subject is the old certificate's" "$(subj_der "$W/em.pem")" "$(subj_der "$W/al.pem")"
is "... the SANs are the old certificate's" \
    "$(openssl x509 -in "$W/em.pem" -noout -ext subjectAltName | tail -n +2)" \
    "$(openssl x509 -in "$W/al.pem" -noout -ext subjectAltName | tail -n +2)"

# ---- 3. codes and bcrypt's 72 bytes ----------------------------------------

L71=$(printf 'L%.0s' $(seq 1 71))
out=$(register long-a "${L71}x" 'CN=long-a' '{}' 1 2>&1)
case $out in
*"4 characters to 71 bytes"*) ok "a code of 72 bytes is refused at registration" ;;
*) fail "a code of 72 bytes is refused at registration" "$out" ;;
esac
out=$(dba "SELECT est.create_role('pwlen', 'est');
    SELECT est.add_role_member_password('pwlen', 'u', :'pw');" -v pw="${L71}x" 2>&1)
case $out in
*"8 characters to 71 bytes"*) ok "an RA password of 72 bytes is refused" ;;
*) fail "an RA password of 72 bytes is refused" "$out" ;;
esac
check "a code of 71 bytes registers" register long-b "$L71" 'CN=long-b' '{}' 1
mkcsr lb /CN=long-b '' "$L71"
is "... and enrolls: 200" "$(post lb "$EST/simpleenroll" "$W/lb.b64")" 200
# A code stored before the limit (bcrypt of 100 bytes, as the old
# function did): neither its 72-byte head nor the whole code enrolls.
check "an old-style hash of a 100-byte code" register long-c "Temp-$(openssl rand -hex 8)" 'CN=long-c' '{}' 1
L100=${L71}$(printf 'T%.0s' $(seq 1 29))
sql "UPDATE est.end_entity SET code_hash = crypt('$L100', gen_salt('bf', 8))
     WHERE username = 'long-c'" >/dev/null
mkcsr lc /CN=long-c '' "${L100:0:72}"
is "the 72-byte head of a longer code: 403" "$(post lc "$EST/simpleenroll" "$W/lc.b64")" 403
mkcsr lc2 /CN=long-c '' "$L100"
is "the whole 100-byte code: 403 (set it again)" "$(post lc2 "$EST/simpleenroll" "$W/lc2.b64")" 403
is "... nothing issued to long-c" \
    "$(count "est.certificate c JOIN est.end_entity e ON e.id = c.end_entity WHERE e.username = 'long-c'")" 0

# ---- 5. revoked certificates as RA and vendor credentials ------------------

CODE_R=Ra1-$(openssl rand -hex 8)
check "DBA registers ra-robot (its certificate will be an RA's)" \
    register ra-robot "$CODE_R" 'CN=ra-robot' '{}' 1
mkcsr rr /CN=ra-robot '' "$CODE_R"
is "ra-robot enrolls: 200" "$(post rr "$EST/simpleenroll" "$W/rr.b64")" 200
check "... certificate verifies" certof rr
check "DBA: alias rasec (ra), role with ra-robot's certificate, vendor alias vensec" dba "
SELECT est.create_alias('rasec', 'est', 'device', 'ra');
SELECT est.create_role('secops', 'rasec');
SELECT est.add_role_member_cert('secops', :'cert', 'ra-robot');
SELECT est.create_alias('vensec', 'est', 'device', 'vendor');
SELECT est.add_vendor_ca('vensec', :'ca');
SELECT est.register_end_entity('rasec', 'ra-t1', NULL, '{}', NULL, 1);
SELECT est.register_end_entity('rasec', 'ra-t2', NULL, '{}', NULL, 1);
SELECT est.register_end_entity('vensec', 'ra-robot', NULL, '{}', NULL, 2);" \
    -v cert="$(cat "$W/rr.pem")" -v ca="$(openssl x509 -in "$ESTCA_CA_CHAIN")"
mkcsr t1 /CN=ra-t1 '' ''
mkcsr t2 /CN=ra-t2 '' ''
mkcsr v1 /CN=ra-robot '' ''
mkcsr v2 /CN=ra-robot '' ''
is "RA certificate of this CA enrolls ra-t1: 200" \
    "$(post t1 "$EST/rasec/simpleenroll" "$W/t1.b64" --cert "$W/rr.pem" --key "$W/rr.key")" 200
is "the same certificate as vendor device: 200" \
    "$(post v1 "$EST/vensec/simpleenroll" "$W/v1.b64" --cert "$W/rr.pem" --key "$W/rr.key")" 200
check "DBA revokes ra-robot's certificate" dba "
SELECT est.revoke_certificate(NULL, :'serial', 'keyCompromise');" -v serial="$(serial_of "$W/rr.pem")"
is "revoked RA certificate: 403" \
    "$(post t2 "$EST/rasec/simpleenroll" "$W/t2.b64" --cert "$W/rr.pem" --key "$W/rr.key")" 403
is "... reason" "$(reason_of t2)" "RA client certificate revoked"
is "revoked vendor certificate: 403" \
    "$(post v2 "$EST/vensec/simpleenroll" "$W/v2.b64" --cert "$W/rr.pem" --key "$W/rr.key")" 403
is "... reason" "$(reason_of v2)" "client certificate revoked"
is "ra-t2 still has its use" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'ra-t2'")" 1
is "both refusals audited" \
    "$(count "est.audit WHERE decision = 'refuse' AND reason IN ('RA client certificate revoked', 'vendor certificate revoked')")" 2

# ---- 6. nothing signed that cannot be recorded -----------------------------

CODE_L=Lo1-$(openssl rand -hex 8)
check "DBA registers long-subj (any subject)" register long-subj "$CODE_L" '' '{}' 1
ou=$(printf 'x%.0s' $(seq 1 60))
subj=/CN=long-subj
for i in $(seq 1 20); do subj="$subj/OU=$i$ou"; done
mkcsr ls "$subj" '' "$CODE_L"
n0=$(engine_lines)
is "a subject above 1024 bytes of text: 403" "$(post ls "$EST/simpleenroll" "$W/ls.b64")" 403
is "... reason" "$(reason_of ls)" "subject too long"
is "... the engine was not asked" "$(engine_lines)" "$n0"
is "... the code is not used up" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'long-subj'")" 1
is "... refusal audited" "$(count "est.audit WHERE username = 'long-subj' AND reason LIKE 'subject above 1024 bytes%'")" 1

# A record that fails after the engine signed (a trigger makes the insert
# fail for one end entity): 500, the code is kept, and est.audit names
# the serial the engine logged.
CODE_F=Fa1-$(openssl rand -hex 8)
check "DBA registers rec-fail" register rec-fail "$CODE_F" 'CN=rec-fail' '{}' 1
check "a trigger that makes recording rec-fail's certificate fail" sql "
CREATE FUNCTION public.t_fail_insert() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
	IF NEW.subject = 'CN=rec-fail' THEN
		RAISE EXCEPTION 'test: recording refused';
	END IF;
	RETURN NEW;
END \$\$;
CREATE TRIGGER t_fail_insert BEFORE INSERT ON est.certificate
	FOR EACH ROW EXECUTE FUNCTION public.t_fail_insert();"
mkcsr rf /CN=rec-fail '' "$CODE_F"
n0=$(engine_lines)
is "signed, then the record fails: 500" "$(post rf "$EST/simpleenroll" "$W/rf.b64")" 500
is "... the engine signed once" "$(($(engine_lines) - n0))" 1
# The engine's log and est.audit write the serial the same way: no
# normalising needed to join them.
eserial=$(tail -n 1 "$ESTCA_RIG_DIR/log/audit.log" | sed -n 's/.* serial=\([^ ]*\) .*/\1/p')
is "... est.audit has the signed serial, refused as not recorded" \
    "$(sql "SELECT serial FROM est.audit WHERE username = 'rec-fail' AND decision = 'refuse'
        AND reason LIKE 'certificate signed but not recorded%'")" "$eserial"
is "... no certificate row" "$(count "est.certificate WHERE subject = 'CN=rec-fail'")" 0
is "... the code is not used up" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'rec-fail'")" 1
sql "DROP TRIGGER t_fail_insert ON est.certificate; DROP FUNCTION public.t_fail_insert()" >/dev/null
is "once recording works again: 200" "$(post rf2 "$EST/simpleenroll" "$W/rf.b64")" 200

# ---- 8. the workers' memory stays theirs -----------------------------------

pid=$(pgrep -f "$ESTCA_RIG_DIR/bin/estca-fcgi" | head -n 1)
if [ -z "$pid" ]; then
	fail "an estca-fcgi worker is running"
else
	is "worker $pid: core file size limit 0" \
	    "$(awk '/^Max core file size/ { print $5 }' "/proc/$pid/limits")" 0
	# A process that is not dumpable has its /proc files owned by root.
	is "worker $pid is not dumpable (/proc/PID/environ owned by root)" \
	    "$(stat -c %U "/proc/$pid/environ")" root
	is "... though it runs as www-data" "$(ps -o user= -p "$pid" | tr -d ' ')" www-data
fi

# ---- bodies above the limits -----------------------------------------------

head -c 300000 /dev/zero | tr '\0' 'A' >"$W/big.b64"
if [ "$ESTCA_WEB" = lighttpd ]; then
	# lighttpd answers 413 and closes at once: an HTTP/1.1 client reads
	# the 413; over HTTP/2 it resets the stream (curl: no status).
	is "a 300,000-byte body over HTTP/1.1: 413" \
	    "$(post big "$EST/simpleenroll" "$W/big.b64" --http1.1)" 413
	st=$(post big2 "$EST/simpleenroll" "$W/big.b64" --http2)
	case $st in
	413|000) ok "a 300,000-byte body over HTTP/2: 413 or stream reset ($st)" ;;
	*) fail "a 300,000-byte body over HTTP/2: 413 or stream reset" "got $st" ;;
	esac
else
	is "a 300,000-byte body: 413" "$(post big "$EST/simpleenroll" "$W/big.b64")" 413
fi
head -c 100000 /dev/zero | tr '\0' 'A' >"$W/mid.b64"
is "a 100,000-byte body: 413" "$(post mid "$EST/simpleenroll" "$W/mid.b64")" 413

# ---- alias changes reach every worker at once (012_record_phase.sql) ---------
# Workers keep the alias rows they read; a change to est.alias notifies
# them.  Many clients at once prime as many workers as the server runs,
# then the DBA deletes the alias: no request after that may still find it.

# get_many TAG URL [curl config lines...]: 16 keep-alive clients, 10
# requests each (GET, or what the config lines make them); the statuses
# as "Nxcode ...".
get_many() {
	local tag=$1 url=$2 i j o
	shift 2
	for i in $(seq 1 16); do
		{
			printf 'cacert = "%s"\nsilent\nmax-time = 20\n' "$ESTCA_CACERT"
			printf 'write-out = "%%{http_code}\\n"\n'
			for o in "$@"; do printf '%s\n' "$o"; done
			for j in $(seq 1 10); do
				printf 'url = "%s"\noutput = "/dev/null"\n' "$url"
			done
		} >"$W/$tag.$i.curl"
		timeout 60 curl -K "$W/$tag.$i.curl" >"$W/$tag.$i.st" 2>/dev/null &
	done
	wait
	cat "$W/$tag".*.st | sort | uniq -c |
	    awk '{ printf "%s%sx%s", s, $1, $2; s = " " }'
}
check "DBA creates alias cachea" dba \
    "SELECT est.create_alias('cachea', 'est', 'device', 'challenge_password');"
st=$(get_many cache1 "$EST/cachea/csrattrs")
case $st in
*x404*|"") fail "while alias cachea exists: no 404 in 160 requests" "$st" ;;
*) is "while alias cachea exists: 160 answered" "$(cat "$W"/cache1.*.st | grep -c '^[2]')" 160 ;;
esac
check "DBA deletes alias cachea" dba "DELETE FROM est.alias WHERE name = 'cachea';"
is "right after: every request finds it gone (404)" \
    "$(get_many cache2 "$EST/cachea/csrattrs")" "160x404"
check "DBA creates it again" dba \
    "SELECT est.create_alias('cachea', 'est', 'device', 'challenge_password');"
is "right after: every request finds it again, as before" \
    "$(get_many cache3 "$EST/cachea/csrattrs")" "$st"

# The same for an RA member's password: 160 requests that authenticate
# (the end entity is not registered: 403 after the password was taken),
# then the DBA removes the member: every request after that is 401.
RA_PW=Rc1-$(openssl rand -hex 8)
note_secret "$RA_PW"
check "DBA creates RA alias cacher, role and member racache" dba "
SELECT est.create_alias('cacher', 'est', 'device', 'ra');
SELECT est.create_role('cacheops', 'cacher');
SELECT est.add_role_member_password('cacheops', 'racache', :'pw');" -v pw="$RA_PW"
mkcsr rc /CN=not-registered-rc '' ''
RA_POST=("data-binary = \"@$W/rc.b64\"" 'header = "Content-Type: application/pkcs10"'
    "user = \"racache:$RA_PW\"")
is "while the member exists: 160 authenticated, refused as not registered (403)" \
    "$(get_many cache4 "$EST/cacher/simpleenroll" "${RA_POST[@]}")" "160x403"
check "DBA removes the member" dba "SELECT est.remove_role_member('cacheops', 'racache');"
is "right after: every request's password is refused (401)" \
    "$(get_many cache5 "$EST/cacher/simpleenroll" "${RA_POST[@]}")" "160x401"

# A restart of PostgreSQL ends every worker's connection, and with it the
# notices: a change made before a worker reconnects must still count.
check "DBA adds the member again" dba \
    "SELECT est.add_role_member_password('cacheops', 'racache', :'pw');" -v pw="$RA_PW"
is "... 160 authenticated again (403)" \
    "$(get_many cache6 "$EST/cacher/simpleenroll" "${RA_POST[@]}")" "160x403"
pgdata=$(sql "SHOW data_directory")
# (its output to a file: the new postmaster keeps what it inherits open)
check "PostgreSQL restarted (the workers idle)" \
    sh -c "cd / && runuser -u postgres -- '$ESTCA_PGBIN/pg_ctl' -D '$pgdata' \
        -m fast -w restart >'$W/pg-restart.log' 2>&1"
check "DBA removes the member while no worker is connected" dba \
    "SELECT est.remove_role_member('cacheops', 'racache');"
is "after the restart: every request's password is refused (401)" \
    "$(get_many cache7 "$EST/cacher/simpleenroll" "${RA_POST[@]}")" "160x401"

done_testing
