/*
 * db.c - see db.h.  Owns the worker's PGconn: connecting, the retry of a
 * stale connection, transactions, the alias row, and the helpers the
 * other db_*.c files run every statement through (db_int.h).
 * Statements are prepared once per connection (the first time each
 * text is run) and then executed with PQexecPrepared, values as
 * parameters, never spliced into SQL text; every PGresult is cleared on
 * the path that got it.  Never sends an enrollment code or password to the server
 * (statement logs would keep it): hashes are fetched and checked here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include "str.h"
#include "db_int.h"
#include "cred.h"

/* Statements prepared on the current connection, by their text. */
#define DB_PREPARED_MAX 64

struct estca_db {
	char *conninfo;
	PGconn *conn;
	struct {
		char *sql;                /* OPENSSL_strdup'd text */
		char name[16];            /* "estca_N" */
	} prep[DB_PREPARED_MAX];
	size_t nprep;
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
	for (size_t i = 0; i < db->nprep; i++)
		OPENSSL_free(db->prep[i].sql);
	/* the conninfo may hold a password */
	OPENSSL_clear_free(db->conninfo, strlen(db->conninfo));
	OPENSSL_free(db);
}

/* Copy a libpq message (may end in newlines) into detail. */
void
db_set_detail(char *detail, size_t len, const char *what, const char *msg)
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
forget_prepared(struct estca_db *db)
{
	for (size_t i = 0; i < db->nprep; i++)
		OPENSSL_free(db->prep[i].sql);
	db->nprep = 0;
}

static void
drop(struct estca_db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	/* prepared statements die with their connection */
	forget_prepared(db);
}

/*
 * The name sql is prepared under on this connection, preparing it now if
 * it is new; NULL when it cannot be (the table is full, or the server
 * refused: then the caller runs it unprepared, and a real error shows
 * there, reported the usual way).
 */
static const char *
prepared(struct estca_db *db, const char *sql, int nparams)
{
	PGresult *pr;
	size_t i;
	int ok;

	for (i = 0; i < db->nprep; i++)
		if (strcmp(db->prep[i].sql, sql) == 0)
			return db->prep[i].name;
	if (db->nprep == DB_PREPARED_MAX)
		return NULL;
	snprintf(db->prep[i].name, sizeof(db->prep[i].name), "estca_%zu", i);
	pr = PQprepare(db->conn, db->prep[i].name, sql, nparams, NULL);
	ok = pr != NULL && PQresultStatus(pr) == PGRES_COMMAND_OK;
	PQclear(pr);
	/* Not kept (out of memory): the name stays taken on the server, so
	 * the next try under it fails and runs unprepared; still right. */
	if (!ok || (db->prep[i].sql = OPENSSL_strdup(sql)) == NULL)
		return NULL;
	db->nprep++;
	return db->prep[i].name;
}

