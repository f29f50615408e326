/*
 * status.h - the one table from error codes to HTTP answers.
 *
 * Handlers return 0 or a negative code: an ESTCA_ERR_* (lib/errors.h) or
 * one of the web-tier codes below, which exist only because HTTP has answers
 * the rest of estca never needs.  status.c maps each code to exactly one
 * status, reason phrase and default one-line reason; nothing else in fcgi/
 * chooses a status number for an error.
 */
#ifndef ESTCA_STATUS_H
#define ESTCA_STATUS_H

#include <stdbool.h>
#include "errors.h"

/* Web-tier codes; kept far below engine codes so they never collide. */
enum estca_web_err {
	ESTCA_WEB_ERR_METHOD = -200,   /* known operation, wrong HTTP method */
	ESTCA_WEB_ERR_NOT_IMPL = -201, /* operation routed but not implemented yet */
	ESTCA_WEB_ERR_MEDIA_TYPE = -202, /* request body of the wrong Content-Type */
	ESTCA_WEB_ERR_AUTH = -203,     /* credentials needed or wrong (401 with
	                                * WWW-Authenticate: Basic) */
	ESTCA_WEB_PENDING = -204,      /* not an error: the request waits in the
	                                * approval queue (202 with Retry-After) */
};

/* Retry-After of a 202 for a queued request (doc/enrollment.md). */
#define ESTCA_APPROVAL_RETRY_SECS 60

struct estca_status {
	int err;              /* 0, an ESTCA_ERR_* or an ESTCA_WEB_ERR_* */
	int http;             /* HTTP status code */
	const char *phrase;   /* reason phrase for the Status: line */
	const char *reason;   /* default one-line reason for the body */
	int retry_after;      /* > 0: add Retry-After with these seconds (the
	                       * condition is temporary) */
};

/* The entry for err; unknown codes get the 500 entry.  Never NULL. */
const struct estca_status *estca_status_of(int err);

/* Reason phrase for an HTTP status we send ("OK" for 200, ...). */
const char *estca_http_phrase(int http);

/*
 * What a client should see when a call to the engine failed with r: the
 * engine (or the HSM behind it) being away is temporary (503); the engine
 * refusing by policy is 403; anything else is our problem (500).
 */
int estca_web_engine_err(int r);

#endif
