#!/bin/bash
# t-webrole.sh - the web tier's database role can do what the workers do and
# nothing a DBA does (sql/006_web_role.sql, doc/dba.md "The web role").
#
# Logs in to the rig's Postgres as estca_fcgi, the login role the workers
# use (a member of estca_web), and tries to forge:
#   - approval requests: inserted approved / decided / with a far expiry
#     or an explicit id; approved, decided, expired early, marked issued
#     without a certificate, deleted;
#   - audit rows: 'dba:' operations (any case, any prefix), backdated, with
#     an explicit id; updated, deleted, truncated;
#   - end entities: uses_left raised (set, +1), lowered by more than one, a
#     use taken from a locked entity, failures reset or lowered, locked or
#     disabled set active, locked below the limit, registration changed,
#     inserted, deleted;
#   - certificates: updated (unrevoked), deleted, inserted revoked;
#   - aliases, schema_migration, the DBA functions, the id sequences,
#     creating objects in est, switching triggers off.
# Each must fail with SQLSTATE 42501 and leave the rows as they were.  Then
# the workers' own statements (fcgi/db_*.c) still work as that role, and the
# same through the rig with curl: an enrollment uses one use, wrong codes
# count and lock at the alias's limit, the approval queue issues; the DBA
# functions still work.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql
est_rig_up t-webrole

WEBDB="host=$ESTCA_PGHOST dbname=estca user=estca_fcgi"

# web SQL [psql -v options...]: run SQL (several statements may be given)
# logged in as the workers' role; errors with their SQLSTATE.
web() {
	local q=$1
	shift
	printf '%s\n' "$q" |
	    psql -X -q -At -v ON_ERROR_STOP=1 -v VERBOSITY=verbose "$@" "$WEBDB" 2>&1
}

# refused_as SQLSTATE NAME SQL [psql -v options...]: SQL as the web role
# must fail with SQLSTATE, not for any other reason.
refused_as() {
	local state=$1 name=$2 q=$3 out
	shift 3
	if out=$(web "$q" "$@"); then
		fail "$name" "the web role was allowed:" "$q" "$out"
		return
	fi
	case $out in
	*"ERROR:  $state:"*) ok "$name" ;;
	*) fail "$name" "failed, but not with SQLSTATE $state:" "$out" ;;
	esac
}

# refused NAME SQL [psql -v options...]: fails with SQLSTATE 42501
# (insufficient privilege).
refused() {
	refused_as 42501 "$@"
}

# allowed NAME SQL [psql -v options...]: SQL as the web role must succeed.
allowed() {
	local name=$1 q=$2 out
	shift 2
	if out=$(web "$q" "$@"); then
		ok "$name"
	else
		fail "$name" "$q" "$out"
	fi
}

ee_id() { sql "SELECT id FROM est.end_entity WHERE alias = '$1' AND username = '$2'"; }
ee_state() {
	sql "SELECT uses_left || ' ' || failed_attempts || ' ' || status
	    FROM est.end_entity WHERE alias = '$1' AND username = '$2'"
}

# ---- the role ----------------------------------------------------------------

is "logged in as the workers' role, a member of estca_web, nothing else" \
    "$(web "SELECT current_user || ' ' || session_user || ' ' ||
        pg_has_role('estca_web', 'MEMBER') || ' ' || pg_has_role('estca_dba', 'MEMBER') || ' ' ||
        (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)")" \
    "estca_fcgi estca_fcgi true false false"
is "migration 6 is recorded" "$(sql "SELECT count(*) FROM est.schema_migration WHERE version = 6")" 1

# ---- set-up as the DBA -------------------------------------------------------

CODE_A=Wa1-$(openssl rand -hex 8)
check "DBA creates alias wr (limit 3) and wrappr (approval)" dba "
SELECT est.create_alias('wr', 'est', 'device', 'challenge_password',
    max_failed_attempts => 3);
SELECT est.create_alias('wrappr', 'est', 'device', 'challenge_password',
    require_approval => true);"
