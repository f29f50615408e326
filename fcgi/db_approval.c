/*
 * db_approval.c - see db.h.  The rows of the approval queue
 * (est.approval_request): find a queued request, queue one, count an end
 * entity's open requests, mark one issued or expired.  Runs its
 * statements through db_int.h only; decides nothing (policy.c does).
 */
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include "db_int.h"

/* The lookup of estca_db_approval_find (db_int.h). */
const char db_approval_find_sql[] =
    "SELECT id, end_entity, status, expires_at <= now()"
    " FROM est.approval_request"
    " WHERE alias = $1 AND operation = $2 AND csr_sha256 = $3"
    " AND auth = $4 FOR UPDATE";

int
db_approval_parse(const PGresult *res, struct estca_approval_row *row,
    char *detail, size_t detaillen)
{
	memset(row, 0, sizeof(*row));
	if (PQntuples(res) != 1) {
		db_set_detail(detail, detaillen, "approval request", "not queued");
		return ESTCA_ERR_NOT_FOUND;
	}
	if (PQnfields(res) != 4 ||
	    db_get_ll(res, 0, 0, 0x7fffffffffffffffLL, &row->id) != 0 ||
	    (!PQgetisnull(res, 0, 1) &&
	    db_get_ll(res, 0, 1, 0x7fffffffffffffffLL, &row->end_entity) != 0) ||
	    db_get_text(res, 2, row->status, sizeof(row->status)) != 0) {
		db_set_detail(detail, detaillen, "approval request", "row does not fit");
		return ESTCA_ERR_INTERNAL;
	}
	row->expired = db_get_bool(res, 3);
	return 0;
}

int
estca_db_approval_find(struct estca_db *db, const char *alias,
    const char *operation, const unsigned char sha256[32], const char *auth,
    struct estca_approval_row *row, char *detail, size_t detaillen)
{
	const char *params[4] = { alias, operation, NULL, auth };
	char *hash;
	PGresult *res;
	int r;

	memset(row, 0, sizeof(*row));
	if ((hash = db_bytea_hex(sha256, 32)) == NULL)
		return ESTCA_ERR_NOMEM;
	params[2] = hash;
	r = db_exec(db, db_approval_find_sql, 4, params, &res, detail, detaillen);
	OPENSSL_free(hash);
	if (r != 0)
		return r;
	r = db_approval_parse(res, row, detail, detaillen);
	PQclear(res);
	return r;
}

int
estca_db_approval_insert(struct estca_db *db, const struct estca_approval_new *n,
    long long *id, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "INSERT INTO est.approval_request (alias, end_entity, username,"
	    " operation, csr_sha256, csr_der, spki_der, subject, sans, requester,"
	    " auth) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
	    " RETURNING id";
	char idtext[24], *hash = NULL, *csr = NULL, *spki = NULL;
	const char *params[11];
	PGresult *res;
	int r = ESTCA_ERR_NOMEM;

	*id = 0;
	if ((hash = db_bytea_hex(n->sha256, 32)) == NULL ||
	    (n->csr_der != NULL && (csr = db_bytea_hex(n->csr_der, n->csr_len)) == NULL) ||
	    (spki = db_bytea_hex(n->spki_der, n->spki_len)) == NULL)
		goto out;
	snprintf(idtext, sizeof(idtext), "%lld", n->end_entity);
	params[0] = n->alias;
	params[1] = n->end_entity > 0 ? idtext : NULL;
	params[2] = n->username;
	params[3] = n->operation;
	params[4] = hash;
	params[5] = csr;
	params[6] = spki;
	params[7] = n->subject;
	params[8] = n->sans;
	params[9] = n->requester;
	params[10] = n->auth;
	if ((r = db_exec(db, sql, 11, params, &res, detail, detaillen)) != 0)
		goto out;
	if (PQntuples(res) != 1 ||
	    db_get_ll(res, 0, 0, 0x7fffffffffffffffLL, id) != 0) {
		db_set_detail(detail, detaillen, "approval request", "no id returned");
		r = ESTCA_ERR_INTERNAL;
	}
	PQclear(res);
out:
	OPENSSL_free(hash);
	OPENSSL_free(csr);
	OPENSSL_free(spki);
	return r;
}

int
estca_db_approval_open(struct estca_db *db, long long ee_id, long long *n,
    char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT count(*) FROM est.approval_request WHERE end_entity = $1"
	    " AND status IN ('pending', 'approved') AND expires_at > now()";
	char idtext[24];
	const char *params[1] = { idtext };
	PGresult *res;
	int r;

	*n = 0;
	snprintf(idtext, sizeof(idtext), "%lld", ee_id);
	if ((r = db_exec(db, sql, 1, params, &res, detail, detaillen)) != 0)
		return r;
	if (PQntuples(res) != 1 || db_get_ll(res, 0, 0, 0x7fffffff, n) != 0) {
		db_set_detail(detail, detaillen, "approval request", "count failed");
		r = ESTCA_ERR_INTERNAL;
	}
	PQclear(res);
	return r;
}

int
estca_db_approval_mark(struct estca_db *db, long long id, const char *status,
    const char *serial, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "UPDATE est.approval_request SET status = $2, serial = $3,"
	    " issued_at = CASE WHEN $2 = 'issued' THEN now() END WHERE id = $1";
	char idtext[24];
	const char *params[3] = { idtext, status, serial };
	PGresult *res;
	int r;

	snprintf(idtext, sizeof(idtext), "%lld", id);
	if ((r = db_exec(db, sql, 3, params, &res, detail, detaillen)) != 0)
		return r;
	r = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : ESTCA_ERR_INTERNAL;
	PQclear(res);
	if (r != 0)
		db_set_detail(detail, detaillen, "approval request", "not updated");
	return r;
}
