/*
 * route.h - which EST operation a request names, decided from the CGI
 * variables alone.
 *
 * The router is a pure function: no I/O, no database, no allocation, so
 * tests/unit_route.c drives it with a table.  It only says which alias and
 * operation the path names and whether the method fits; whether the alias
 * exists is the database's business (db.c), and whether the operation is
 * implemented is main.c's.  Every comparison is an equality: a path is
 * never accepted because it merely starts like a good one.
 */
#ifndef ESTCA_ROUTE_H
#define ESTCA_ROUTE_H

#include "errors.h"

/* The fixed EST prefix (RFC 7030 3.2.2) and the alias used without one. */
#define EST_PATH_PREFIX "/.well-known/est"
#define EST_DEFAULT_ALIAS "est"
#define EST_ALIAS_MAX 64

enum est_op {
	EST_OP_NONE = 0,
	EST_OP_CACERTS,
	EST_OP_SIMPLEENROLL,
	EST_OP_SIMPLEREENROLL,
	EST_OP_SERVERKEYGEN,
	EST_OP_FULLCMC,
	EST_OP_CSRATTRS,
};

struct est_route {
	char alias[EST_ALIAS_MAX + 1];  /* filled when the path parsed */
	enum est_op op;                 /* EST_OP_NONE unless the op is known */
	const char *op_name;            /* static; NULL unless op is known */
	const char *allow;              /* static; methods op accepts (Allow:) */
	const char *why;                /* static; one-line reason on failure */
};

/*
 * Route a request.  script_name and path_info are the CGI variables (either
 * may be NULL): servers split the URL path between them differently, so
 * their concatenation must be exactly /.well-known/est/<op> or
 * /.well-known/est/<alias>/<op>.  method is REQUEST_METHOD (may be NULL).
 *
 * Returns 0 with out filled; ESTCA_ERR_NOT_FOUND for any other path (bad
 * prefix, unknown operation, bad alias, empty or extra segments); or
 * ESTCA_WEB_ERR_METHOD when the operation is known but the method is not
 * one it accepts (out->op and out->allow are then set).  out->why always
 * says why on failure.
 */
int est_route(const char *script_name, const char *path_info,
    const char *method, struct est_route *out) ESTCA_WUR;

/* Name of an operation ("cacerts"), or "?" for EST_OP_NONE. */
const char *est_op_name(enum est_op op);

#endif
