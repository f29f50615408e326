/*
 * status.c - see status.h.  The only place in fcgi/ where an error code
 * becomes an HTTP status.  Default reasons are what a client may read:
 * they never carry paths, host names or library messages (those go to
 * the log, see main.c).
 */
#include <stddef.h>
#include "status.h"

static const struct estca_status table[] = {
	{ ESTCA_OK, 200, "OK", "ok", 0 },
	{ ESTCA_WEB_PENDING, 202, "Accepted", "waiting for approval",
	    ESTCA_APPROVAL_RETRY_SECS },
	{ ESTCA_ERR_MALFORMED, 400, "Bad Request", "malformed request", 0 },
	{ ESTCA_WEB_ERR_AUTH, 401, "Unauthorized",
	    "credentials required", 0 },
	{ ESTCA_ERR_REFUSED, 403, "Forbidden", "refused by policy", 0 },
	{ ESTCA_ERR_PERM, 403, "Forbidden", "not permitted", 0 },
	{ ESTCA_ERR_NOT_FOUND, 404, "Not Found", "not found", 0 },
	{ ESTCA_WEB_ERR_METHOD, 405, "Method Not Allowed",
	    "method not allowed for this operation", 0 },
	{ ESTCA_ERR_TOO_LARGE, 413, "Content Too Large",
	    "request body too large", 0 },
	{ ESTCA_WEB_ERR_MEDIA_TYPE, 415, "Unsupported Media Type",
	    "unsupported Content-Type", 0 },
	{ ESTCA_ERR_UNSUPPORTED, 501, "Not Implemented", "not supported", 0 },
	{ ESTCA_WEB_ERR_NOT_IMPL, 501, "Not Implemented",
	    "not implemented yet", 0 },
	{ ESTCA_ERR_UNAVAILABLE, 503, "Service Unavailable",
	    "service temporarily unavailable", 10 },
	/* Everything below is a fault on our side: 500, details in the log. */
	{ ESTCA_ERR_INTERNAL, 500, "Internal Server Error", "internal error", 0 },
	{ ESTCA_ERR_NOMEM, 500, "Internal Server Error", "internal error", 0 },
	{ ESTCA_ERR_IO, 500, "Internal Server Error", "internal error", 0 },
	{ ESTCA_ERR_CONFIG, 500, "Internal Server Error", "internal error", 0 },
	{ ESTCA_ERR_HSM, 500, "Internal Server Error", "internal error", 0 },
	{ ESTCA_ERR_VERSION, 500, "Internal Server Error", "internal error", 0 },
};

const struct estca_status *
estca_status_of(int err)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].err == err)
			return &table[i];
	return estca_status_of(ESTCA_ERR_INTERNAL);
}

const char *
estca_http_phrase(int http)
{
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (table[i].http == http)
			return table[i].phrase;
	return "Unknown";
}

int
estca_web_engine_err(int r)
{
	switch (r) {
	case ESTCA_OK:
		return ESTCA_OK;
	case ESTCA_ERR_UNAVAILABLE:
	case ESTCA_ERR_IO:
	/* the engine refuses this worker (its allow_uids/allow_gids): an
	 * operator's fix, logged with the engine's reason; clients retry */
	case ESTCA_ERR_PERM:
		return ESTCA_ERR_UNAVAILABLE;
	case ESTCA_ERR_REFUSED:
		return ESTCA_ERR_REFUSED;
	default:
		return ESTCA_ERR_INTERNAL;
	}
}