static int
db_connect(struct estca_db *db, char *detail, size_t len)
{
	/*
	 * Keywords are applied in order, so the defaults placed before
	 * dbname (the operator's conninfo) can be overridden by it.
	 */
	const char *const kw[] = { "connect_timeout", "options",
	    "fallback_application_name", "dbname", NULL };
	const char *const val[] = { "10", "-c statement_timeout=30s",
	    "estca-fcgi", db->conninfo, NULL };

	if (db->conn != NULL)
		return 0;
	db->conn = PQconnectdbParams(kw, val, 1);
	if (db->conn == NULL) {
		db_set_detail(detail, len, "postgres connect", "out of memory");
		return ESTCA_ERR_UNAVAILABLE;
	}
	if (PQstatus(db->conn) != CONNECTION_OK) {
		db_set_detail(detail, len, "postgres connect", PQerrorMessage(db->conn));
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
int
db_exec(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *detail, size_t len)
{
	return db_exec_state(db, sql, nparams, params, res, NULL, NULL, 0,
	    detail, len);
}

/*
 * db_exec, and on a statement error (not a lost connection) the SQLSTATE
 * into state (6 bytes, "" when none) and the error's primary message into
 * msg (msglen bytes, one line), when those are not NULL.
 */
int
db_exec_state(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, PGresult **res, char state_out[6], char *msg,
    size_t msglen, char *detail, size_t len)
{
	*res = NULL;
	if (state_out != NULL)
		state_out[0] = 0;
	if (msg != NULL && msglen > 0)
		msg[0] = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *pr;
		ExecStatusType st;
		const char *state, *name;
		int r, kept = db->conn != NULL, idle;

		if ((r = db_connect(db, detail, len)) != 0)
			return r;
		idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
		if ((name = prepared(db, sql, nparams)) != NULL)
			pr = PQexecPrepared(db->conn, name, nparams, params, NULL,
			    NULL, 0);
		else
			pr = PQexecParams(db->conn, sql, nparams, NULL, params,
			    NULL, NULL, 0);
		st = pr != NULL ? PQresultStatus(pr) : PGRES_FATAL_ERROR;
		if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
			*res = pr;
			return 0;
		}
		if (PQstatus(db->conn) == CONNECTION_BAD) {
			db_set_detail(detail, len, "postgres", PQerrorMessage(db->conn));
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
		if (state_out != NULL && state != NULL && strlen(state) == 5)
			memcpy(state_out, state, 6);
		if (msg != NULL && msglen > 0 && pr != NULL)
			estca_one_line(msg, msglen, PQresultErrorField(pr,
			    PG_DIAG_MESSAGE_PRIMARY));
		db_set_detail(detail, len, "postgres",
		    pr != NULL ? PQresultErrorMessage(pr) : PQerrorMessage(db->conn));
		PQclear(pr);
		return r;
	}
	return ESTCA_ERR_UNAVAILABLE;
}

/* Copy column col of row 0 into dst; NULL gives "". */
int
db_get_text(const PGresult *res, int col, char *dst, size_t dstlen)
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

bool
db_get_bool(const PGresult *res, int col)
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
	    " change_subject_name, require_approval, max_failed_attempts,"
	    " channel_binding, ra_register, array_to_string(digest_algorithms, ' ')"
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
		db_set_detail(detail, detaillen, "alias", "no such alias");
		return ESTCA_ERR_NOT_FOUND;
	}
	if (PQnfields(res) != 14 ||
	    db_get_text(res, 0, a->name, sizeof(a->name)) != 0 ||
	    db_get_text(res, 1, a->ca_name, sizeof(a->ca_name)) != 0 ||
	    db_get_text(res, 2, a->profile, sizeof(a->profile)) != 0 ||
	    db_get_text(res, 3, a->username_dn_field, sizeof(a->username_dn_field)) != 0 ||
	    db_get_text(res, 4, a->enroll_mode, sizeof(a->enroll_mode)) != 0 ||
	    db_get_text(res, 5, a->dn_part_field, sizeof(a->dn_part_field)) != 0) {
		PQclear(res);
		db_set_detail(detail, detaillen, "alias", "row does not fit (schema mismatch?)");
		return ESTCA_ERR_INTERNAL;
	}
	a->mode = estca_mode_parse(a->enroll_mode);
	a->allow_same_key_renewal = db_get_bool(res, 6);
	a->serverkeygen = db_get_bool(res, 7);
	a->change_subject_name = db_get_bool(res, 8);
	a->require_approval = db_get_bool(res, 9);
	a->channel_binding = db_get_bool(res, 11);
	a->ra_register = db_get_bool(res, 12);
	{
		/* "SHA-256 MD5": the offered Digest algorithms, in order */
		const char *dv = PQgetisnull(res, 0, 13) ? "" : PQgetvalue(res, 0, 13);

		while (*dv != 0 && a->ndigest < 2) {
			size_t l = strcspn(dv, " ");

			if (l == 7 && strncmp(dv, "SHA-256", 7) == 0)
				a->digest[a->ndigest++] = ESTCA_DIGEST_SHA256;
			else if (l == 3 && strncmp(dv, "MD5", 3) == 0)
				a->digest[a->ndigest++] = ESTCA_DIGEST_MD5;
			dv += l;
			while (*dv == ' ')
				dv++;
		}
	}
	errno = 0;
	v = strtol(PQgetvalue(res, 0, 10), &end, 10);
	if (PQgetisnull(res, 0, 10) || end == PQgetvalue(res, 0, 10) ||
	    errno != 0 || *end != 0 || v < 0 || v > 1000000) {
		PQclear(res);
		db_set_detail(detail, detaillen, "alias", "bad max_failed_attempts");
		return ESTCA_ERR_INTERNAL;
	}
	a->max_failed_attempts = (int)v;
	PQclear(res);
	if (a->ca_name[0] == 0 || a->profile[0] == 0) {
		db_set_detail(detail, detaillen, "alias", "empty ca_name or profile");
		return ESTCA_ERR_INTERNAL;
	}
	return 0;
}

/* Column col of row as a non-negative integer no larger than max. */
int
db_get_ll(const PGresult *res, int row, int col, long long max, long long *out)
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
int
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

/* Text form of a bytea parameter: \x and two hex digits per byte. */
char *
db_bytea_hex(const unsigned char *p, size_t n)
{
	char *s;

	if (n > (SIZE_MAX - 3) / 2 || (s = OPENSSL_malloc(2 * n + 3)) == NULL)
		return NULL;
	s[0] = '\\';
	s[1] = 'x';
	if (estca_hex(s + 2, 2 * n + 1, p, n) != 0) {
		OPENSSL_free(s);
		return NULL;
	}
	return s;
}
