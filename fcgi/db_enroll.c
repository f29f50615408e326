/*
 * db_enroll.c - see db.h.  The rows an enrollment reads and writes: the
 * end entity (locked for the request, a failure counted, a use consumed),
 * the certificates issued (recorded, their state looked up) and est.audit.
 * Runs its statements through db_int.h only; never sees an enrollment
 * code, only the stored hash, which the caller checks.
 */
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include "db_int.h"

void
estca_db_ee_clear(struct estca_end_entity *ee)
{
	for (size_t i = 0; i < ee->nsans; i++)
		OPENSSL_free(ee->sans[i]);
	OPENSSL_cleanse(ee, sizeof(*ee));
}

/* The end entity lookups of estca_db_ee_lock: one row per registered SAN
 * (one with a NULL san when none), in the order the DBA gave them; only
 * the end entity row is locked. */
#define EE_LOOKUP \
    "SELECT e.id, e.username, e.subject_dn, e.code_hash, e.uses_left," \
    " e.failed_attempts, e.status, e.require_approval, s.san" \
    " FROM est.end_entity e" \
    " LEFT JOIN LATERAL unnest(e.sans) WITH ORDINALITY AS s(san, i) ON true"
static const char ee_by_name[] = EE_LOOKUP
    " WHERE e.alias = $1 AND e.username = $2 ORDER BY s.i FOR UPDATE OF e";
static const char ee_by_id[] = EE_LOOKUP
    " WHERE e.id = $1 ORDER BY s.i FOR UPDATE OF e";

/* The rows of an end entity lookup into *ee: 0, ESTCA_ERR_NOT_FOUND, or
 * an error (detail says which).  Does not clear res. */
static int
ee_parse(const PGresult *res, struct estca_end_entity *ee, char *detail,
    size_t detaillen)
{
	long long v;
	int r, n;

	memset(ee, 0, sizeof(*ee));
	n = PQntuples(res);
	if (n == 0) {
		db_set_detail(detail, detaillen, "end entity", "not registered");
		return ESTCA_ERR_NOT_FOUND;
	}
	r = ESTCA_ERR_INTERNAL;
	if (PQnfields(res) != 9 || n > ESTCA_DB_SANS_MAX ||
	    db_get_ll(res, 0, 0, 0x7fffffffffffffffLL, &ee->id) != 0 ||
	    db_get_text(res, 1, ee->username, sizeof(ee->username)) != 0 ||
	    db_get_text(res, 2, ee->subject_dn, sizeof(ee->subject_dn)) != 0 ||
	    db_get_text(res, 3, ee->code_hash, sizeof(ee->code_hash)) != 0 ||
	    db_get_ll(res, 0, 4, 0x7fffffff, &v) != 0)
		goto bad;
	ee->uses_left = (int)v;
	if (db_get_ll(res, 0, 5, 0x7fffffff, &v) != 0 ||
	    db_get_text(res, 6, ee->status, sizeof(ee->status)) != 0)
		goto bad;
	ee->failed_attempts = (int)v;
	ee->require_approval = db_get_bool(res, 7);
	ee->has_subject_dn = !PQgetisnull(res, 0, 2);
	ee->has_code = !PQgetisnull(res, 0, 3) && ee->code_hash[0] != 0;
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 8))
			continue;
		if ((ee->sans[ee->nsans] = OPENSSL_strdup(PQgetvalue(res, i, 8))) == NULL) {
			r = ESTCA_ERR_NOMEM;
			goto bad;
		}
		ee->nsans++;
	}
	return 0;
bad:
	estca_db_ee_clear(ee);
	db_set_detail(detail, detaillen, "end entity",
	    r == ESTCA_ERR_NOMEM ? "out of memory" : "row does not fit (schema mismatch?)");
	return r;
}

int
estca_db_ee_lock(struct estca_db *db, const char *alias, const char *username,
    long long id, struct estca_end_entity *ee, char *detail, size_t detaillen)
{
	char idtext[24];
	const char *params[2];
	PGresult *res;
	int r, n;

	memset(ee, 0, sizeof(*ee));
	if (username != NULL) {
		params[0] = alias;
		params[1] = username;
		n = 2;
	} else {
		snprintf(idtext, sizeof(idtext), "%lld", id);
		params[0] = idtext;
		n = 1;
	}
	r = db_exec(db, username != NULL ? ee_by_name : ee_by_id, n, params,
	    &res, detail, detaillen);
	if (r != 0)
		return r;
	r = ee_parse(res, ee, detail, detaillen);
	PQclear(res);
	return r;
}

