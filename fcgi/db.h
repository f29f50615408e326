/*
 * db.h - the web tier's access to PostgreSQL (schema est, sql/).
 *
 * One connection per worker, opened on first use and kept.  A kept
 * connection found broken (server restart, idle timeout) is replaced once
 * and the statement retried, but only for a statement outside a
 * transaction, which is safe to repeat.  Errors: ESTCA_ERR_UNAVAILABLE when
 * the server cannot be reached or is shutting down (clients retry),
 * ESTCA_ERR_NOT_FOUND when a looked-up row is absent, ESTCA_ERR_INTERNAL
 * for anything else (a schema or permission problem: an operator's job).
 * The detail text of a failure is for the log, never for a client.
 */
#ifndef ESTCA_DB_H
#define ESTCA_DB_H

#include <stdbool.h>
#include <stddef.h>
#include "errors.h"

struct estca_db;

#define ESTCA_DB_NAME_MAX 64

/* A row of est.alias (see sql/001_schema.sql for the meaning of each). */
struct estca_alias {
	char name[ESTCA_DB_NAME_MAX + 1];
	char ca_name[ESTCA_DB_NAME_MAX + 1];
	char profile[ESTCA_DB_NAME_MAX + 1];
	char username_dn_field[ESTCA_DB_NAME_MAX + 1];
	char enroll_mode[32];
	char dn_part_field[ESTCA_DB_NAME_MAX + 1];   /* "" when NULL */
	bool allow_same_key_renewal;
	bool serverkeygen;
	bool change_subject_name;
	bool require_approval;
	int max_failed_attempts;
};

/* Remember conninfo (copied); does not connect. */
int estca_db_open(const char *conninfo, struct estca_db **out) ESTCA_WUR;
void estca_db_close(struct estca_db *db);

/* Look up alias name into *a. */
int estca_db_alias(struct estca_db *db, const char *name, struct estca_alias *a,
    char *detail, size_t detaillen) ESTCA_WUR;

#endif
