/*
 * certder.h - certificates the worker only passes on, kept as DER: what
 * est.certificate records of one, and the certs-only PKCS#7 that carries
 * them to the client, without decoding their public keys.
 *
 * OpenSSL 3.0 decodes a certificate's public key through its provider
 * decoders on every d2i_X509 (about 90 µs for a P-256 key on the
 * reference machine, more than recording the certificate costs); the
 * worker never needs that key, so it reads the certificate with a
 * template that leaves the key as bytes.
 */
#ifndef ESTCA_CERTDER_H
#define ESTCA_CERTDER_H

#include <stddef.h>
#include "errors.h"

/* What est.certificate records of a certificate, as text. */
struct estca_cert_text {
	char serial[48];           /* upper-case hex, no leading zeros */
	char issuer[1025];         /* RFC 4514, at most ESTCA_DB_DN_MAX */
	char subject[1025];
	char not_before[80];       /* "YYYY-MM-DD hh:mm:ss+00" */
	char not_after[80];
};

/*
 * Read der[0..len) as one X.509 certificate (nothing after it) into *t.
 * 0; ESTCA_ERR_MALFORMED when it does not decode or its serial is
 * negative; ESTCA_ERR_TOO_LARGE when a name does not fit its field.
 */
int estca_cert_der_text(const unsigned char *der, size_t len,
    struct estca_cert_text *t) ESTCA_WUR;

/*
 * The DER of a certs-only PKCS#7 (a SignedData with no content, no
 * digest algorithms and no signers) holding the n certificates der[i]
 * (len[i] bytes each) in that order.  *out is the caller's
 * (OPENSSL_free).  0, ESTCA_ERR_NOMEM, or ESTCA_ERR_TOO_LARGE.
 */
int estca_certs_only_wrap(const unsigned char *const *der, const size_t *len,
    size_t n, unsigned char **out, size_t *outlen) ESTCA_WUR;

#endif
