/*
 * db.c - see db.h.  Owns the worker's PGconn and every SQL statement the
 * web tier runs.  Statements go through PQexecParams only, values as
 * parameters, never spliced into SQL text; every PGresult is cleared on
 * the path that got it.  Never sends an enrollment code or password to the
 * server (statement logs would keep it): hashes are fetched and checked here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include "db.h"

struct estca_db {
	char *conninfo;
	PGconn *conn;
};

int
estca_db_open(const char *conninfo, struct estca_db **out)
{
	struct estca_db *db;

	*out = NULL;
	if ((db = OPENSSL_zalloc(sizeof(*db))) == NULL)
		return ESTCA_ERR_NOMEM;
	if ((db->conninfo = OPENSSL_strdup(conninfo)) == NULL) {
		OPENSSL_free(db);
		return ESTCA_ERR_NOMEM;
	}
	*out = db;
	return 0;
}

void
estca_db_close(struct estca_db *db)
{
	if (db == NULL)
		return;
	if (db->conn != NULL)
		PQfinish(db->conn);
	/* the conninfo may hold a password */
	OPENSSL_clear_free(db->conninfo, strlen(db->conninfo));
	OPENSSL_free(db);
}

/* Copy a libpq message (may end in newlines) into detail. */
static void
set_detail(char *detail, size_t len, const char *what, const char *msg)
{
	size_t n;

	if (len == 0)
		return;
	snprintf(detail, len, "%s: %s", what, msg != NULL ? msg : "(no message)");
	n = strlen(detail);
	while (n > 0 && (detail[n - 1] == '\n' || detail[n - 1] == ' '))
		detail[--n] = 0;
}

static void
drop(struct estca_db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
}

static int
db_connect(struct estca_db *db, char *detail, size_t len)
{
	/*
	 * Keywords are applied in order, so the defaults placed before
	 * dbname (the operator's conninfo) can be overridden by it.
	 */
	const char *const kw[] = { "connect_timeout", "fallback_application_name",
	    "dbname", NULL };
	const char *const val[] = { "10", "estca-fcgi", db->conninfo, NULL };

	if (db->conn != NULL)
		return 0;
	db->conn = PQconnectdbParams(kw, val, 1);
	if (db->conn == NULL) {
		set_detail(detail, len, "postgres connect", "out of memory");
		return ESTCA_ERR_UNAVAILABLE;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		set_detail(detail, len, "postgres connect", PQerrorMessage(db->conn));
		drop(db);
		return ESTCA_ERR_UNAVAILABLE;
	}
	return 0;
}

/*
 * SQLSTATE classes that mean "try again later": connection exceptions (08),
 * insufficient resources (53), operator intervention such as a shutdown in
 * progress (57P0x), serialization failures / deadlocks (40001, 40P01) and
 * lock timeouts (55P03).
 */
static int
transient_sqlstate(const char *s)
{
	if (s == NULL)
		return 0;
	return strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 ||
	    strncmp(s, "57P", 3) == 0 || strcmp(s, "40001") == 0 ||
	    strcmp(s, "40P01") == 0 || strcmp(s, "55P03") == 0;
}

/*
 * Run one statement with text parameters.  On success *res holds a result
 * with tuples or a command status; the caller PQclears it.  On failure
 * *res is NULL and nothing is left to clear.
 */
static int
db_exec(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *detail, size_t len)
{
	*res = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *pr;
		ExecStatusType st;
		const char *state;
		int r, kept = db->conn != NULL, idle;

		if ((r = db_connect(db, detail, len)) != 0)
			return r;
		idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
		pr = PQexecParams(db->conn, sql, nparams, NULL, params, NULL,
		    NULL, 0);
		st = pr != NULL ? PQresultStatus(pr) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			*res = pr;
			return 0;
		}
		if (PQstatus(db->conn) == CONNECTION_BAD) {
			set_detail(detail, len, "postgres", PQerrorMessage(db->conn));
			PQclear(pr);
			drop(db);
			/* A kept connection went stale: one fresh try. */
			if (kept && idle && attempt == 0)
				continue;
			return ESTCA_ERR_UNAVAILABLE;
		}
		state = pr != NULL ? PQresultErrorField(pr, PG_DIAG_SQLSTATE) : NULL;
		r = transient_sqlstate(state) ? ESTCA_ERR_UNAVAILABLE :
		    ESTCA_ERR_INTERNAL;
		set_detail(detail, len, "postgres",
		    pr != NULL ? PQresultErrorMessage(pr) : PQerrorMessage(db->conn));
		PQclear(pr);
		return r;
	}
	return ESTCA_ERR_UNAVAILABLE;
}