check "DBA registers end entities" dba "
SELECT est.register_end_entity('wr', 'f-active', 'CN=f-active', '{}', 'Fa1-code-xyz', 2);
SELECT est.register_end_entity('wr', 'f-locked', 'CN=f-locked', '{}', 'Fl1-code-xyz', 1);
SELECT est.register_end_entity('wr', 'f-disabled', 'CN=f-disabled', '{}', 'Fd1-code-xyz', 1);
SELECT est.register_end_entity('wr', 'f-legit', 'CN=f-legit', '{}', 'Fg1-code-xyz', 2);
SELECT est.update_end_entity('wr', 'f-locked', status => 'locked');
SELECT est.update_end_entity('wr', 'f-disabled', status => 'disabled');"
EA=$(ee_id wr f-active)
EL=$(ee_id wr f-locked)
ED=$(ee_id wr f-disabled)
EG=$(ee_id wr f-legit)
# f-active: one failed attempt counted, as a worker does
allowed "a worker counts a failed attempt (estca_db_ee_failed)" \
    "UPDATE est.end_entity SET failed_attempts = failed_attempts + 1,
        status = CASE WHEN false THEN 'locked' ELSE status END WHERE id = :'id'" -v id="$EA"
is "... counted" "$(ee_state wr f-active)" "2 1 active"

# ---- approval requests -------------------------------------------------------

# qins [COLUMNS VALUES]: the workers' approval insert for f-active, with
# extra columns; a fresh CSR hash each time.  Where the queue records how a
# request authenticated (auth, sql/007), it says 'code'.
AUTH_COL=
[ "$(sql "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'est'
    AND table_name = 'approval_request' AND column_name = 'auth'")" = 0 ] ||
    AUTH_COL=yes
qins() {
	printf "INSERT INTO est.approval_request (alias, end_entity, username,
	    operation, csr_sha256, csr_der, spki_der, subject, sans, requester%s%s)
	    VALUES ('wr', %s, 'f-active', 'simpleenroll', sha256('%s'::bytea), NULL,
	    '\\\\x3000'::bytea, 'CN=f-active', NULL, '127.0.0.1'%s%s) RETURNING id" \
	    "${AUTH_COL:+, auth}" "${1:+, $1}" "$EA" "$(openssl rand -hex 8)" \
	    "${AUTH_COL:+, 'code'}" "${2:+, $2}"
}

refused "insert an approval request as approved by a DBA" \
    "$(qins "status, decided_at, decided_by" "'approved', now(), 'dba_alice'")"
refused "insert an approval request as issued" "$(qins "status, serial" "'issued', '1234'")"
refused "insert an approval request decided (decided_by only)" "$(qins decided_by "'dba_alice'")"
refused "insert an approval request that never expires" \
    "$(qins expires_at "'infinity'")"
is "nothing of that was queued" \
    "$(sql "SELECT count(*) FROM est.approval_request")" 0

Q1=$(web "$(qins)")
case $Q1 in
[1-9]*) ok "a worker queues a request (estca_db_approval_insert), RETURNING id" ;;
*) fail "a worker queues a request (estca_db_approval_insert), RETURNING id" "$Q1" ;;
esac
Q1=${Q1%%[!0-9]*}
Q1=${Q1:-0}
is "... pending, undecided, expiring in 7 days" \
    "$(sql "SELECT status || ' ' || (decided_by IS NULL) || ' ' ||
        (expires_at = submitted_at + interval '7 days') FROM est.approval_request WHERE id = $Q1")" \
    "pending true true"
allowed "a worker finds it again (SELECT ... FOR UPDATE)" \
    "BEGIN; SELECT id, end_entity, status, expires_at <= now() FROM est.approval_request
        WHERE id = :'id' FOR UPDATE; COMMIT;" -v id="$Q1"
refused "approve a request (status)" \
    "UPDATE est.approval_request SET status = 'approved' WHERE id = :'id'" -v id="$Q1"
refused "approve a request in the DBA's name" \
    "UPDATE est.approval_request SET status = 'approved', decided_at = now(),
        decided_by = 'dba_alice' WHERE id = :'id'" -v id="$Q1"
refused "reject a request" \
    "UPDATE est.approval_request SET status = 'rejected' WHERE id = :'id'" -v id="$Q1"
refused "extend a request's expiry" \
    "UPDATE est.approval_request SET expires_at = 'infinity' WHERE id = :'id'" -v id="$Q1"
refused "expire a request before its time" \
    "UPDATE est.approval_request SET status = 'expired', serial = NULL,
        issued_at = NULL WHERE id = :'id'" -v id="$Q1"
refused "attach a serial to a pending request" \
    "UPDATE est.approval_request SET serial = 'ABCD' WHERE id = :'id'" -v id="$Q1"