int
estca_db_ee_lock_queued(struct estca_db *db, const char *alias,
    const char *username, struct estca_end_entity *ee, int *ee_r,
    const char *operation, const unsigned char sha256[32], const char *auth,
    struct estca_approval_row *row, int *row_r, char *detail,
    size_t detaillen)
{
	const char *ee_params[2] = { alias, username };
	const char *q_params[4];
	struct db_stmt st[2] = {
		{ ee_by_name, 2, ee_params },
		{ db_approval_find_sql, 4, q_params },
	};
	PGresult *res[2];
	char *hash;
	int r;

	memset(ee, 0, sizeof(*ee));
	memset(row, 0, sizeof(*row));
	*ee_r = *row_r = ESTCA_ERR_NOT_FOUND;
	if ((hash = db_bytea_hex(sha256, 32)) == NULL)
		return ESTCA_ERR_NOMEM;
	q_params[0] = alias;
	q_params[1] = operation;
	q_params[2] = hash;
	q_params[3] = auth;
	r = db_exec_many(db, 2, st, res, NULL, NULL, 0, detail, detaillen);
	OPENSSL_free(hash);
	if (r != 0)
		return r;
	*ee_r = ee_parse(res[0], ee, detail, detaillen);
	*row_r = db_approval_parse(res[1], row, detail, detaillen);
	PQclear(res[0]);
	PQclear(res[1]);
	if (*ee_r != 0 && *ee_r != ESTCA_ERR_NOT_FOUND)
		r = *ee_r;
	else if (*row_r != 0 && *row_r != ESTCA_ERR_NOT_FOUND)
		r = *row_r;
	if (r != 0)
		estca_db_ee_clear(ee);
	return r;
}

int
estca_db_ee_failed(struct estca_db *db, long long id, bool lock, char *detail,
    size_t detaillen)
{
	static const char sql[] =
	    "UPDATE est.end_entity SET failed_attempts = failed_attempts + 1,"
	    " status = CASE WHEN $2 THEN 'locked' ELSE status END"
	    " WHERE id = $1";
	char idtext[24];
	const char *params[2] = { idtext, lock ? "true" : "false" };

	snprintf(idtext, sizeof(idtext), "%lld", id);
	return db_run(db, sql, 2, params, detail, detaillen);
}

int
estca_db_cert_state(struct estca_db *db, const unsigned char sha256[32],
    struct estca_cert_state *st, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT alias, revoked_at IS NOT NULL, not_after <= now(), end_entity"
	    " FROM est.certificate WHERE cert_sha256 = $1";
	const char *params[1];
	char *hash;
	PGresult *res;
	int r;

	memset(st, 0, sizeof(*st));
	if ((hash = db_bytea_hex(sha256, 32)) == NULL)
		return ESTCA_ERR_NOMEM;
	params[0] = hash;
	r = db_exec(db, sql, 1, params, &res, detail, detaillen);
	OPENSSL_free(hash);
	if (r != 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_set_detail(detail, detaillen, "certificate", "not recorded");
		return ESTCA_ERR_NOT_FOUND;
	}
	if (PQnfields(res) != 4 || db_get_text(res, 0, st->alias, sizeof(st->alias)) != 0 ||
	    (!PQgetisnull(res, 0, 3) &&
	    db_get_ll(res, 0, 3, 0x7fffffffffffffffLL, &st->end_entity) != 0)) {
		PQclear(res);
		db_set_detail(detail, detaillen, "certificate", "row does not fit");
		return ESTCA_ERR_INTERNAL;
	}
	st->revoked = db_get_bool(res, 1);
	st->expired = db_get_bool(res, 2);
	PQclear(res);
	return 0;
}

/*
 * Record an issued certificate (012_record_phase.sql: est.record_issue)
 * and COMMIT, in one round trip.
 */