/* Copy column col of row 0 into dst; NULL gives "". */
static int
get_text(const PGresult *res, int col, char *dst, size_t dstlen)
{
	const char *v;
	size_t n;

	if (PQgetisnull(res, 0, col)) {
		dst[0] = 0;
		return 0;
	}
	v = PQgetvalue(res, 0, col);
	n = strlen(v);
	if (n >= dstlen)
		return ESTCA_ERR_INTERNAL;
	memcpy(dst, v, n + 1);
	return 0;
}

static bool
get_bool(const PGresult *res, int col)
{
	return !PQgetisnull(res, 0, col) && strcmp(PQgetvalue(res, 0, col), "t") == 0;
}

int
estca_db_alias(struct estca_db *db, const char *name, struct estca_alias *a,
    char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT name, ca_name, profile, username_dn_field, enroll_mode,"
	    " dn_part_field, allow_same_key_renewal, serverkeygen,"
	    " change_subject_name, require_approval, max_failed_attempts"
	    " FROM est.alias WHERE name = $1";
	const char *params[1] = { name };
	PGresult *res;
	char *end;
	long v;
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = db_exec(db, sql, 1, params, &res, detail, detaillen)) != 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		set_detail(detail, detaillen, "alias", "no such alias");
		return ESTCA_ERR_NOT_FOUND;
	}
	if (PQnfields(res) != 11 ||
	    get_text(res, 0, a->name, sizeof(a->name)) != 0 ||
	    get_text(res, 1, a->ca_name, sizeof(a->ca_name)) != 0 ||
	    get_text(res, 2, a->profile, sizeof(a->profile)) != 0 ||
	    get_text(res, 3, a->username_dn_field, sizeof(a->username_dn_field)) != 0 ||
	    get_text(res, 4, a->enroll_mode, sizeof(a->enroll_mode)) != 0 ||
	    get_text(res, 5, a->dn_part_field, sizeof(a->dn_part_field)) != 0) {
		PQclear(res);
		set_detail(detail, detaillen, "alias", "row does not fit (schema mismatch?)");
		return ESTCA_ERR_INTERNAL;
	}
	a->allow_same_key_renewal = get_bool(res, 6);
	a->serverkeygen = get_bool(res, 7);
	a->change_subject_name = get_bool(res, 8);
	a->require_approval = get_bool(res, 9);
	errno = 0;
	v = strtol(PQgetvalue(res, 0, 10), &end, 10);
	if (PQgetisnull(res, 0, 10) || end == PQgetvalue(res, 0, 10) ||
	    errno != 0 || *end != 0 || v < 0 || v > 1000000) {
		PQclear(res);
		set_detail(detail, detaillen, "alias", "bad max_failed_attempts");
		return ESTCA_ERR_INTERNAL;
	}
	a->max_failed_attempts = (int)v;
	PQclear(res);
	if (a->ca_name[0] == 0 || a->profile[0] == 0) {
		set_detail(detail, detaillen, "alias", "empty ca_name or profile");
		return ESTCA_ERR_INTERNAL;
	}
	return 0;
}

/* Column col of row as a non-negative integer no larger than max. */
static int
get_ll(const PGresult *res, int row, int col, long long max, long long *out)
{
	const char *v;
	char *end;
	long long n;

	if (PQgetisnull(res, row, col))
		return ESTCA_ERR_INTERNAL;
	v = PQgetvalue(res, row, col);
	errno = 0;
	n = strtoll(v, &end, 10);
	if (end == v || *end != 0 || errno != 0 || n < 0 || n > max)
		return ESTCA_ERR_INTERNAL;
	*out = n;
	return 0;
}

/* A statement whose result carries nothing we need. */
static int
db_run(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, char *detail, size_t len)
{
	PGresult *res;
	int r;

	if ((r = db_exec(db, sql, nparams, params, &res, detail, len)) != 0)
		return r;
	PQclear(res);
	return 0;
}

int
estca_db_begin(struct estca_db *db, char *detail, size_t detaillen)
{
	int r;

	if ((r = db_run(db, "BEGIN", 0, NULL, detail, detaillen)) != 0)
		return r;
	/* set_config(..., true) is SET LOCAL: it ends with the transaction */
	r = db_run(db, "SELECT pg_catalog.set_config('lock_timeout', '10s', true)",
	    0, NULL, detail, detaillen);
	if (r != 0)
		estca_db_rollback(db);
	return r;
}

