/*
 * db.c - see db.h.  Owns the worker's PGconn: connecting, the retry of a
 * stale connection, transactions, and the helpers the other db_*.c files
 * run every statement through (db_int.h).
 * Statements are prepared once per connection (the first time each
 * text is run) and then executed by name, values as parameters, never
 * spliced into SQL text; every PGresult is cleared on the path that got
 * it.  A transaction's BEGIN travels with its first statement, and an
 * issued certificate's record with its COMMIT, each pair as one libpq
 * pipeline: one round trip.  What the connection keeps between requests
 * (alias rows, RA members) is db_kept.c's.  Never sends an enrollment
 * code or password to the server (statement logs would keep it): hashes
 * are fetched and checked here.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include "str.h"
#include "log.h"
#include "db_int.h"

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
	db_forget_kept(db);
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

void
db_drop(struct estca_db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	/* prepared statements and the LISTEN die with their connection */
	forget_prepared(db);
	db_forget_kept(db);
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

/* Notices and errors the server sends unasked: logged, and what the
 * connection kept is not trusted after them (config_notices). */
static void
on_notice(void *arg, const PGresult *res)
{
	struct estca_db *db = arg;
	char line[300];

	db->noticed = true;
	estca_one_line(line, sizeof(line),
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
	log_info("postgres: %s", line);
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
		db_drop(db);
		return ESTCA_ERR_UNAVAILABLE;
	}
	PQsetNoticeReceiver(db->conn, on_notice, db);
	/*
	 * A request never waits long behind another holding an end entity's
	 * row: a session setting, so that no transaction has to send it.
	 * LISTEN: what is kept between requests lives only as long as this
	 * connection hears every change to it.
	 */
	for (size_t i = 0; i < 2; i++) {
		static const char *const setup[] = { "SET lock_timeout = '10s'",
		    "LISTEN estca_config" };
		PGresult *pr = PQexec(db->conn, setup[i]);
		bool ok = pr != NULL && PQresultStatus(pr) == PGRES_COMMAND_OK;

		if (!ok) {
			db_set_detail(detail, len, "postgres connect", pr != NULL ?
			    PQresultErrorMessage(pr) : PQerrorMessage(db->conn));
			PQclear(pr);
			db_drop(db);
			return ESTCA_ERR_UNAVAILABLE;
		}
		PQclear(pr);
	}
	db_forget_kept(db);
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
 * Send st[0..n) and collect one result each into res[] (NULL where none
 * came).  One statement goes the plain way; more go as one pipeline with
 * one Sync, so they cost one round trip.  After an error the server
 * skips the rest of a pipeline (PGRES_PIPELINE_ABORTED): a COMMIT queued
 * behind a failed statement never runs.  All names are prepared before
 * the pipeline starts (PQprepare cannot run inside one).  Returns false
 * when the connection is no longer in a state to be used.
 */
static bool
send_collect(struct estca_db *db, size_t n, const struct db_stmt *st,
    PGresult **res)
{
	const char *name[DB_PIPELINE_MAX];
	PGconn *c = db->conn;
	PGresult *pr;
	bool ok = true;
	size_t i;

	for (i = 0; i < n; i++) {
		res[i] = NULL;
		name[i] = prepared(db, st[i].sql, st[i].nparams);
	}
	if (n == 1) {
		res[0] = name[0] != NULL ?
		    PQexecPrepared(c, name[0], st[0].nparams, st[0].params, NULL,
		    NULL, 0) :
		    PQexecParams(c, st[0].sql, st[0].nparams, NULL, st[0].params,
		    NULL, NULL, 0);
		return true;
	}
	if (!PQenterPipelineMode(c))
		return false;
	for (i = 0; i < n && ok; i++)
		ok = name[i] != NULL ?
		    PQsendQueryPrepared(c, name[i], st[i].nparams, st[i].params,
		    NULL, NULL, 0) == 1 :
		    PQsendQueryParams(c, st[i].sql, st[i].nparams, NULL,
		    st[i].params, NULL, NULL, 0) == 1;
	if (!ok || PQpipelineSync(c) != 1)
		return false;
	/* Each statement's result is followed by a NULL; then the Sync's. */
	for (i = 0; i < n; i++) {
		if ((res[i] = PQgetResult(c)) == NULL)
			return false;
		if ((pr = PQgetResult(c)) != NULL) {
			PQclear(pr);
			return false;
		}
	}
	pr = PQgetResult(c);
	ok = pr != NULL && PQresultStatus(pr) == PGRES_PIPELINE_SYNC;
	PQclear(pr);
	return ok && PQexitPipelineMode(c) == 1;
}

/*
 * Run st[0..n) (with the pending BEGIN in front, if any) in one round
 * trip.  On success res[i] holds each statement's result (tuples or a
 * command status; the caller PQclears them).  On failure every res[i] is
 * NULL, nothing is left to clear, and the first error is reported:
 * ESTCA_ERR_UNAVAILABLE when it is worth trying later (connection lost,
 * lock timeout, serialization failure), else ESTCA_ERR_INTERNAL; on a
 * statement error (not a lost connection) its SQLSTATE goes into
 * state_out (6 bytes, "" when none) and its primary message into msg
 * (msglen bytes, one line), when those are not NULL.  A connection that
 * went stale while idle is replaced and the statements sent once more;
 * inside a transaction a lost connection is the transaction lost.
 */
static int
exec_many(struct estca_db *db, size_t n, const struct db_stmt *st,
    PGresult **res, char state_out[6], char *msg, size_t msglen,
    char *detail, size_t len, bool may_retry)
{
	static const struct db_stmt begin = { "BEGIN", 0, NULL };
	struct db_stmt all[DB_PIPELINE_MAX];
	PGresult *got[DB_PIPELINE_MAX];
	bool with_begin = db->begin_pending;
	size_t k = with_begin ? 1 : 0, m = n + k, i;

	for (i = 0; i < n; i++)
		res[i] = NULL;
	if (state_out != NULL)
		state_out[0] = 0;
	if (msg != NULL && msglen > 0)
		msg[0] = 0;
	if (n == 0 || m > DB_PIPELINE_MAX) {
		db->begin_pending = false;
		db_set_detail(detail, len, "postgres", "bad statement count");
		return ESTCA_ERR_INTERNAL;
	}
	if (with_begin)
		all[0] = begin;
	for (i = 0; i < n; i++)
		all[k + i] = st[i];
	for (int attempt = 0; attempt < 2; attempt++) {
		PGresult *bad = NULL;
		const char *state;
		bool sent, failed = false, ending;
		int r, kept = db->conn != NULL, idle;

		if ((r = db_connect(db, detail, len)) != 0) {
			db->begin_pending = false;
			return r;
		}
		idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
		sent = send_collect(db, m, all, got);
		/* The BEGIN went out: from here on the transaction is open
		 * (or lost with the connection), never pending again. */
		db->begin_pending = false;
		/* the first result that failed (bad stays NULL for a missing one) */
		for (i = 0; i < m && !failed; i++) {
			ExecStatusType s = got[i] != NULL ?
			    PQresultStatus(got[i]) : PGRES_FATAL_ERROR;

			if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
				failed = true;
				bad = got[i];
			}
		}
		if (sent && !failed) {
			db->kept_used = false;
			for (i = 0; i < m; i++)
				if (i < k)
					PQclear(got[i]);
				else
					res[i - k] = got[i];
			return 0;
		}
		if (!sent || PQstatus(db->conn) == CONNECTION_BAD) {
			db_set_detail(detail, len, "postgres", PQerrorMessage(db->conn));
			for (i = 0; i < m; i++)
				PQclear(got[i]);
			db_drop(db);
			/*
			 * A kept connection went stale: one fresh try, unless
			 * this request already acted on what the connection
			 * kept (it may have missed a change), or the
			 * statements end the transaction (they may have run).
			 */
			if (kept && idle && attempt == 0 && may_retry &&
			    !db->kept_used) {
				db->begin_pending = with_begin;
				continue;
			}
			return ESTCA_ERR_UNAVAILABLE;
		}
		state = bad != NULL ? PQresultErrorField(bad, PG_DIAG_SQLSTATE) : NULL;
		r = transient_sqlstate(state) ? ESTCA_ERR_UNAVAILABLE :
		    ESTCA_ERR_INTERNAL;
		if (state_out != NULL && state != NULL && strlen(state) == 5)
			memcpy(state_out, state, 6);
		if (msg != NULL && msglen > 0 && bad != NULL)
			estca_one_line(msg, msglen, PQresultErrorField(bad,
			    PG_DIAG_MESSAGE_PRIMARY));
		db_set_detail(detail, len, "postgres",
		    bad != NULL ? PQresultErrorMessage(bad) : PQerrorMessage(db->conn));
		ending = state != NULL && (strncmp(state, "57P", 3) == 0 ||
		    strncmp(state, "08", 2) == 0);
		for (i = 0; i < m; i++)
			PQclear(got[i]);
		/*
		 * The server is ending this session (shutdown, crash,
		 * recovery): all that is left to read is the socket's end.
		 * Closed now, so that the next request connects again even if
		 * it comes long after.
		 */
		if (ending)
			db_drop(db);
		return r;
	}
	return ESTCA_ERR_UNAVAILABLE;
}