int
estca_db_record_issue(struct estca_db *db, const struct estca_cert_row *c,
    bool consume, long long approval_id, const struct estca_audit_row *a,
    char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT est.record_issue($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
	    " $11, $12, $13, $14)";
	char eetext[24], aptext[24], *der;
	const char *params[14];
	struct db_stmt st = { sql, 14, params };
	PGresult *res;
	int r;

	if ((der = db_bytea_hex(c->der, c->derlen)) == NULL)
		return ESTCA_ERR_NOMEM;
	snprintf(eetext, sizeof(eetext), "%lld", c->end_entity);
	snprintf(aptext, sizeof(aptext), "%lld", approval_id);
	params[0] = c->issuer;
	params[1] = c->serial;
	params[2] = c->subject;
	params[3] = c->not_before;
	params[4] = c->not_after;
	params[5] = der;
	params[6] = c->end_entity > 0 ? eetext : NULL;
	params[7] = c->alias;
	params[8] = consume ? "true" : "false";
	params[9] = approval_id > 0 ? aptext : NULL;
	params[10] = a->username;
	params[11] = a->operation;
	params[12] = a->reason;
	params[13] = a->requester;
	r = db_exec_commit(db, &st, &res, detail, detaillen);
	OPENSSL_free(der);
	if (r == 0)
		PQclear(res);
	return r;
}

int
estca_db_audit(struct estca_db *db, const struct estca_audit_row *a,
    char *detail, size_t detaillen)
{
	static const char sql[] =
	    "INSERT INTO est.audit (alias, username, operation, decision, reason,"
	    " requester, serial) VALUES ($1, $2, $3, $4, $5, $6, $7)";
	const char *params[7] = { a->alias, a->username, a->operation,
	    a->accept ? "accept" : "refuse", a->reason, a->requester, a->serial };

	return db_run(db, sql, 7, params, detail, detaillen);
}

/* sans as a Postgres text[] literal ({"a","b"}, each element quoted with
 * " and \ escaped); NULL when out of memory. */
static char *
text_array(const char *const *v, size_t n)
{
	size_t len = 3;
	char *s, *p;

	for (size_t i = 0; i < n; i++)
		len += 2 * strlen(v[i]) + 3;
	if ((s = p = OPENSSL_malloc(len)) == NULL)
		return NULL;
	*p++ = '{';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			*p++ = ',';
		*p++ = '"';
		for (const char *c = v[i]; *c != 0; c++) {
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = 0;
	return s;
}

int
estca_db_ra_register(struct estca_db *db, const char *alias,
    long long member_id, const char *username, const char *subject,
    const char *const *sans, size_t nsans, const char *requester,
    long long *id, char *reason, size_t reasonlen, char *detail,
    size_t detaillen)
{
	static const char sql[] =
	    "SELECT est.ra_register_end_entity($1, $2, $3, $4, $5::text[], $6)";
	char idtext[24], state[6], *arr;
	const char *params[6];
	PGresult *res;
	int r;

	*id = 0;
	if ((arr = text_array(sans, nsans)) == NULL)
		return ESTCA_ERR_NOMEM;
	snprintf(idtext, sizeof(idtext), "%lld", member_id);
	params[0] = alias;
	params[1] = idtext;
	params[2] = username;
	params[3] = subject;
	params[4] = arr;
	params[5] = requester;
	r = db_exec_state(db, sql, 6, params, &res, state, reason, reasonlen,
	    detail, detaillen);
	OPENSSL_free(arr);
	if (r != 0)
		return strcmp(state, "42501") == 0 ? ESTCA_ERR_REFUSED : r;
	if (PQntuples(res) != 1 || PQnfields(res) != 1) {
		PQclear(res);
		db_set_detail(detail, detaillen, "ra_register", "unexpected result");
		return ESTCA_ERR_INTERNAL;
	}
	if (PQgetisnull(res, 0, 0)) {
		PQclear(res);
		db_set_detail(detail, detaillen, "ra_register", "registered meanwhile");
		return ESTCA_ERR_NOT_FOUND;
	}
	r = db_get_ll(res, 0, 0, 0x7fffffffffffffffLL, id);
	PQclear(res);
	if (r != 0)
		db_set_detail(detail, detaillen, "ra_register", "bad id");
	return r;
}
