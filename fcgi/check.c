/*
 * check.c - estca-fcgi --check-config (check.h).  It only reads: one
 * SELECT on the schema bookkeeping and the aliases, a health request and
 * get-chain requests to the engine.  It must never print the connection
 * string (it may hold a password), only what libpq says went wrong.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>
#include "check.h"
#include "client.h"
#include "str.h"
#include "schema_version.h"

#define MAX_CHECK_CAS 32

/* One failure line on stderr; returns 1 (one failed check). */
static int __attribute__((format(printf, 1, 2)))
bad(const char *fmt, ...)
{
	char raw[600], line[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	estca_one_line(line, sizeof(line), raw);
	fprintf(stderr, "estca-fcgi: %s\n", line);
	return 1;
}

/* libpq's message (several lines, trailing newline) as one line. */
static const char *
pq_why(PGconn *pg, char *buf, size_t len)
{
	estca_one_line(buf, len, PQerrorMessage(pg));
	return buf[0] ? buf : "unknown error";
}

/*
 * The database part: role, schema version, and the CA names the aliases
 * use (into cas, *ncas).  Returns the number of failed checks.
 */
static int
check_db(const struct estca_fcgi_conf *c, char cas[][65], size_t *ncas,
    char *who, size_t wholen, long *version)
{
	static const char q_ver[] =
	    "SELECT current_user, pg_has_role('estca_web', 'USAGE'), "
	    "(SELECT coalesce(max(version), 0) FROM est.schema_migration)";
	static const char q_cas[] =
	    "SELECT DISTINCT ca_name FROM est.alias ORDER BY 1";
	char why[400];
	PGconn *pg;
	PGresult *res;
	int fails = 0;

	*ncas = 0;
	pg = PQconnectdb(c->pg_conninfo);
	if (pg == NULL)
		return bad("database: out of memory");
	if (PQstatus(pg) != CONNECTION_OK) {
		fails = bad("database: cannot connect: %s", pq_why(pg, why, sizeof(why)));
		PQfinish(pg);
		return fails;
	}
	res = PQexecParams(pg, q_ver, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fails += bad("database: cannot read est.schema_migration (not "
		    "initialised with estca-dbinit, or no access): %s",
		    pq_why(pg, why, sizeof(why)));
		PQclear(res);
		PQfinish(pg);
		return fails;
	}
	if (estca_str_copy(who, wholen, PQgetvalue(res, 0, 0)) != 0)
		snprintf(who, wholen, "?");
	*version = strtol(PQgetvalue(res, 0, 2), NULL, 10);
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
		fails += bad("database: role %s is not a member of estca_web "
		    "(estca-dbinit --web-role %s)", who, who);
	if (*version < ESTCA_SCHEMA_VERSION)
		fails += bad("database: schema at version %ld, this estca-fcgi "
		    "needs %d: apply the migrations with estca-dbinit", *version,
		    ESTCA_SCHEMA_VERSION);
	else if (*version > ESTCA_SCHEMA_VERSION)
		fails += bad("database: schema at version %ld is newer than this "
		    "estca-fcgi (%d): install the estca that came with it",
		    *version, ESTCA_SCHEMA_VERSION);
	PQclear(res);

	res = PQexecParams(pg, q_cas, 0, NULL, NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fails += bad("database: cannot read est.alias: %s",
		    pq_why(pg, why, sizeof(why)));
	} else {
		for (int i = 0; i < PQntuples(res) && *ncas < MAX_CHECK_CAS; i++)
			if (estca_str_copy(cas[*ncas], sizeof(cas[0]),
			    PQgetvalue(res, i, 0)) == 0)
				(*ncas)++;
	}
	PQclear(res);
	PQfinish(pg);
	return fails;
}

/* The engine part: health, then each CA's chain.  Failed checks. */
static int
check_engine(const struct estca_fcgi_conf *c, char cas[][65], size_t ncas)
{
	struct estca_engine *e = NULL;
	char reason[256];
	int fails = 0, r;

	if (estca_engine_open(c->engine_socket, c->engine_timeout_ms, &e) != 0)
		return bad("engine: out of memory");
	if ((r = estca_engine_health(e, reason, sizeof(reason))) != 0) {
		int en = estca_engine_last_errno(e);

		if (en != 0)
			fails = bad("engine: cannot connect to %s: %s",
			    c->engine_socket, strerror(en));
		else
			fails = bad("engine: %s: health request failed: %s",
			    c->engine_socket, reason);
		estca_engine_close(e);
		return fails;
	}
	for (size_t i = 0; i < ncas; i++) {
		STACK_OF(X509) *chain = NULL;

		if (estca_engine_get_chain(e, cas[i], &chain, reason,
		    sizeof(reason)) != 0)
			fails += bad("engine: CA '%s' (named by an alias): %s",
			    cas[i], reason);
		sk_X509_pop_free(chain, X509_free);
	}
	estca_engine_close(e);
	return fails;
}

int
estca_fcgi_check(const struct estca_fcgi_conf *c)
{
	char cas[MAX_CHECK_CAS][65], who[128] = "?", list[600] = "";
	size_t ncas = 0, o = 0;
	long version = 0;
	int fails;

	fails = check_db(c, cas, &ncas, who, sizeof(who), &version);
	fails += check_engine(c, cas, ncas);
	if (fails != 0) {
		fprintf(stderr, "estca-fcgi: %s: %d check%s failed\n", c->path,
		    fails, fails == 1 ? "" : "s");
		return fails;
	}
	for (size_t i = 0; i < ncas && o + 70 < sizeof(list); i++)
		o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
		    i ? " " : "", cas[i]);
	printf("estca-fcgi: %s OK: database as %s at schema version %ld, "
	    "engine %s answers, alias CAs: %s\n", c->path, who, version,
	    c->engine_socket, ncas ? list : "(no alias yet)");
	return 0;
}
