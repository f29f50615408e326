/*
 * reply.h - writing HTTP answers through FastCGI (Status:, headers, body).
 *
 * Every byte a client receives leaves through here.  A reply is written
 * whole or not at all from the caller's point of view: headers and body
 * are assembled first, so a handler never leaves a half-written answer.
 */
#ifndef ESTCA_REPLY_H
#define ESTCA_REPLY_H

#include <stddef.h>
#include <openssl/x509.h>
#include "errors.h"
#include "buf.h"
#include "str.h"
#include "fcgi.h"

/*
 * Send a success reply: status http, Content-Type ctype (NULL: none), the
 * extra header lines in extra ("Name: value\r\n" each, or NULL), then body
 * unless the request is HEAD.  Content-Length is sent except with 204.
 * Records h->status.
 * Returns 0 or ESTCA_ERR_IO (the web server went away).
 */
int estca_http_reply(struct estca_http *h, int http, const char *ctype,
    const char *extra, const void *body, size_t len) ESTCA_WUR;

/*
 * Send the error reply for err (status.c's table): text/plain, one line,
 * h->reason or the table's default reason; Allow: for a wrong method,
 * Retry-After: for temporary conditions.  Returns 0 or ESTCA_ERR_IO.
 */
int estca_http_reply_error(struct estca_http *h, int err) ESTCA_WUR;

/*
 * Send a 200 whose body is base64 (with line breaks) of a certs-only
 * PKCS#7 SignedData holding certs in their order (cacerts, enrollment
 * replies), under Content-Type ctype with Content-Transfer-Encoding:
 * base64.  Returns 0, ESTCA_ERR_IO, or an encoding error before anything
 * was sent (h->detail says which).
 */
int estca_http_reply_certs(struct estca_http *h, STACK_OF(X509) *certs,
    const char *ctype) ESTCA_WUR;

/* The same for one certificate given as DER (cert[0..certlen)), which is
 * not decoded. */
int estca_http_reply_cert_der(struct estca_http *h, const unsigned char *cert,
    size_t certlen, const char *ctype) ESTCA_WUR;

/*
 * DER of a certs-only PKCS#7 SignedData (no signers, no content) holding
 * certs in their order; *der is OPENSSL_free'd by the caller.
 */
int estca_certs_only_der(STACK_OF(X509) *certs, unsigned char **der,
    size_t *derlen) ESTCA_WUR;

/*
 * Send the serverkeygen answer (RFC 7030 4.4.2): multipart/mixed with an
 * application/pkcs8 part (the private key) and an application/pkcs7-mime
 * certs-only part (the certificate, cert[0..certlen) as DER), both base64.  The assembled body is
 * wiped after sending.  Returns 0, ESTCA_ERR_IO, or an error before
 * anything was sent (h->detail says which).
 */
int estca_http_reply_serverkeygen(struct estca_http *h,
    const unsigned char *cert, size_t certlen, const unsigned char *pkcs8,
    size_t pkcs8len) ESTCA_WUR;

/*
 * Read and throw away what is left of the request body, at most cap bytes.
 * A server that writes the whole body before reading our answer (mod_fcgid)
 * would otherwise block on a body we never read.
 */
void estca_drain_body(struct estca_http *h, size_t cap);

#endif
