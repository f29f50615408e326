#!/bin/bash
# t-approval.sh - the approval queue (doc/enrollment.md, "Approval")
# through a whole rig:
#   - an alias that requires approval: submission 202 + Retry-After and a
#     queued row (no code, no CSR stored for a code-mode CSR); a retry 202;
#     est.pending_requests lists it; the DBA approves; the retry gets a
#     certificate that verifies, the code is used up then; a further retry
#     403 "already issued";
#   - rejection: 403; a second CSR of an end entity with an open request
#     403; an end entity locked or deleted while queued: 403;
#   - the web server's workers killed between submission and retry: the
#     request survives (it lives in Postgres only);
#   - an end entity requiring approval under an alias that does not;
#   - simplereenroll and serverkeygen (multipart reply) under approval;
#   - ra mode: the RA authenticates again on every retry;
#   - approval past its expiry: 403; the web tier cannot approve;
#   - every step audited; an alias without approval is unchanged.
set -u
. "$(dirname "$0")/lib.sh"
need_root
need_cmd curl openssl psql pgrep
est_rig_up t-approval

status_of() { sql "SELECT status FROM est.approval_request WHERE id = $1"; }

check "DBA creates alias appr (approval required, serverkeygen on)" dba "
SELECT est.create_alias('appr', 'est', 'device', 'challenge_password',
    serverkeygen => true, require_approval => true);"

# ---- submit, wait, approve, fetch ------------------------------------------

CODE_A=Ap1-$(openssl rand -hex 8)
check "DBA registers dev-a" register dev-a "$CODE_A" 'CN=dev-a' '{DNS:dev-a.example}' 1 appr
mkcsr a /CN=dev-a 'DNS:dev-a.example' "$CODE_A"
is "submission: 202" "$(post a1 "$EST/appr/simpleenroll" "$W/a.b64")" 202
is "202 carries Retry-After: 60" "$(header "$W/a1.hdr" Retry-After)" 60
ID_A=$(req_id a1)
case $ID_A in
[1-9]*) ok "202 body names the request ($(reason_of a1))" ;;
*) fail "202 body names the request" "$(cat "$W/a1.body")" ;;
esac
is "queued row: pending, operation, end entity" \
    "$(sql "SELECT r.status || ' ' || r.operation || ' ' || e.username FROM est.approval_request r
        JOIN est.end_entity e ON e.id = r.end_entity WHERE r.id = ${ID_A:-0}")" \
    "pending simpleenroll dev-a"
is "the queue keeps the CSR's SHA-256" \
    "$(sql "SELECT encode(csr_sha256, 'hex') FROM est.approval_request WHERE id = ${ID_A:-0}")" \
    "$(sha256sum "$W/a.der" | cut -c1-64)"
is "a CSR carrying the code is not stored, only its key and subject" \
    "$(sql "SELECT (csr_der IS NULL)::text || ' ' || subject || ' ' || sans FROM est.approval_request WHERE id = ${ID_A:-0}")" \
    "true CN=dev-a DNS:dev-a.example"
is "the code is not used up while pending" \
    "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-a'")" 1
is "no certificate issued while pending" \
    "$(sql "SELECT count(*) FROM est.certificate WHERE alias = 'appr'")" 0
is "submission audited" \
    "$(sql "SELECT count(*) FROM est.audit WHERE alias = 'appr' AND operation = 'simpleenroll'
        AND decision = 'accept' AND reason LIKE '%queued for approval as request ${ID_A:-0}'")" 1

# The same CSR with other line breaks (DER identical) is the same request.
tr -d '\n' <"$W/a.b64" >"$W/a.oneline"
is "retry while pending: 202" "$(post a2 "$EST/appr/simpleenroll" "$W/a.oneline")" 202
is "retry names the same request" "$(req_id a2)" "$ID_A"
is "retry does not queue again" \
    "$(sql "SELECT count(*) FROM est.approval_request WHERE alias = 'appr'")" 1