refused "delete a request" "DELETE FROM est.approval_request WHERE id = :'id'" -v id="$Q1"
refused "approve through est.approve_request" "SELECT est.approve_request(:'id')" -v id="$Q1"
is "the request is still pending, undecided" \
    "$(sql "SELECT status || ' ' || coalesce(decided_by, '-') || ' ' || coalesce(serial, '-') ||
        ' ' || (expires_at < 'infinity') FROM est.approval_request WHERE id = $Q1")" \
    "pending - - true"

check "DBA approves it (est.approve_request)" dba "SELECT est.approve_request($Q1);"
refused "mark an approved request issued without a certificate" \
    "UPDATE est.approval_request SET status = 'issued', serial = '7E57',
        issued_at = now() WHERE id = :'id'" -v id="$Q1"
is "... still approved" "$(sql "SELECT status FROM est.approval_request WHERE id = $Q1")" approved

# The worker's issuing transaction: certificate, mark issued, audit.
allowed "a worker records a certificate and marks the request issued (one transaction)" "
BEGIN;
INSERT INTO est.certificate (issuer, serial, subject, not_before, not_after, der,
    end_entity, alias)
VALUES ('CN=estca Test', '5EB1A1', 'CN=f-active', now(), now() + interval '1 day',
    '\\x3003020101'::bytea, :'ee', 'wr');
UPDATE est.approval_request SET status = 'issued', serial = '5EB1A1',
    issued_at = CASE WHEN 'issued' = 'issued' THEN now() END WHERE id = :'id';
INSERT INTO est.audit (alias, username, operation, decision, reason, requester, serial)
VALUES ('wr', 'f-active', 'simpleenroll', 'accept', 'test issuance', '127.0.0.1', '5EB1A1');
COMMIT;" -v id="$Q1" -v ee="$EA"
is "... issued with the serial" \
    "$(sql "SELECT status || ' ' || serial FROM est.approval_request WHERE id = $Q1")" "issued 5EB1A1"
refused_as 22023 "reopen an issued request (no such transition)" \
    "UPDATE est.approval_request SET status = 'approved' WHERE id = :'id'" -v id="$Q1"

# An approved request the client did not fetch in time: the worker marks it
# expired, and may not issue it.
Q2=$(web "$(qins)")
Q2=${Q2%%[!0-9]*}
Q2=${Q2:-0}
check "DBA approves another request" dba "SELECT est.approve_request($Q2);"
sql "UPDATE est.approval_request SET expires_at = now() - interval '1 minute' WHERE id = $Q2" >/dev/null
refused "mark an expired approved request issued (with a recorded serial)" \
    "UPDATE est.approval_request SET status = 'issued', serial = '5EB1A1',
        issued_at = now() WHERE id = :'id'" -v id="$Q2"
allowed "a worker marks an expired request expired (estca_db_approval_mark)" \
    "UPDATE est.approval_request SET status = 'expired', serial = NULL,
        issued_at = CASE WHEN 'expired' = 'issued' THEN now() END WHERE id = :'id'" -v id="$Q2"
is "... expired" "$(sql "SELECT status FROM est.approval_request WHERE id = $Q2")" expired

# ---- the audit trail ---------------------------------------------------------

DBA_ROWS=$(sql "SELECT count(*) FROM est.audit WHERE operation LIKE 'dba:%'")
ALL_ROWS=$(sql "SELECT count(*) FROM est.audit")
# ains OPERATION [COLUMNS VALUES]
ains() {
	printf "INSERT INTO est.audit (alias, username, operation, decision, reason,
	    requester, serial%s) VALUES ('wr', 'f-active', '%s', 'accept',
	    'approved request 1 (simpleenroll)', 'dba_alice', NULL%s)" \
	    "${2:+, $2}" "$1" "${3:+, $3}"
}
refused "insert an audit row of operation dba:approve_request" "$(ains dba:approve_request)"
refused "... DBA:approve_request" "$(ains DBA:approve_request)"
refused "... ' dba:approve_request'" "$(ains ' dba:approve_request')"
refused "... dba:unlock_end_entity" "$(ains dba:unlock_end_entity)"
refused "... another prefix (engine:sign)" "$(ains engine:sign)"
refused "insert a backdated audit row" "$(ains simpleenroll at "'2000-01-01'")"
refused "insert an audit row with an explicit id" "$(ains simpleenroll id 999999)"
refused "write a DBA row through est.audit_dba" \
    "SELECT est.audit_dba('wr', 'f-active', 'approve_request', 'forged')"
