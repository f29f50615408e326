/*
 * db_int.h - inside estca-fcgi's database layer only: the connection's
 * state (struct estca_db, shared by db.c and db_kept.c), and what db.c
 * gives db_enroll.c, db_approval.c, db_trust.c and db_kept.c to run their
 * statements and read their rows.  Every statement goes through db_exec_many (values as
 * parameters, never spliced into SQL text; db_exec, db_run and
 * db_exec_commit are its shorthands), and
 * every PGresult is cleared on the path that got it.  Nothing outside
 * fcgi/db*.c includes this; the rest of the web tier uses db.h.
 */
#ifndef ESTCA_DB_INT_H
#define ESTCA_DB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>
#include "db.h"

/* Statements prepared on the current connection, by their text. */
#define DB_PREPARED_MAX 64

/* Alias rows kept between requests (est.alias is read on every one),
 * and RA members looked up by (alias, username). */
#define DB_ALIAS_CACHE 16
#define DB_RA_CACHE 16

struct db_ra_kept {
	char alias[ESTCA_DB_NAME_MAX + 1];
	char username[ESTCA_DB_USERNAME_MAX + 1];
	struct estca_ra_member m[ESTCA_DB_RA_MEMBERS_MAX];   /* hashes: wiped */
	size_t n;
};

struct estca_db {
	char *conninfo;
	PGconn *conn;
	struct {
		char *sql;                /* OPENSSL_strdup'd text */
		char name[16];            /* "estca_N" */
	} prep[DB_PREPARED_MAX];
	size_t nprep;
	/* estca_db_begin was called and no statement has run since: the
	 * next statement carries the BEGIN with it (one round trip). */
	bool begin_pending;
	/*
	 * The alias rows and RA members read on this connection.  They stay
	 * only while the connection LISTENs on estca_config
	 * (012_record_phase.sql: every change to est.alias, est.role or
	 * est.role_member notifies it): any notice, and any new connection,
	 * empties both.
	 */
	struct estca_alias alias[DB_ALIAS_CACHE];
	size_t nalias;
	struct db_ra_kept ra[DB_RA_CACHE];
	size_t nra;
	/* Something kept answered since the connection last proved alive
	 * (a round trip that succeeded): if it turns out dead, what was
	 * kept may have missed a notice, and the request must not go on. */
	bool kept_used;
	/* The server sent a notice or an error while idle (a shutdown's
	 * FATAL arrives so): what was kept is no longer trusted. */
	bool noticed;
};

/* One statement of a pipeline (db_exec_many). */
struct db_stmt {
	const char *sql;
	int nparams;
	const char *const *params;
};
#define DB_PIPELINE_MAX 4

/* db.c (each documented there) */
void db_set_detail(char *detail, size_t len, const char *what,
    const char *msg);
int db_exec(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, PGresult **res, char *detail, size_t len);
int db_exec_state(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, PGresult **res, char state[6], char *msg,
    size_t msglen, char *detail, size_t len);
int db_exec_many(struct estca_db *db, size_t n, const struct db_stmt *st,
    PGresult **res, char state_out[6], char *msg, size_t msglen,
    char *detail, size_t len);
int db_exec_commit(struct estca_db *db, const struct db_stmt *st,
    PGresult **res, char *detail, size_t len);
/* Close the connection; what it kept and prepared goes with it. */
void db_drop(struct estca_db *db);
/* db_kept.c */
void db_forget_kept(struct estca_db *db);
bool db_ra_kept(struct estca_db *db, const char *alias,
    const char *username, struct estca_ra_member *m, size_t *n);
void db_ra_keep(struct estca_db *db, const char *alias, const char *username,
    const struct estca_ra_member *m, size_t n);
int db_get_text(const PGresult *res, int col, char *dst, size_t dstlen);
bool db_get_bool(const PGresult *res, int col);
int db_get_ll(const PGresult *res, int row, int col, long long max,
    long long *out);
int db_run(struct estca_db *db, const char *sql, int nparams,
    const char *const *params, char *detail, size_t len);
char *db_bytea_hex(const unsigned char *p, size_t n);

/* db_approval.c: the approval queue lookup, for a pipeline of db_enroll.c */
extern const char db_approval_find_sql[];
int db_approval_parse(const PGresult *res, struct estca_approval_row *row,
    char *detail, size_t detaillen);

#endif