# A different CSR for the same end entity while one is open: 403.
mkcsr a_other /CN=dev-a 'DNS:dev-a.example' "$CODE_A"
is "second CSR of the end entity while one is pending: 403" \
    "$(post a3 "$EST/appr/simpleenroll" "$W/a_other.b64")" 403
is "... reason" "$(reason_of a3)" "another request of this end entity is waiting for approval"

# Restart the web tier's workers: the queue is in Postgres only.
pids=$(pgrep -f "$ESTCA_RIG_DIR/bin/estca-fcgi" | tr '\n' ' ')
if [ -n "$pids" ]; then
	# shellcheck disable=SC2086
	kill $pids
	gone() { local p; for p in $pids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
	if wait_until 10 gone; then ok "estca-fcgi workers killed ($pids)"; else
		fail "estca-fcgi workers killed" "still running: $pids"; fi
else
	fail "estca-fcgi workers found"
fi
is "retry after the workers restarted: still 202" \
    "$(post a4 "$EST/appr/simpleenroll" "$W/a.b64")" 202
is "... the same request" "$(req_id a4)" "$ID_A"

is "est.pending_requests lists it" \
    "$(dba "SELECT id || ' ' || alias || ' ' || username || ' ' || operation FROM est.pending_requests")" \
    "$ID_A appr dev-a simpleenroll"
dba "SELECT public_key FROM est.pending_requests WHERE id = $ID_A" >"$W/a.pub.pem"
is "... with the CSR's public key" "$(openssl pkey -pubin -in "$W/a.pub.pem" -pubout 2>/dev/null)" \
    "$(openssl pkey -in "$W/a.key" -pubout)"

# The web tier may not decide.
out=$(psql -X -q -At -v ON_ERROR_STOP=1 "$ESTCA_PGURI" -c "SET ROLE estca_fcgi;
    UPDATE est.approval_request SET status = 'approved' WHERE id = $ID_A" 2>&1)
case $out in
*"only est.approve_request / est.reject_request decide a request"*)
	ok "the web tier's role cannot approve" ;;
*) fail "the web tier's role cannot approve" "$out" ;;
esac

check "DBA approves" dba "SELECT est.approve_request($ID_A);"
is "approval audited" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'dba:approve_request'
        AND reason LIKE 'approved request $ID_A %'")" 1
if dba "SELECT est.approve_request($ID_A);" >/dev/null 2>&1; then
	fail "approving twice is an error"
else
	ok "approving twice is an error"
fi
is "retry after approval: 200" "$(post a5 "$EST/appr/simpleenroll" "$W/a.b64")" 200
check "the certificate verifies against the CA" certof a5
check "it certifies the CSR's key" cmp -s \
    <(openssl x509 -in "$W/a5.pem" -noout -pubkey) <(openssl pkey -in "$W/a.key" -pubout)
SA=$(serial_of "$W/a5.pem")
is "request marked issued with the serial" "$(sql "SELECT status || ' ' || serial FROM est.approval_request WHERE id = $ID_A")" \
    "issued $SA"
is "the code is used up at issuance" \
    "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-a'")" 0
is "issuance audited" \
    "$(sql "SELECT count(*) FROM est.audit WHERE serial = '$SA' AND decision = 'accept'
        AND reason LIKE '%(approved request $ID_A)'")" 1
is "retry after issuance: 403" "$(post a6 "$EST/appr/simpleenroll" "$W/a.b64")" 403
is "... reason" "$(reason_of a6)" "request already issued; send a new request"
is "one certificate for the request" "$(sql "SELECT count(*) FROM est.certificate WHERE alias = 'appr'")" 1

# ---- rejection ---------------------------------------------------------------

