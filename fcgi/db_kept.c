/*
 * db_kept.c - see db.h.  What a worker's connection keeps between
 * requests: the alias rows and the RA role members it read, forgotten on
 * every notice of a change (LISTEN estca_config, 012_record_phase.sql),
 * on any message the server sent unasked, and with the connection; and
 * the alias lookup that fills it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include "str.h"
#include "log.h"
#include "db_int.h"
#include "cred.h"

/* Forget everything kept between requests. */
void
db_forget_kept(struct estca_db *db)
{
	db->nalias = 0;
	OPENSSL_cleanse(db->ra, sizeof(db->ra));
	db->nra = 0;
}

/*
 * Take in what the server has sent since the last statement: a notice on
 * estca_config (est.alias, est.role or est.role_member changed) empties
 * what is kept.  So does a connection that cannot be read.  One that was
 * lost while idle (its backend ended without a word: killed, or the link
 * cut) is closed here, before this request acted on anything it kept, so
 * that the next statement connects again instead of failing; inside a
 * transaction, or after the request used what was kept, the next
 * statement fails and says why.
 */
static void
config_notices(struct estca_db *db)
{
	PGnotify *n;
	bool idle;

	db->noticed = false;
	if (db->conn == NULL) {
		db_forget_kept(db);
		return;
	}
	idle = PQtransactionStatus(db->conn) == PQTRANS_IDLE;
	if (PQconsumeInput(db->conn) != 1 ||
	    PQstatus(db->conn) != CONNECTION_OK) {
		if (idle && !db->kept_used) {
			char line[300];

			estca_one_line(line, sizeof(line), PQerrorMessage(db->conn));
			log_info("postgres: connection lost while idle (%s); "
			    "connecting again", line);
			db_drop(db);
		} else {
			db_forget_kept(db);
		}
		return;
	}
	while ((n = PQnotifies(db->conn)) != NULL) {
		db_forget_kept(db);
		PQfreemem(n);
	}
	/* a message the server sent unasked: a shutdown or termination
	 * announces itself so before the socket closes */
	if (db->noticed)
		db_forget_kept(db);
}

/* The RA members kept for (alias, username): true with m[0..*n) set. */
bool
db_ra_kept(struct estca_db *db, const char *alias, const char *username,
    struct estca_ra_member *m, size_t *n)
{
	config_notices(db);
	for (size_t i = 0; i < db->nra; i++) {
		const struct db_ra_kept *k = &db->ra[i];

		if (strcmp(k->alias, alias) == 0 &&
		    strcmp(k->username, username) == 0) {
			memcpy(m, k->m, k->n * sizeof(*m));
			*n = k->n;
			db->kept_used = true;
			return true;
		}
	}
	return false;
}

/* Keep m[0..n) (just read from the database) for (alias, username). */
void
db_ra_keep(struct estca_db *db, const char *alias, const char *username,
    const struct estca_ra_member *m, size_t n)
{
	struct db_ra_kept *k;

	if (db->conn == NULL || n == 0 || n > ESTCA_DB_RA_MEMBERS_MAX)
		return;
	if (db->nra == DB_RA_CACHE) {
		OPENSSL_cleanse(db->ra, sizeof(db->ra));
		db->nra = 0;
	}
	k = &db->ra[db->nra];
	if (estca_str_copy(k->alias, sizeof(k->alias), alias) != 0 ||
	    estca_str_copy(k->username, sizeof(k->username), username) != 0) {
		OPENSSL_cleanse(k, sizeof(*k));
		return;
	}
	memcpy(k->m, m, n * sizeof(*m));
	k->n = n;
	db->nra++;
}

/*
 * The alias name from the cache, or from est.alias (then cached).  A
 * DBA's change reaches the cache as a notice: the triggers of
 * 012_record_phase.sql raise it when the change commits, and Postgres
 * sends it to this connection at once (the worker is idle between
 * requests); it is read here, before the cache is.  A request in the
 * moment between the COMMIT and the notice's arrival sees the row as it
 * was, as if it had come just before the COMMIT.
 */
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
	config_notices(db);
	for (size_t i = 0; i < db->nalias; i++)
		if (strcmp(db->alias[i].name, name) == 0) {
			*a = db->alias[i];
			db->kept_used = true;
			return 0;
		}
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
	/* Only a name the database returned (the row's own, same bytes) */
	if (strcmp(a->name, name) == 0 && db->conn != NULL) {
		if (db->nalias == DB_ALIAS_CACHE)
			db->nalias = 0;
		db->alias[db->nalias++] = *a;
	}
	return 0;
}

void
estca_db_new_request(struct estca_db *db)
{
	db->kept_used = false;
}