refused "rewrite the audit trail (UPDATE)" "UPDATE est.audit SET reason = 'nothing happened'"
refused "delete from the audit trail" "DELETE FROM est.audit"
refused "truncate the audit trail" "TRUNCATE est.audit"
is "no audit row added or changed" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation LIKE 'dba:%'") $(sql "SELECT count(*) FROM est.audit")" \
    "$DBA_ROWS $ALL_ROWS"
allowed "a worker writes its audit row (estca_db_audit)" "$(ains serverkeygen)"
is "... dated now, by the database" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'serverkeygen' AND at > now() - interval '5 minutes'")" 1

# ---- end entities ------------------------------------------------------------

refused "raise uses_left (SET uses_left = 1000)" \
    "UPDATE est.end_entity SET uses_left = 1000 WHERE id = :'id'" -v id="$EA"
refused "raise uses_left by one" \
    "UPDATE est.end_entity SET uses_left = uses_left + 1 WHERE id = :'id'" -v id="$EA"
refused "use up two enrollments at once" \
    "UPDATE est.end_entity SET uses_left = uses_left - 2, failed_attempts = 0 WHERE id = :'id'" -v id="$EA"
refused "reset failed_attempts without an enrollment" \
    "UPDATE est.end_entity SET failed_attempts = 0 WHERE id = :'id'" -v id="$EA"
refused "lower failed_attempts" \
    "UPDATE est.end_entity SET failed_attempts = failed_attempts - 1 WHERE id = :'id'" -v id="$EA"
refused "count two failures at once" \
    "UPDATE est.end_entity SET failed_attempts = failed_attempts + 2 WHERE id = :'id'" -v id="$EA"
refused "lock below the alias's limit (2 of 3)" \
    "UPDATE est.end_entity SET failed_attempts = failed_attempts + 1, status = 'locked'
        WHERE id = :'id'" -v id="$EA"
refused "lock without counting a failure" \
    "UPDATE est.end_entity SET status = 'locked' WHERE id = :'id'" -v id="$EA"
refused "disable an end entity" \
    "UPDATE est.end_entity SET status = 'disabled' WHERE id = :'id'" -v id="$EA"
refused "change the enrollment code" \
    "UPDATE est.end_entity SET code_hash = crypt('x', gen_salt('bf')) WHERE id = :'id'" -v id="$EA"
refused "change the allowed subject" \
    "UPDATE est.end_entity SET subject_dn = NULL WHERE id = :'id'" -v id="$EA"
refused "drop the approval requirement" \
    "UPDATE est.end_entity SET require_approval = false WHERE id = :'id'" -v id="$EA"
is "f-active unchanged" "$(ee_state wr f-active)" "2 1 active"

refused "unlock: status active on a locked end entity" \
    "UPDATE est.end_entity SET status = 'active' WHERE id = :'id'" -v id="$EL"
refused "unlock: status active and failed_attempts 0" \
    "UPDATE est.end_entity SET status = 'active', failed_attempts = 0 WHERE id = :'id'" -v id="$EL"
refused "the issue's forgery: uses_left 1000, status active" \
    "UPDATE est.end_entity SET uses_left = 1000, status = 'active' WHERE id = :'id'" -v id="$EL"
refused "use up an enrollment of a locked end entity (clears its failures)" \
    "UPDATE est.end_entity SET uses_left = uses_left - 1, failed_attempts = 0 WHERE id = :'id'" -v id="$EL"
refused "count a failure of a locked end entity" \
    "UPDATE est.end_entity SET failed_attempts = failed_attempts + 1 WHERE id = :'id'" -v id="$EL"
refused "unlock through est.unlock_end_entity" "SELECT est.unlock_end_entity('wr', 'f-locked')"
refused "new uses through est.set_enrollment_code" \
    "SELECT est.set_enrollment_code('wr', 'f-locked', 'my-own-code', 1000)"
is "f-locked unchanged" "$(ee_state wr f-locked)" "1 0 locked"
refused "enable a disabled end entity" \
    "UPDATE est.end_entity SET status = 'active' WHERE id = :'id'" -v id="$ED"
is "f-disabled unchanged" "$(ee_state wr f-disabled)" "1 0 disabled"
refused "register an end entity (INSERT)" \
    "INSERT INTO est.end_entity (alias, username, uses_left) VALUES ('wr', 'f-new', 1000)"
refused "delete an end entity" "DELETE FROM est.end_entity WHERE id = :'id'" -v id="$EL"