CODE_B=Ap2-$(openssl rand -hex 8)
check "DBA registers dev-b" register dev-b "$CODE_B" 'CN=dev-b' '{}' 1 appr
mkcsr b /CN=dev-b '' "$CODE_B"
is "submission: 202" "$(post b1 "$EST/appr/simpleenroll" "$W/b.b64")" 202
ID_B=$(req_id b1)
check "DBA rejects" dba "SELECT est.reject_request($ID_B, 'unknown device');"
is "retry after rejection: 403" "$(post b2 "$EST/appr/simpleenroll" "$W/b.b64")" 403
is "... reason" "$(reason_of b2)" "request rejected"
is "rejection audited with its reason" \
    "$(sql "SELECT count(*) FROM est.audit WHERE operation = 'dba:reject_request'
        AND reason = 'rejected request $ID_B (simpleenroll): unknown device'")" 1
is "the code is not used up" "$(sql "SELECT uses_left FROM est.end_entity WHERE username = 'dev-b'")" 1
if dba "SELECT est.approve_request($ID_B);" >/dev/null 2>&1; then
	fail "a rejected request cannot be approved"
else
	ok "a rejected request cannot be approved"
fi
mkcsr b_new /CN=dev-b '' "$CODE_B"
is "after a rejection a new CSR is a new request: 202" \
    "$(post b3 "$EST/appr/simpleenroll" "$W/b_new.b64")" 202

# ---- the end entity changes while queued ------------------------------------

CODE_C=Ap3-$(openssl rand -hex 8)
check "DBA registers dev-c" register dev-c "$CODE_C" 'CN=dev-c' '{}' 1 appr
mkcsr c /CN=dev-c '' "$CODE_C"
is "dev-c submission: 202" "$(post c1 "$EST/appr/simpleenroll" "$W/c.b64")" 202
ID_C=$(req_id c1)
check "DBA approves dev-c's request, then disables dev-c" dba "
SELECT est.approve_request($ID_C);
SELECT est.update_end_entity('appr', 'dev-c', status => 'disabled');"
is "approved, end entity disabled: 403" "$(post c2 "$EST/appr/simpleenroll" "$W/c.b64")" 403
is "nothing issued to dev-c" \
    "$(sql "SELECT count(*) FROM est.certificate c JOIN est.end_entity e ON e.id = c.end_entity
        WHERE e.username = 'dev-c'")" 0
check "DBA deletes dev-c" dba "SELECT est.delete_end_entity('appr', 'dev-c');"
is "approved, end entity deleted: 403" "$(post c3 "$EST/appr/simpleenroll" "$W/c.b64")" 403
# The code is proven again on every retry, and a deleted end entity has
# none: the answer is the one that names nobody.
is "... reason" "$(reason_of c3)" "unknown end entity or wrong enrollment code"

CODE_L=Ap4-$(openssl rand -hex 8)
check "DBA registers dev-l" register dev-l "$CODE_L" 'CN=dev-l' '{}' 1 appr
mkcsr l /CN=dev-l '' "$CODE_L"
is "dev-l submission: 202" "$(post l1 "$EST/appr/simpleenroll" "$W/l.b64")" 202
check "DBA locks dev-l" dba "SELECT est.update_end_entity('appr', 'dev-l', status => 'locked');"
is "pending, end entity locked: 403" "$(post l2 "$EST/appr/simpleenroll" "$W/l.b64")" 403
check "DBA unlocks dev-l" dba "SELECT est.unlock_end_entity('appr', 'dev-l');"
is "unlocked: pending again, 202" "$(post l3 "$EST/appr/simpleenroll" "$W/l.b64")" 202

# ---- expiry ------------------------------------------------------------------

ID_L=$(req_id l1)
sql "UPDATE est.approval_request SET expires_at = now() - interval '1 second' WHERE id = $ID_L" >/dev/null
is "pending past its expiry: 403" "$(post l4 "$EST/appr/simpleenroll" "$W/l.b64")" 403
is "... reason" "$(reason_of l4)" "approval request expired; send a new request"
is "... marked expired" "$(status_of "$ID_L")" expired
if dba "SELECT est.approve_request($ID_L);" >/dev/null 2>&1; then
	fail "an expired request cannot be approved"