int
db_exec_many(struct estca_db *db, size_t n, const struct db_stmt *st,
    PGresult **res, char state_out[6], char *msg, size_t msglen,
    char *detail, size_t len)
{
	return exec_many(db, n, st, res, state_out, msg, msglen, detail, len,
	    true);
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

/* db_exec, with db_exec_many's SQLSTATE and message on a statement error. */
int
db_exec_state(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, PGresult **res, char state_out[6], char *msg,
    size_t msglen, char *detail, size_t len)
{
	struct db_stmt st = { sql, nparams, params };

	return db_exec_many(db, 1, &st, res, state_out, msg, msglen, detail,
	    len);
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

/*
 * The BEGIN is not sent here: it goes out with the transaction's first
 * statement (db_exec_many), in the same round trip.  The lock timeout is
 * the session's (db_connect).
 */
int
estca_db_begin(struct estca_db *db, char *detail, size_t detaillen)
{
	if (estca_db_in_transaction(db)) {
		db_set_detail(detail, detaillen, "begin", "a transaction is open");
		return ESTCA_ERR_INTERNAL;
	}
	db->begin_pending = true;
	return 0;
}

/* After the COMMIT's answer: 0 when the transaction ended committed. */
static int
committed(struct estca_db *db, int r)
{
	/* A COMMIT of a failed transaction reports ROLLBACK and succeeds. */
	if (r == 0 && db->conn != NULL &&
	    PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		r = ESTCA_ERR_INTERNAL;
	if (r != 0)
		estca_db_rollback(db);
	return r;
}

int
estca_db_commit(struct estca_db *db, char *detail, size_t detaillen)
{
	/* Nothing ran since the BEGIN: there is nothing to commit. */
	if (db->begin_pending) {
		db->begin_pending = false;
		return 0;
	}
	return committed(db, db_run(db, "COMMIT", 0, NULL, detail, detaillen));
}

/*
 * Run st (inside the open transaction) and COMMIT in one round trip; if
 * st fails the COMMIT is not run and the transaction is rolled back.
 * *res as for db_exec.  ESTCA_ERR_UNAVAILABLE when the connection was lost
 * on the way: whether the COMMIT landed is then unknown.
 */
int
db_exec_commit(struct estca_db *db, const struct db_stmt *st, PGresult **res,
    char *detail, size_t len)
{
	struct db_stmt two[2] = { *st, { "COMMIT", 0, NULL } };
	PGresult *got[2];
	int r;

	*res = NULL;
	/* never sent twice: the first COMMIT may have landed */
	r = exec_many(db, 2, two, got, NULL, NULL, 0, detail, len, false);
	if (r == 0) {
		PQclear(got[1]);
		*res = got[0];
	}
	if ((r = committed(db, r)) != 0 && *res != NULL) {
		PQclear(*res);
		*res = NULL;
	}
	return r;
}

bool
estca_db_in_transaction(const struct estca_db *db)
{
	return db->begin_pending || (db->conn != NULL &&
	    PQtransactionStatus(db->conn) != PQTRANS_IDLE);
}

void
estca_db_rollback(struct estca_db *db)
{
	PGresult *res;

	db->begin_pending = false;
	if (db->conn == NULL || PQtransactionStatus(db->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(db->conn, "ROLLBACK");
	PQclear(res);
	/* A connection that cannot even roll back is not worth keeping. */
	if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
		db_drop(db);
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