# ---- certificates, aliases and the rest ------------------------------------------

sql "UPDATE est.certificate SET revoked_at = now(), revocation_reason = 'keyCompromise'
    WHERE serial = '5EB1A1'" >/dev/null
refused "unrevoke a certificate" \
    "UPDATE est.certificate SET revoked_at = NULL, revocation_reason = NULL WHERE serial = '5EB1A1'"
refused "move a certificate to another end entity" \
    "UPDATE est.certificate SET end_entity = :'id' WHERE serial = '5EB1A1'" -v id="$EG"
refused "delete a certificate" "DELETE FROM est.certificate WHERE serial = '5EB1A1'"
refused "record a certificate as issued long ago" \
    "INSERT INTO est.certificate (issuer, serial, subject, not_before, not_after, der,
        alias, issued_at)
     VALUES ('CN=estca Test', '5EB1A2', 'CN=x', now(), now() + interval '1 day',
        '\\x3003020102'::bytea, 'wr', '2000-01-01')"
refused "record a certificate with an explicit id" \
    "INSERT INTO est.certificate (id, issuer, serial, subject, not_before, not_after, der, alias)
     VALUES (999999, 'CN=estca Test', '5EB1A3', 'CN=x', now(), now() + interval '1 day',
        '\\x3003020103'::bytea, 'wr')"
is "the certificate is still revoked, where it was" \
    "$(sql "SELECT revocation_reason || ' ' || end_entity FROM est.certificate WHERE serial = '5EB1A1'")" \
    "keyCompromise $EA"
refused "raise an alias's failure limit" \
    "UPDATE est.alias SET max_failed_attempts = 1000000 WHERE name = 'wr'"
refused "switch approval off for an alias" \
    "UPDATE est.alias SET require_approval = false WHERE name = 'wrappr'"
refused "record a migration" "INSERT INTO est.schema_migration (version) VALUES (999)"
refused "add an RA role member" \
    "INSERT INTO est.role_member (role, username, password_hash) VALUES (1, 'x', 'y')"
refused "add a vendor CA" \
    "INSERT INTO est.vendor_ca (alias, cert_der, subject) VALUES ('wr', '\\x30'::bytea, 'x')"
refused "move the audit id sequence (setval)" \
    "SELECT setval(pg_get_serial_sequence('est.audit', 'id'), 1000000)"
refused "move the approval id sequence (nextval)" \
    "SELECT nextval(pg_get_serial_sequence('est.approval_request', 'id'))"
refused "create a table in schema est" "CREATE TABLE est.x (i int)"
refused "create a function in schema est" \
    "CREATE FUNCTION est.web_restricted(i int) RETURNS boolean LANGUAGE sql AS 'SELECT false'"
refused "replace the guard function" \
    "CREATE OR REPLACE FUNCTION est.web_restricted() RETURNS boolean LANGUAGE sql AS 'SELECT false'"
refused "switch the triggers off (ALTER TABLE ... DISABLE TRIGGER)" \
    "ALTER TABLE est.end_entity DISABLE TRIGGER ALL"
refused "switch the triggers off (session_replication_role)" \
    "SET session_replication_role = replica"
refused "become estca_dba (SET ROLE)" "SET ROLE estca_dba"
# est.ra_register_end_entity (sql/009): the one way the web role creates an
# end entity, checking the alias's option, limits and the role's quota
# itself (below).
is "the est functions the web role may call: est.web_restricted(), est.ra_register_end_entity, est.record_issue" \
    "$(sql "SELECT string_agg(p.oid::regprocedure::text, ' ' ORDER BY p.oid::regprocedure::text)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'est' AND has_function_privilege('estca_fcgi', p.oid, 'EXECUTE')")" \
    "est.ra_register_end_entity(text,bigint,text,text,text[],text) est.record_issue(text,text,text,timestamp with time zone,timestamp with time zone,bytea,bigint,text,boolean,bigint,text,text,text,text) est.web_restricted()"

# ---- RA registration (sql/009): only within the alias's option and limits ----

check "DBA creates RA alias wrra (registration on: CN=<name>,O=Example, DNS under example.com) and wrra2 (off)" dba "
SELECT est.create_alias('wrra', 'est', 'device', 'ra');
SELECT est.create_alias('wrra2', 'est', 'device', 'ra');
SELECT est.set_alias_ra_register('wrra', true, subject_suffix => ',O=Example',
    san_types => '{DNS}', dns_suffixes => '{example.com}');