else
	ok "an expired request cannot be approved"
fi

# ---- an end entity that requires approval under an alias that does not ----

CODE_E=Ap5-$(openssl rand -hex 8)
check "DBA registers dev-e under est and requires approval for it" register dev-e "$CODE_E" 'CN=dev-e' '{}' 2 est
check "... set_end_entity_approval" dba "SELECT est.set_end_entity_approval('est', 'dev-e', true);"
mkcsr e /CN=dev-e '' "$CODE_E"
is "end entity requiring approval: 202" "$(post e1 "$EST/simpleenroll" "$W/e.b64")" 202
ID_E=$(req_id e1)
check "DBA approves" dba "SELECT est.approve_request($ID_E);"
is "retry: 200" "$(post e2 "$EST/simpleenroll" "$W/e.b64")" 200
check "certificate verifies" certof e2

# ---- simplereenroll under approval -------------------------------------------

mkcsr r /CN=dev-e '' ''
is "renewal of an end entity requiring approval: 202" \
    "$(post r1 "$EST/simplereenroll" "$W/r.b64" --cert "$W/e2.pem" --key "$W/e.key")" 202
ID_R=$(req_id r1)
is "renewal queued as simplereenroll, CSR kept (no code in it)" \
    "$(sql "SELECT operation || ' ' || (csr_der IS NOT NULL)::text FROM est.approval_request WHERE id = ${ID_R:-0}")" \
    "simplereenroll true"
is "renewal retry without the client certificate: 403" \
    "$(post r2 "$EST/simplereenroll" "$W/r.b64")" 403
check "DBA approves" dba "SELECT est.approve_request($ID_R);"
is "renewal retry after approval: 200" \
    "$(post r3 "$EST/simplereenroll" "$W/r.b64" --cert "$W/e2.pem" --key "$W/e.key")" 200
check "renewed certificate verifies" certof r3

# ---- serverkeygen under approval ---------------------------------------------

CODE_K=Ap6-$(openssl rand -hex 8)
check "DBA registers dev-k" register dev-k "$CODE_K" 'CN=dev-k' '{}' 1 appr
mkcsr k /CN=dev-k '' "$CODE_K"
is "serverkeygen submission: 202" "$(post k1 "$EST/appr/serverkeygen" "$W/k.b64")" 202
ID_K=$(req_id k1)
is "queued as serverkeygen" "$(sql "SELECT operation FROM est.approval_request WHERE id = ${ID_K:-0}")" serverkeygen
is "the same CSR to simpleenroll is another request, refused while one is open" \
    "$(post k1b "$EST/appr/simpleenroll" "$W/k.b64")" 403
check "DBA approves" dba "SELECT est.approve_request($ID_K);"
is "serverkeygen retry after approval: 200" "$(post k2 "$EST/appr/serverkeygen" "$W/k.b64")" 200
case $(header "$W/k2.hdr" Content-Type) in
"multipart/mixed; boundary="*) ok "reply is multipart/mixed" ;;
*) fail "reply is multipart/mixed" "$(cat "$W/k2.hdr")" ;;
esac
b=$(header "$W/k2.hdr" Content-Type | sed -n 's/.*boundary=//p')
awk -v b="--$b" '$0 ~ "^"b { n++; skip = 1; next } skip && /^\r?$/ { skip = 0; next }
    !skip && n == 1 { print > "'"$W"'/k2.part1" } !skip && n == 2 { print > "'"$W"'/k2.part2" }' \
    <(tr -d '\r' <"$W/k2.body")
{ echo "-----BEGIN PRIVATE KEY-----"; cat "$W/k2.part1"; echo "-----END PRIVATE KEY-----"; } >"$W/k2.key.pem"
if openssl base64 -d -in "$W/k2.part2" -out "$W/k2.p7" &&
    openssl pkcs7 -inform DER -in "$W/k2.p7" -print_certs -out "$W/k2.pem" &&
    openssl verify -CAfile "$ESTCA_CA_CHAIN" "$W/k2.pem" >/dev/null &&
    [ "$(openssl pkey -in "$W/k2.key.pem" -pubout | sha256sum)" = \
      "$(openssl x509 -in "$W/k2.pem" -noout -pubkey | sha256sum)" ]; then
	ok "generated key matches the certificate, which verifies"
