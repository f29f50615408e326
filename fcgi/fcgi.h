/*
 * fcgi.h - what the parts of estca-fcgi share: the per-process context
 * (owned by main.c, passed down; there is no other mutable process state)
 * and the per-request record.  Handlers (op_*.c) get both and either
 * write a complete reply with reply.c and return 0, or write nothing and
 * return an error code for main.c to answer, using status.c's table
 * (which also answers ESTCA_WEB_PENDING, the 202 of the approval queue).
 */
#ifndef ESTCA_FCGI_H
#define ESTCA_FCGI_H

#include <stdbool.h>
#include <stddef.h>
#include <fcgiapp.h>
#include "errors.h"
#include "conf.h"
#include "client.h"
#include "route.h"
#include "db.h"
#include "cred.h"

struct estca_fcgi_conf {
	struct estca_conf raw;      /* the parsed file; strings below point in */
	const char *path;
	const char *pg_conninfo;    /* libpq conninfo or URI */
	const char *engine_socket;
	int engine_timeout_ms;
	int log_level;
	size_t max_body;            /* cap on a request body (enrollment ops) */
};

/* One per worker process, alive from start-up to exit. */
struct estca_ctx {
	struct estca_fcgi_conf conf;
	struct estca_db *db;            /* kept open across requests */
	struct estca_engine *engine;    /* kept open across requests */
	struct estca_ra_cache ra_cache; /* RA passwords checked lately (cred.h) */
};

/* One per request; lives on main.c's stack for one FCGX_Accept_r round. */
struct estca_http {
	FCGX_Request *fx;
	const char *method;         /* REQUEST_METHOD, never NULL */
	bool head;                  /* HEAD: headers only */
	char logpath[300];          /* the request path, made safe for logs */
	struct est_route route;
	struct estca_alias alias;   /* the alias row, once looked up */
	int status;                 /* HTTP status sent, 0 before */
	/* The body of an operation that takes one (read by main.c): */
	struct estca_buf body;
	int body_err;               /* 0, or why body is unusable */
	char body_why[160];         /* ... in one client-safe line */
	/* Filled by a handler that returns an error: */
	char reason[200];           /* for the client (one line); "" = default */
	char www_auth[1024];        /* a 401's WWW-Authenticate lines besides
	                             * Basic (Digest challenges), "" none */
	char detail[512];           /* for the log only; may name paths, hosts */
};

/* Operation handlers: 0 after a full reply was written, else an error. */
int estca_op_cacerts(struct estca_ctx *ctx, struct estca_http *h) ESTCA_WUR;
int estca_op_csrattrs(struct estca_ctx *ctx, struct estca_http *h) ESTCA_WUR;
int estca_op_serverkeygen(struct estca_ctx *ctx, struct estca_http *h) ESTCA_WUR;
int estca_op_simpleenroll(struct estca_ctx *ctx, struct estca_http *h) ESTCA_WUR;
int estca_op_simplereenroll(struct estca_ctx *ctx, struct estca_http *h) ESTCA_WUR;

/* Format into h->reason / h->detail (truncating); returns err unchanged
 * (reply.c). */
int estca_http_fail(struct estca_http *h, int err, const char *reason,
    const char *detail_fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