SELECT est.create_role('wrraops', 'wrra');
SELECT est.create_role('wrraops2', 'wrra2');
SELECT est.set_role_register_quota('wrraops', 1);
SELECT est.set_role_register_quota('wrraops2', 5);
SELECT est.add_role_member_password('wrraops', 'wr-ra', 'wr-ra-password-1');
SELECT est.add_role_member_password('wrraops2', 'wr-ra2', 'wr-ra-password-2');"
note_secret wr-ra-password-1 wr-ra-password-2
RM=$(sql "SELECT id FROM est.role_member WHERE username = 'wr-ra'")
RM2=$(sql "SELECT id FROM est.role_member WHERE username = 'wr-ra2'")
# reg ALIAS MEMBER NAME SUBJECT SANS
reg_sql="SELECT est.ra_register_end_entity(:'a', :'m', :'n', :'s', :'x'::text[], '127.0.0.1 ra=x')"
refused "register on an alias without the option (wrra2)" "$reg_sql" \
    -v a=wrra2 -v m="$RM2" -v n=r-1 -v s=CN=r-1 -v x='{}'
refused "register on a code alias (wr)" "$reg_sql" \
    -v a=wr -v m="$RM" -v n=r-1 -v s=CN=r-1,O=Example -v x='{}'
refused "register in the name of a member of another alias's role" "$reg_sql" \
    -v a=wrra -v m="$RM2" -v n=r-1 -v s=CN=r-1,O=Example -v x='{}'
refused "register a subject outside the suffix" "$reg_sql" \
    -v a=wrra -v m="$RM" -v n=r-1 -v s=CN=r-1,O=Evil -v x='{}'
refused "register a subject naming someone else" "$reg_sql" \
    -v a=wrra -v m="$RM" -v n=r-1 -v s=CN=r-2,O=Example -v x='{}'
refused "register a SAN type the alias does not allow (IP)" "$reg_sql" \
    -v a=wrra -v m="$RM" -v n=r-1 -v s=CN=r-1,O=Example -v x='{IP:192.0.2.1}'
refused "register a DNS name outside the suffixes" "$reg_sql" \
    -v a=wrra -v m="$RM" -v n=r-1 -v s=CN=r-1,O=Example -v x='{DNS:r-1.evil.net}'
is "... nothing registered" \
    "$(sql "SELECT count(*) FROM est.end_entity WHERE alias IN ('wrra', 'wrra2')")" 0
allowed "register within the limits (what a worker does)" "$reg_sql" \
    -v a=wrra -v m="$RM" -v n=r-1 -v s=CN=r-1,O=Example -v x='{DNS:r-1.example.com}'
is "... registered: one use, no code, by that member" \
    "$(sql "SELECT uses_left || ' ' || (code_hash IS NULL) || ' ' || registered_by
        FROM est.end_entity WHERE alias = 'wrra' AND username = 'r-1'")" "1 true $RM"
refused "register beyond the role's quota" "$reg_sql" \
    -v a=wrra -v m="$RM" -v n=r-3 -v s=CN=r-3,O=Example -v x='{}'
refused "switch RA registration on (est.set_alias_ra_register)" \
    "SELECT est.set_alias_ra_register('wrra2', true)"
refused "raise a role's quota (est.set_role_register_quota)" \
    "SELECT est.set_role_register_quota('wrraops', 1000)"
refused "raise a role's quota (UPDATE est.role)" \
    "UPDATE est.role SET register_quota = 1000 WHERE name = 'wrraops'"
refused "widen an alias's limits (UPDATE est.alias)" \
    "UPDATE est.alias SET ra_register_subject_suffix = '' WHERE name = 'wrra'"
is "... one end entity registered in all, quota still 1" \
    "$(sql "SELECT count(*) FROM est.end_entity WHERE alias IN ('wrra', 'wrra2')") $(sql "SELECT register_quota FROM est.role WHERE name = 'wrraops'")" "1 1"

# ---- the workers' own statements still work -------------------------------------

allowed "a worker locks an end entity row (estca_db_ee_lock)" "
BEGIN;
SELECT e.id, e.username, e.subject_dn, e.code_hash, e.uses_left, e.failed_attempts,
    e.status, e.require_approval, s.san FROM est.end_entity e
  LEFT JOIN LATERAL unnest(e.sans) WITH ORDINALITY AS s(san, i) ON true
 WHERE e.alias = 'wr' AND e.username = 'f-legit' ORDER BY s.i FOR UPDATE OF e;
