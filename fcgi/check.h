/*
 * check.h - estca-fcgi --check-config: everything a worker needs before
 * the web server starts it, tried once from the command line.
 */
#ifndef ESTCA_FCGI_CHECK_H
#define ESTCA_FCGI_CHECK_H

#include "fcgi.h"

/*
 * Connect to Postgres with c's pg_conninfo (as whoever runs this: run it
 * as the web server's user), check that the role may act as estca_web and
 * that est.schema_migration is at ESTCA_SCHEMA_VERSION, then reach the
 * engine's socket with a health request and fetch the chain of every CA
 * an alias names.  Each failure is one line on stderr ("estca-fcgi:
 * <what>: <why>"); success is one line on stdout.  Returns 0 when all
 * passed, else the number of failed checks.
 */
int estca_fcgi_check(const struct estca_fcgi_conf *c);

#endif