else
	fail "generated key matches the certificate, which verifies"
fi
is "serverkeygen retry after issuance: 403" "$(post k3 "$EST/appr/serverkeygen" "$W/k.b64")" 403

# ---- RA mode: the RA authenticates on every retry -------------------------------

check "DBA creates alias raappr (ra mode, approval) with an RA" dba "
SELECT est.create_alias('raappr', 'est', 'device', 'ra', require_approval => true);
SELECT est.create_role('raappr-ops', 'raappr');
SELECT est.add_role_member_password('raappr-ops', 'ra-admin', 'ra-secret-pw');"
check "DBA registers dev-q (no code)" dba \
    "SELECT est.register_end_entity('raappr', 'dev-q', 'CN=dev-q', '{}', NULL);"
mkcsr q /CN=dev-q '' ''
is "RA submission: 202" "$(post q1 "$EST/raappr/simpleenroll" "$W/q.b64" -u ra-admin:ra-secret-pw)" 202
ID_Q=$(req_id q1)
is "RA mode keeps the whole CSR" \
    "$(sql "SELECT encode(csr_der, 'hex') FROM est.approval_request WHERE id = ${ID_Q:-0}")" \
    "$(od -An -v -tx1 "$W/q.der" | tr -d ' \n')"
is "retry without RA credentials: 401" "$(post q2 "$EST/raappr/simpleenroll" "$W/q.b64")" 401
check "DBA approves" dba "SELECT est.approve_request($ID_Q);"
is "retry with a wrong RA password: 401" \
    "$(post q3 "$EST/raappr/simpleenroll" "$W/q.b64" -u ra-admin:wrong-password)" 401
is "retry by the RA after approval: 200" \
    "$(post q4 "$EST/raappr/simpleenroll" "$W/q.b64" -u ra-admin:ra-secret-pw)" 200
check "certificate verifies" certof q4

# ---- audit and secrets ---------------------------------------------------------

is "every issuance from the queue is audited" \
    "$(sql "SELECT count(*) FROM est.audit WHERE decision = 'accept' AND reason LIKE '%(approved request %'")" 5
leak=0
for c in "$CODE_A" "$CODE_B" "$CODE_C" "$CODE_K"; do
	if grep -raFl --exclude-dir=t-approval --exclude=secrets.list -- "$c" "$ESTCA_RIG_DIR"; then leak=1; fi
	n=$(sql "SELECT count(*) FROM est.approval_request WHERE position(convert_to('$c', 'UTF8') in coalesce(csr_der, ''::bytea)) > 0")
	[ "$n" = 0 ] || leak=1
done
is "no enrollment code in the queue, a log or a rig file" "$leak" 0

# ---- an alias without approval behaves as before --------------------------------

CODE_N=Ap7-$(openssl rand -hex 8)
check "DBA registers dev-n under est" register dev-n "$CODE_N" 'CN=dev-n' '{}' 1 est
mkcsr n /CN=dev-n '' "$CODE_N"
is "alias without approval: 200 at once" "$(post n1 "$EST/simpleenroll" "$W/n.b64")" 200
check "certificate verifies" certof n1
is "nothing queued for it" "$(sql "SELECT count(*) FROM est.approval_request WHERE username = 'dev-n'")" 0

done_testing