COMMIT;"
allowed "a worker uses up one enrollment (estca_db_ee_consume)" \
    "UPDATE est.end_entity SET uses_left = uses_left - 1, failed_attempts = 0
        WHERE id = :'id' AND uses_left > 0" -v id="$EG"
is "... one use gone" "$(ee_state wr f-legit)" "1 0 active"
for i in 1 2; do
	allowed "a worker counts failed attempt $i of 3" \
	    "UPDATE est.end_entity SET failed_attempts = failed_attempts + 1,
	        status = CASE WHEN false THEN 'locked' ELSE status END WHERE id = :'id'" -v id="$EG"
done
allowed "a worker counts the third failed attempt and locks" \
    "UPDATE est.end_entity SET failed_attempts = failed_attempts + 1,
        status = CASE WHEN true THEN 'locked' ELSE status END WHERE id = :'id'" -v id="$EG"
is "... locked at the limit" "$(ee_state wr f-legit)" "1 3 locked"
allowed "a worker's no-op update of a locked end entity" \
    "UPDATE est.end_entity SET status = status WHERE id = :'id'" -v id="$EG"
check "DBA unlocks it (est.unlock_end_entity)" dba "SELECT est.unlock_end_entity('wr', 'f-legit');"
allowed "a worker uses up the last enrollment" \
    "UPDATE est.end_entity SET uses_left = uses_left - 1, failed_attempts = 0
        WHERE id = :'id' AND uses_left > 0" -v id="$EG"
is "... none left" "$(ee_state wr f-legit)" "0 0 active"
is "with none left the consume statement changes nothing" \
    "$(web "WITH u AS (UPDATE est.end_entity SET uses_left = uses_left - 1, failed_attempts = 0
        WHERE id = :'id' AND uses_left > 0 RETURNING 1) SELECT count(*) FROM u" -v id="$EG")" 0
check "DBA gives new uses (est.set_enrollment_code)" \
    dba "SELECT est.set_enrollment_code('wr', 'f-legit', 'Fg2-code-xyz', 3);"
is "... three uses" "$(ee_state wr f-legit)" "3 0 active"
check "DBA raises uses_left by hand (SET ROLE estca_dba)" \
    dba "UPDATE est.end_entity SET uses_left = 5, status = 'active' WHERE id = $EL;"
is "... the DBA may" "$(ee_state wr f-locked)" "5 0 active"

# ---- the same through the rig ---------------------------------------------------

CODE_E=We1-$(openssl rand -hex 8)
check "DBA registers dev-e under wr, 2 uses" register dev-e "$CODE_E" 'CN=dev-e' '{}' 2 wr
mkcsr e1 /CN=dev-e '' "$CODE_E"
mkcsr e2 /CN=dev-e '' "$CODE_E"
mkcsr ew /CN=dev-e '' 'wrong-code-77'
is "enrollment: 200" "$(post e1 "$EST/wr/simpleenroll" "$W/e1.b64")" 200
check "... the certificate verifies" certof e1
is "... used one use" "$(ee_state wr dev-e)" "1 0 active"
is "... recorded and audited" \
    "$(sql "SELECT count(*) FROM est.certificate c JOIN est.audit a ON a.serial = c.serial
        WHERE c.serial = '$(serial_of "$W/e1.pem")' AND a.decision = 'accept'")" 1
for i in 1 2; do
	is "wrong code $i: 403" "$(post "ew$i" "$EST/wr/simpleenroll" "$W/ew.b64")" 403
done
is "... two failures counted" "$(ee_state wr dev-e)" "1 2 active"
is "third wrong code: 403" "$(post ew3 "$EST/wr/simpleenroll" "$W/ew.b64")" 403
is "... locked at the alias's limit" "$(ee_state wr dev-e)" "1 3 locked"
is "locked: the right code 403" "$(post e2a "$EST/wr/simpleenroll" "$W/e2.b64")" 403
check "DBA unlocks" dba "SELECT est.unlock_end_entity('wr', 'dev-e');"
is "after unlock: 200" "$(post e2 "$EST/wr/simpleenroll" "$W/e2.b64")" 200
is "... the last use gone" "$(ee_state wr dev-e)" "0 0 active"

