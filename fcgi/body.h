/*
 * body.h - reading a request body from the web server, exactly.
 *
 * mod_fcgid hands a worker an empty or truncated body (and the client a
 * 200) when Apache's LimitRequestBody is below FcgidMaxRequestLen, so a
 * body is only good when exactly CONTENT_LENGTH bytes arrived.  Without
 * CONTENT_LENGTH (mod_proxy_fcgi and chunked bodies) the body runs to the
 * end of the FastCGI stream.
 */
#ifndef ESTCA_BODY_H
#define ESTCA_BODY_H

#include <stddef.h>
#include <fcgiapp.h>
#include "errors.h"
#include "buf.h"

/*
 * Read the body from in into out (initialised by the caller; its cap is
 * ignored, cap here rules).  content_length is CONTENT_LENGTH or NULL.
 * Returns 0; ESTCA_ERR_TOO_LARGE above cap (what is left is read and
 * dropped, up to a bound, so the server is never stuck); or
 * ESTCA_ERR_MALFORMED for an empty body, a bad CONTENT_LENGTH, or a body
 * shorter or longer than announced.  why receives a client-safe line.
 * out is empty on failure.
 */
int estca_body_read(FCGX_Stream *in, const char *content_length, size_t cap,
    struct estca_buf *out, char *why, size_t whylen) ESTCA_WUR;

#endif
