/*
 * db_int.h - inside estca-fcgi's database layer only: what db.c gives
 * db_enroll.c, db_approval.c and db_trust.c to run their statements and
 * read their rows.  Every statement goes through db_exec_many (values as
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