CODE_P=Wp1-$(openssl rand -hex 8)
check "DBA registers dev-p under wrappr" register dev-p "$CODE_P" 'CN=dev-p' '{}' 1 wrappr
mkcsr p /CN=dev-p '' "$CODE_P"
is "approval queue: 202" "$(post p1 "$EST/wrappr/simpleenroll" "$W/p.b64")" 202
QP=$(sql "SELECT id FROM est.approval_request WHERE username = 'dev-p'")
is "... queued pending by the worker" \
    "$(sql "SELECT status FROM est.approval_request WHERE id = ${QP:-0}")" pending
check "DBA approves" dba "SELECT est.approve_request(${QP:-0});"
is "retry: 200" "$(post p2 "$EST/wrappr/simpleenroll" "$W/p.b64")" 200
check "... the certificate verifies" certof p2
is "... marked issued by the worker" \
    "$(sql "SELECT status || ' ' || serial FROM est.approval_request WHERE id = ${QP:-0}")" \
    "issued $(serial_of "$W/p2.pem")"
is "... and the use consumed" "$(ee_state wrappr dev-p)" "0 0 active"
CODE_R=Wr1-$(openssl rand -hex 8)
check "DBA registers dev-r under wrappr" register dev-r "$CODE_R" 'CN=dev-r' '{}' 1 wrappr
mkcsr r /CN=dev-r '' "$CODE_R"
is "second request: 202" "$(post r1 "$EST/wrappr/simpleenroll" "$W/r.b64")" 202
QR=$(sql "SELECT id FROM est.approval_request WHERE username = 'dev-r'")
check "DBA rejects (est.reject_request)" dba "SELECT est.reject_request(${QR:-0}, 'unknown device');"
is "retry: 403" "$(post r2 "$EST/wrappr/simpleenroll" "$W/r.b64")" 403
check "DBA revokes (est.revoke_certificate)" \
    dba "SELECT est.revoke_certificate(NULL, '$(serial_of "$W/p2.pem")', 'superseded');"
is "the DBA functions audited as dba:" \
    "$(sql "SELECT count(*) FROM est.audit WHERE requester = 'postgres' AND operation IN
        ('dba:approve_request', 'dba:reject_request', 'dba:revoke_certificate')")" 5

# ---- the record phase (012_record_phase.sql) ------------------------------------

is "est.record_issue runs with the caller's rights (not SECURITY DEFINER)" \
    "$(sql "SELECT prosecdef FROM pg_proc WHERE oid =
        'est.record_issue(text, text, text, timestamptz, timestamptz, bytea, bigint,
         text, boolean, bigint, text, text, text, text)'::regprocedure")" f
# rec SERIAL EE CONSUME APPROVAL OPERATION: the call a worker sends
rec() {
	printf "SELECT est.record_issue('CN=estca Test', '%s', 'CN=dev-e', now(),
	    now() + interval '1 day', decode('%s', 'hex'), %s, 'wr', %s, %s,
	    'dev-e', '%s', 'test issuance', '127.0.0.1')" "$1" "$1" "$2" "$3" "$4" "$5"
}
EE_E=$(ee_id wr dev-e)
refused_as P0001 "record a certificate for an end entity with no use left" \
    "$(rec 5EC0DE01 "$EE_E" true NULL simpleenroll)"
refused "record a certificate with an audit row of operation dba:approve_request" \
    "$(rec 5EC0DE02 "$EE_E" false NULL dba:approve_request)"
refused_as P0001 "record a certificate marking a request issued that does not exist" \
    "$(rec 5EC0DE03 "$EE_E" false 0 simpleenroll)"
is "... none of them left a certificate or an audit row" \
    "$(sql "SELECT count(*) FROM est.certificate WHERE serial LIKE '5EC0DE0_'")/$(sql \
        "SELECT count(*) FROM est.audit WHERE serial LIKE '5EC0DE0_'")" "0/0"
is "... nor used anything up" "$(ee_state wr dev-e)" "0 0 active"
check "DBA gives dev-e one more use" dba \
    "UPDATE est.end_entity SET uses_left = 1 WHERE alias = 'wr' AND username = 'dev-e';"
allowed "a worker records an issued certificate (est.record_issue)" \
    "$(rec 5EC0DE04 "$EE_E" true NULL simpleenroll)"
is "... certificate, audit row and the use consumed" \
    "$(sql "SELECT count(*) FROM est.certificate WHERE serial = '5EC0DE04'")/$(sql \
        "SELECT count(*) FROM est.audit WHERE serial = '5EC0DE04' AND decision = 'accept'") $(ee_state wr dev-e)" \
    "1/1 0 0 active"

done_testing