int
estca_db_commit(struct estca_db *db, char *detail, size_t detaillen)
{
	int r = db_run(db, "COMMIT", 0, NULL, detail, detaillen);

	/* A COMMIT of a failed transaction reports ROLLBACK and succeeds. */
	if (r == 0 && db->conn != NULL &&
	    PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		r = ESTCA_ERR_INTERNAL;
	if (r != 0)
		estca_db_rollback(db);
	return r;
}

void
estca_db_rollback(struct estca_db *db)
{
	PGresult *res;

	if (db->conn == NULL || PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
	/* A connection that cannot even roll back is not worth keeping. */
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		drop(db);
}

void
estca_db_ee_clear(struct estca_end_entity *ee)
{
	for (size_t i = 0; i < ee->nsans; i++)
		OPENSSL_free(ee->sans[i]);
	OPENSSL_cleanse(ee, sizeof(*ee));
}

int
estca_db_ee_lock(struct estca_db *db, const char *alias, const char *username,
    long long id, struct estca_end_entity *ee, char *detail, size_t detaillen)
{
	/* One row per registered SAN (one with a NULL san when none), in the
	 * order the DBA gave them; only the end entity row is locked. */
	static const char cols[] =
	    "SELECT e.id, e.username, e.subject_dn, e.code_hash, e.uses_left,"
	    " e.failed_attempts, e.status, e.require_approval, s.san"
	    " FROM est.end_entity e"
	    " LEFT JOIN LATERAL unnest(e.sans) WITH ORDINALITY AS s(san, i) ON true";
	static const char by_name[] =
	    " WHERE e.alias = $1 AND e.username = $2 ORDER BY s.i FOR UPDATE OF e";
	static const char by_id[] = " WHERE e.id = $1 ORDER BY s.i FOR UPDATE OF e";
	char sql[sizeof(cols) + sizeof(by_name) + sizeof(by_id)], idtext[24];
	const char *params[2];
	PGresult *res;
	long long v;
	int r, n;

	memset(ee, 0, sizeof(*ee));
	if (username != NULL) {
		snprintf(sql, sizeof(sql), "%s%s", cols, by_name);
		params[0] = alias;
		params[1] = username;
		n = 2;
	} else {
		snprintf(sql, sizeof(sql), "%s%s", cols, by_id);
		snprintf(idtext, sizeof(idtext), "%lld", id);
		params[0] = idtext;
		n = 1;
	}
	if ((r = db_exec(db, sql, n, params, &res, detail, detaillen)) != 0)
		return r;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		set_detail(detail, detaillen, "end entity", "not registered");
		return ESTCA_ERR_NOT_FOUND;
	}
	r = ESTCA_ERR_INTERNAL;
	if (PQnfields(res) != 9 || n > ESTCA_DB_SANS_MAX ||
	    get_ll(res, 0, 0, 0x7fffffffffffffffLL, &ee->id) != 0 ||
	    get_text(res, 1, ee->username, sizeof(ee->username)) != 0 ||
	    get_text(res, 2, ee->subject_dn, sizeof(ee->subject_dn)) != 0 ||
	    get_text(res, 3, ee->code_hash, sizeof(ee->code_hash)) != 0 ||
	    get_ll(res, 0, 4, 0x7fffffff, &v) != 0)
		goto bad;
	ee->uses_left = (int)v;
	if (get_ll(res, 0, 5, 0x7fffffff, &v) != 0 ||
	    get_text(res, 6, ee->status, sizeof(ee->status)) != 0)
		goto bad;
	ee->failed_attempts = (int)v;
	ee->require_approval = get_bool(res, 7);
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
	PQclear(res);
	return 0;
bad:
	PQclear(res);
	estca_db_ee_clear(ee);
	set_detail(detail, detaillen, "end entity",
	    r == ESTCA_ERR_NOMEM ? "out of memory" : "row does not fit (schema mismatch?)");
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
estca_db_ee_consume(struct estca_db *db, long long id, char *detail,
    size_t detaillen)
{
	static const char sql[] =
	    "UPDATE est.end_entity SET uses_left = uses_left - 1, failed_attempts = 0"
	    " WHERE id = $1 AND uses_left > 0";
	char idtext[24];
	const char *params[1] = { idtext };
	PGresult *res;
	int r;

	snprintf(idtext, sizeof(idtext), "%lld", id);
	if ((r = db_exec(db, sql, 1, params, &res, detail, detaillen)) != 0)
		return r;
	r = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : ESTCA_ERR_REFUSED;
	PQclear(res);
	if (r != 0)
		set_detail(detail, detaillen, "end entity", "no use left");
	return r;
}

/* Text form of a bytea parameter: \x and two hex digits per byte. */
static char *
bytea_hex(const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *s;

	if (n > (SIZE_MAX - 3) / 2 || (s = OPENSSL_malloc(2 * n + 3)) == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	for (size_t i = 0; i < n; i++) {
		s[2 + 2 * i] = hex[p[i] >> 4];
		s[3 + 2 * i] = hex[p[i] & 15];
	}
	s[2 + 2 * n] = 0;
	return s;
}

int
estca_db_cert_insert(struct estca_db *db, const struct estca_cert_row *c,
    char *detail, size_t detaillen)
{
	static const char sql[] =
	    "INSERT INTO est.certificate (issuer, serial, subject, not_before,"
	    " not_after, der, end_entity, alias)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
	char idtext[24], *der;
	const char *params[8];
	int r;

	if ((der = bytea_hex(c->der, c->derlen)) == NULL)
		return ESTCA_ERR_NOMEM;
	snprintf(idtext, sizeof(idtext), "%lld", c->end_entity);
	params[0] = c->issuer;
	params[1] = c->serial;
	params[2] = c->subject;
	params[3] = c->not_before;
	params[4] = c->not_after;
	params[5] = der;
	params[6] = c->end_entity > 0 ? idtext : NULL;
	params[7] = c->alias;
	r = db_run(db, sql, 8, params, detail, detaillen);
	OPENSSL_free(der);
	return r;
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
	if ((hash = bytea_hex(sha256, 32)) == NULL)
		return ESTCA_ERR_NOMEM;
	params[0] = hash;
	r = db_exec(db, sql, 1, params, &res, detail, detaillen);
	OPENSSL_free(hash);
	if (r != 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		set_detail(detail, detaillen, "certificate", "not recorded");
		return ESTCA_ERR_NOT_FOUND;
	}
	if (PQnfields(res) != 4 || get_text(res, 0, st->alias, sizeof(st->alias)) != 0 ||
	    (!PQgetisnull(res, 0, 3) &&
	    get_ll(res, 0, 3, 0x7fffffffffffffffLL, &st->end_entity) != 0)) {
		PQclear(res);
		set_detail(detail, detaillen, "certificate", "row does not fit");
		return ESTCA_ERR_INTERNAL;
	}
	st->revoked = get_bool(res, 1);
	st->expired = get_bool(res, 2);
	PQclear(res);
	return 0;
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

int
estca_db_approval_find(struct estca_db *db, const char *alias,
    const char *operation, const unsigned char sha256[32], const char *auth,
    struct estca_approval_row *row, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT id, end_entity, status, expires_at <= now()"
	    " FROM est.approval_request"
	    " WHERE alias = $1 AND operation = $2 AND csr_sha256 = $3"
	    " AND auth = $4 FOR UPDATE";
	const char *params[4] = { alias, operation, NULL, auth };
	char *hash;
	PGresult *res;
	int r;

	memset(row, 0, sizeof(*row));
	if ((hash = bytea_hex(sha256, 32)) == NULL)
		return ESTCA_ERR_NOMEM;
	params[2] = hash;
	r = db_exec(db, sql, 4, params, &res, detail, detaillen);
	OPENSSL_free(hash);
	if (r != 0)
		return r;
	if (PQntuples(res) != 1) {
		PQclear(res);
		set_detail(detail, detaillen, "approval request", "not queued");
		return ESTCA_ERR_NOT_FOUND;
	}
	if (PQnfields(res) != 4 ||
	    get_ll(res, 0, 0, 0x7fffffffffffffffLL, &row->id) != 0 ||
	    (!PQgetisnull(res, 0, 1) &&
	    get_ll(res, 0, 1, 0x7fffffffffffffffLL, &row->end_entity) != 0) ||
	    get_text(res, 2, row->status, sizeof(row->status)) != 0) {
		PQclear(res);
		set_detail(detail, detaillen, "approval request", "row does not fit");
		return ESTCA_ERR_INTERNAL;
	}
	row->expired = get_bool(res, 3);
	PQclear(res);
	return 0;
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
	if ((hash = bytea_hex(n->sha256, 32)) == NULL ||
	    (n->csr_der != NULL && (csr = bytea_hex(n->csr_der, n->csr_len)) == NULL) ||
	    (spki = bytea_hex(n->spki_der, n->spki_len)) == NULL)
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
	    get_ll(res, 0, 0, 0x7fffffffffffffffLL, id) != 0) {
		set_detail(detail, detaillen, "approval request", "no id returned");
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
	if (PQntuples(res) != 1 || get_ll(res, 0, 0, 0x7fffffff, n) != 0) {
		set_detail(detail, detaillen, "approval request", "count failed");
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
		set_detail(detail, detaillen, "approval request", "not updated");
	return r;
}

void
estca_db_csrattrs_free(struct estca_csrattr *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++)
		OPENSSL_free(a[i].values);
	OPENSSL_free(a);
}

int
estca_db_csrattrs(struct estca_db *db, const char *alias,
    struct estca_csrattr **out, size_t *n, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT oid, encode(values_der, 'hex') FROM est.csrattr"
	    " WHERE alias = $1 ORDER BY position LIMIT 65";
	const char *params[1] = { alias };
	struct estca_csrattr *a = NULL;
	PGresult *res;
	int rows, r;

	*out = NULL;
	*n = 0;
	if ((r = db_exec(db, sql, 1, params, &res, detail, detaillen)) != 0)
		return r;
	rows = PQntuples(res);
	if (rows > ESTCA_DB_CSRATTRS_MAX || PQnfields(res) != 2) {
		PQclear(res);
		set_detail(detail, detaillen, "csrattr", "too many rows for one alias");
		return ESTCA_ERR_INTERNAL;
	}
	if (rows > 0 && (a = OPENSSL_zalloc((size_t)rows * sizeof(*a))) == NULL) {
		PQclear(res);
		return ESTCA_ERR_NOMEM;
	}
	for (int i = 0; i < rows; i++) {
		const char *oid = PQgetvalue(res, i, 0);
		const char *hex = PQgetvalue(res, i, 1);
		long len = 0;

		if (strlen(oid) >= sizeof(a[i].oid)) {
			r = ESTCA_ERR_INTERNAL;
			break;
		}
		memcpy(a[i].oid, oid, strlen(oid) + 1);
		if (PQgetisnull(res, i, 1))
			continue;
		/* hex without separators: pairs of digits */
		if ((a[i].values = OPENSSL_hexstr2buf(hex, &len)) == NULL || len <= 0) {
			r = ESTCA_ERR_INTERNAL;
			break;
		}
		a[i].values_len = (size_t)len;
	}
	PQclear(res);
	if (r != 0) {
		estca_db_csrattrs_free(a, (size_t)rows);
		set_detail(detail, detaillen, "csrattr", "row does not decode");
		return r;
	}
	*out = a;
	*n = (size_t)rows;
	return 0;
}

int
estca_db_ra_password_members(struct estca_db *db, const char *alias,
    const char *username, struct estca_ra_member *m, size_t *n, char *detail,
    size_t detaillen)
{
	static const char sql[] =
	    "SELECT m.id, r.name, m.password_hash FROM est.role_member m"
	    " JOIN est.role r ON r.id = m.role"
	    " WHERE r.alias = $1 AND m.username = $2"
	    " AND m.password_hash IS NOT NULL ORDER BY m.id LIMIT 8";
	const char *params[2] = { alias, username };
	PGresult *res;
	int rows, r;

	*n = 0;
	if ((r = db_exec(db, sql, 2, params, &res, detail, detaillen)) != 0)
		return r;
	rows = PQntuples(res);
	if (PQnfields(res) != 3 || rows > ESTCA_DB_RA_MEMBERS_MAX) {
		PQclear(res);
		set_detail(detail, detaillen, "role_member", "unexpected result");
		return ESTCA_ERR_INTERNAL;
	}
	for (int i = 0; i < rows; i++) {
		struct estca_ra_member *x = &m[i];
		const char *v;

		memset(x, 0, sizeof(*x));
		v = PQgetvalue(res, i, 2);
		if (get_ll(res, i, 0, 0x7fffffffffffffffLL, &x->id) != 0 ||
		    strlen(PQgetvalue(res, i, 1)) >= sizeof(x->role) ||
		    strlen(v) >= sizeof(x->password_hash)) {
			PQclear(res);
			for (int k = 0; k <= i; k++)
				OPENSSL_cleanse(&m[k], sizeof(m[k]));
			set_detail(detail, detaillen, "role_member", "row does not fit");
			return ESTCA_ERR_INTERNAL;
		}
		memcpy(x->role, PQgetvalue(res, i, 1), strlen(PQgetvalue(res, i, 1)) + 1);
		memcpy(x->password_hash, v, strlen(v) + 1);
	}
	PQclear(res);
	*n = (size_t)rows;
	return 0;
}

/* The certificates in column 0 (hex of DER) of every row of res into a
 * new stack; rows that do not parse are counted in *bad. */
static int
certs_of(const PGresult *res, STACK_OF(X509) **out, int *bad)
{
	STACK_OF(X509) *sk;

	*bad = 0;
	if ((*out = sk = sk_X509_new_null()) == NULL)
		return ESTCA_ERR_NOMEM;
	for (int i = 0; i < PQntuples(res); i++) {
		long len = 0;
		unsigned char *der = PQgetisnull(res, i, 0) ? NULL :
		    OPENSSL_hexstr2buf(PQgetvalue(res, i, 0), &len);
		const unsigned char *p = der;
		X509 *x = der != NULL && len > 0 ? d2i_X509(NULL, &p, len) : NULL;

		if (x == NULL || p != der + len) {
			X509_free(x);
			(*bad)++;
		} else if (!sk_X509_push(sk, x)) {
			X509_free(x);
			OPENSSL_free(der);
			sk_X509_pop_free(sk, X509_free);
			*out = NULL;
			return ESTCA_ERR_NOMEM;
		}
		OPENSSL_free(der);
	}
	return 0;
}

int
estca_db_ra_cert_member(struct estca_db *db, const char *alias,
    const unsigned char sha256[32], struct estca_ra_member *m,
    STACK_OF(X509) **issuers, char *detail, size_t detaillen)
{
	static const char member_sql[] =
	    "SELECT m.id, r.name FROM est.role_member m"
	    " JOIN est.role r ON r.id = m.role"
	    " WHERE r.alias = $1 AND m.cert_sha256 = $2 ORDER BY m.id LIMIT 1";
	static const char issuer_sql[] =
	    "SELECT encode(i.cert_der, 'hex') FROM est.role_issuer i"
	    " JOIN est.role_member m ON m.role = i.role"
	    " JOIN est.role r ON r.id = m.role"
	    " WHERE r.alias = $1 AND m.cert_sha256 = $2 ORDER BY i.id LIMIT 64";
	const char *params[2];
	char *hash;
	PGresult *res;
	int r, bad = 0;

	memset(m, 0, sizeof(*m));
	*issuers = NULL;
	if ((hash = bytea_hex(sha256, 32)) == NULL)
		return ESTCA_ERR_NOMEM;
	params[0] = alias;
	params[1] = hash;
	if ((r = db_exec(db, member_sql, 2, params, &res, detail, detaillen)) != 0)
		goto out;
	if (PQntuples(res) != 1) {
		PQclear(res);
		set_detail(detail, detaillen, "role_member", "no member has this certificate");
		r = ESTCA_ERR_NOT_FOUND;
		goto out;
	}
	if (PQnfields(res) != 2 ||
	    get_ll(res, 0, 0, 0x7fffffffffffffffLL, &m->id) != 0 ||
	    get_text(res, 1, m->role, sizeof(m->role)) != 0) {
		PQclear(res);
		set_detail(detail, detaillen, "role_member", "row does not fit");
		r = ESTCA_ERR_INTERNAL;
		goto out;
	}
	PQclear(res);
	if ((r = db_exec(db, issuer_sql, 2, params, &res, detail, detaillen)) != 0)
		goto out;
	r = certs_of(res, issuers, &bad);
	PQclear(res);
	if (r == 0 && bad > 0)
		set_detail(detail, detaillen, "role_issuer", "a row does not parse");
out:
	OPENSSL_free(hash);
	return r;
}

int
estca_db_vendor_cas(struct estca_db *db, const char *alias,
    STACK_OF(X509) **out, int *bad, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT encode(cert_der, 'hex') FROM est.vendor_ca"
	    " WHERE alias = $1 ORDER BY id LIMIT 256";
	const char *params[1] = { alias };
	PGresult *res;
	int r;

	*out = NULL;
	*bad = 0;
	if ((r = db_exec(db, sql, 1, params, &res, detail, detaillen)) != 0)
		return r;
	r = certs_of(res, out, bad);
	PQclear(res);
	return r;
}
