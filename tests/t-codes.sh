#!/bin/bash
# t-codes.sh - enrollment codes the CA generates (est.issue_enrollment_code,
# sql/011_generated_codes.sql) through a whole rig:
#   - the DBA issues a code for a registered end entity and gets it once;
#     the stored hash is the fast salted SHA-256, never the code;
#   - the device enrolls with it (200); a wrong code is a counted failure
#     (403); the code is used up like any other;
#   - a bcrypt code set by est.set_enrollment_code still works beside it;
#   - an unknown end entity gets NULL, and the DBA's action is audited.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql
est_rig_up t-codes

check "DBA registers gen-1 without a code" dba "
SELECT est.register_end_entity('est', 'gen-1', 'CN=gen-1', '{}', NULL, 1);"
CODE=$(dba "SELECT est.issue_enrollment_code('est', 'gen-1', 1);")
note_secret "$CODE"
case $CODE in
[0-9a-f]*) is "the code is 32 hex digits" "${#CODE}" 32 ;;
*) fail "the DBA gets a code" "$CODE" ;;
esac
hash=$(sql "SELECT code_hash FROM est.end_entity WHERE username = 'gen-1'")
case $hash in
'$estca-sha256$'*) ok "the stored hash is the fast salted one" ;;
*) fail "the stored hash is the fast salted one" "$hash" ;;
esac
case $hash in *"$CODE"*) fail "the code is not in its hash" ;; *) ok "the code is not in its hash" ;; esac
is "the issue is audited" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'dba:issue_enrollment_code' AND username = 'gen-1'")" 1

mkcsr bad /CN=gen-1 '' "${CODE%?}x"
is "a wrong code: 403" "$(post bad "$EST/simpleenroll" "$W/bad.b64")" 403
is "... counted" "$(sql "SELECT failed_attempts FROM est.end_entity WHERE username = 'gen-1'")" 1
mkcsr good /CN=gen-1 '' "$CODE"
is "the generated code enrolls: 200" "$(post good "$EST/simpleenroll" "$W/good.b64")" 200
check "... certificate verifies" certof good
is "... and is used up" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'gen-1'")" 0
mkcsr again /CN=gen-1 '' "$CODE"
is "the same code again: 403" "$(post again "$EST/simpleenroll" "$W/again.b64")" 403

HUMAN=Human-$(openssl rand -hex 6)
check "DBA registers gen-2 with a chosen (bcrypt) code" register gen-2 "$HUMAN" 'CN=gen-2' '{}' 1
case $(sql "SELECT code_hash FROM est.end_entity WHERE username = 'gen-2'") in
'$2'*) ok "a chosen code keeps bcrypt" ;;
*) fail "a chosen code keeps bcrypt" ;;
esac
mkcsr human /CN=gen-2 '' "$HUMAN"
is "the chosen code enrolls: 200" "$(post human "$EST/simpleenroll" "$W/human.b64")" 200
is "no such end entity: NULL" "$(dba "SELECT est.issue_enrollment_code('est', 'nobody', 1) IS NULL;")" t

done_testing
