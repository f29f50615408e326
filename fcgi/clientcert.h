/*
 * clientcert.h - what a TLS client certificate is worth.
 *
 * The web server only asks for a certificate (SSLVerifyClient
 * optional_no_ca) and exports it as PEM in SSL_CLIENT_CERT, even when it
 * could not verify it; the handshake proved the client holds its key.
 * Whether it came from a CA we trust for a purpose is decided here, in the
 * worker, against a trust store chosen per purpose (this alias's CA for
 * renewal).  Headers a client sends arrive as HTTP_*, never as SSL_*.
 */
#ifndef ESTCA_CLIENTCERT_H
#define ESTCA_CLIENTCERT_H

#include <stddef.h>
#include <fcgiapp.h>
#include <openssl/x509.h>
#include "errors.h"

/*
 * The client certificate of the request.  ESTCA_ERR_NOT_FOUND when the
 * client presented none; ESTCA_ERR_MALFORMED when the variable holds
 * anything but exactly one PEM certificate.  *out owned by the caller.
 */
int estca_client_cert(FCGX_ParamArray envp, X509 **out) ESTCA_WUR;

/*
 * Was cert issued by chain's first certificate (the CA; the rest of chain
 * are its issuers), and is it fit for TLS client authentication?
 * Validity dates are not checked here (the caller tells "expired" apart).
 * Returns 0, or ESTCA_ERR_REFUSED with why set.
 */
int estca_cert_issued_by(X509 *cert, STACK_OF(X509) *chain, char *why,
    size_t whylen) ESTCA_WUR;

/*
 * The certificates the client sent after its own (Apache's
 * SSL_CLIENT_CERT_CHAIN_0, _1, ...; lighttpd exports none), as a stack
 * the caller frees (possibly empty).  They are only candidates for
 * intermediates: nothing here trusts them.  Variables that do not hold
 * one PEM certificate are skipped; at most ESTCA_CLIENT_CHAIN_MAX are read.
 */
#define ESTCA_CLIENT_CHAIN_MAX 8
int estca_client_chain(FCGX_ParamArray envp, STACK_OF(X509) **out) ESTCA_WUR;

/*
 * Does cert chain to one of anchors (each trusted as it is, a root or
 * not), through untrusted (may be NULL), valid now, fit for TLS client
 * authentication?  Returns 0, or ESTCA_ERR_REFUSED with why set.
 */
int estca_cert_verify(X509 *cert, STACK_OF(X509) *anchors,
    STACK_OF(X509) *untrusted, char *why, size_t whylen) ESTCA_WUR;

#endif
