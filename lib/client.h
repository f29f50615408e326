/*
 * client.h - the engine's client library (linked by fcgi/ and tools).
 *
 * One connection to estca-signd's Unix socket; one request, one reply.
 * estca_engine_call() reconnects once when the engine closed an idle
 * connection (engine restarted), so callers may keep a connection for the
 * life of a worker.  The caller owns every object it gets back.
 */
#ifndef ESTCA_CLIENT_H
#define ESTCA_CLIENT_H

#include <stddef.h>
#include <openssl/x509.h>
#include "errors.h"
#include "wire.h"

struct estca_engine;

/* Allocate a handle for socket path; connects lazily. */
int estca_engine_open(const char *path, int timeout_ms, struct estca_engine **out) ESTCA_WUR;
void estca_engine_close(struct estca_engine *e);

/* errno of the last failed connect (0 if none), for a specific log line. */
int estca_engine_last_errno(const struct estca_engine *e);

/*
 * Send req, wait for the reply.  Returns 0 when a reply arrived (whatever
 * its status), or ESTCA_ERR_UNAVAILABLE/IO/MALFORMED when none did.
 */
int estca_engine_call(struct estca_engine *e, const ESTCA_REQ *req,
    ESTCA_REPLY **rep) ESTCA_WUR;

/*
 * Status and reason of a reply: returns the reply's status (0 or an
 * ESTCA_ERR_*) and copies its reason (or the generic text) into reason.
 */
int estca_wire_reply_status(const ESTCA_REPLY *rep, char *reason, size_t reasonlen);

/* The CA chain of ca_name, CA certificate first.  *chain owned by caller. */
int estca_engine_get_chain(struct estca_engine *e, const char *ca_name,
    STACK_OF(X509) **chain, char *reason, size_t reasonlen) ESTCA_WUR;

struct estca_sign_args {
	const char *ca_name;
	const char *profile;
	const X509_NAME *subject;
	const STACK_OF(GENERAL_NAME) *sans;   /* may be NULL */
	const X509_PUBKEY *spki;
	long validity_secs;                   /* 0: the profile's default */
	const char *requester;
};

/* Ask the engine to build and sign a certificate.  *cert owned by caller. */
int estca_engine_sign(struct estca_engine *e, const struct estca_sign_args *a,
    X509 **cert, char *reason, size_t reasonlen) ESTCA_WUR;

/*
 * The framed sign request for a, appended to frame, as estca_engine_sign()
 * would send it: for callers that write several requests before reading
 * the replies (the engine answers them in order).
 */
int estca_sign_frame(const struct estca_sign_args *a, struct estca_buf *frame) ESTCA_WUR;

/*
 * The same, handing back the certificate's DER as the engine sent it
 * (*der, *derlen; free with OPENSSL_free) without decoding it: for callers
 * that only pass the certificate on.
 */
int estca_engine_sign_der(struct estca_engine *e, const struct estca_sign_args *a,
    unsigned char **der, size_t *derlen, char *reason, size_t reasonlen) ESTCA_WUR;

/*
 * Ask the engine to generate a key pair of key_type in the HSM and certify
 * it (a->spki is ignored).  *pkcs8 (PKCS#8 DER, *pkcs8len bytes) is a
 * private key: the caller wipes and frees it with OPENSSL_clear_free().
 */
int estca_engine_keygen(struct estca_engine *e, const struct estca_sign_args *a,
    const char *key_type, X509 **cert, unsigned char **pkcs8, size_t *pkcs8len,
    char *reason, size_t reasonlen) ESTCA_WUR;

/* The same, handing back the certificate's DER undecoded (*der, *derlen;
 * OPENSSL_free), as estca_engine_sign_der() does. */
int estca_engine_keygen_der(struct estca_engine *e,
    const struct estca_sign_args *a, const char *key_type, unsigned char **der,
    size_t *derlen, unsigned char **pkcs8, size_t *pkcs8len, char *reason,
    size_t reasonlen) ESTCA_WUR;

int estca_engine_health(struct estca_engine *e, char *reason, size_t reasonlen) ESTCA_WUR;

#endif
