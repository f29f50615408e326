/*
 * csr.h - an enrollment request body (RFC 7030 4.2.1, RFC 8951) turned
 * into a verified PKCS#10 request and the facts the policy needs.
 *
 * Accepted bodies:
 *  - base64 of the DER CertificationRequest (RFC 4648 alphabet), with or
 *    without line breaks, blanks anywhere, with or without '=' padding;
 *    whether a Content-Transfer-Encoding header came along does not
 *    matter (RFC 8951: the body is base64 either way);
 *  - the raw DER itself, recognised by its first two octets (a SEQUENCE
 *    with a long-form length: 0x30 0x81..0x84), which can never begin
 *    base64 text.
 * PEM armour ("-----BEGIN") is not accepted.  The request's signature
 * must verify with its own key (proof of possession); bytes left after
 * the DER are an error.
 *
 * Nothing here does I/O; tests/unit_policy.c drives it directly.
 */
#ifndef ESTCA_CSR_H
#define ESTCA_CSR_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "errors.h"
#include "buf.h"

#define ESTCA_CODE_MAX 255   /* longest enrollment code (PKCS#9 ub) */

struct estca_csr {
	X509_REQ *req;
	const X509_NAME *subject;   /* points into req */
	X509_PUBKEY *spki;          /* points into req */
	GENERAL_NAMES *sans;        /* owned; NULL when none requested */
	char *challenge;            /* challengePassword as UTF-8, NUL-ended;
	                             * NULL when absent; a secret, wiped on free */
};

/*
 * Decode and verify body[0..len).  Returns 0 with c filled, or
 * ESTCA_ERR_MALFORMED / ESTCA_ERR_NOMEM with why (a client-safe line)
 * saying what is wrong.  c is empty on failure.
 */
int estca_csr_decode(const unsigned char *body, size_t len, struct estca_csr *c,
    char *why, size_t whylen) ESTCA_WUR;
void estca_csr_free(struct estca_csr *c);

/*
 * Decode base64 text in[0..len) into out (which caps it): blanks, tabs,
 * CR and LF are skipped anywhere; padding is optional but, when present,
 * only at the end.  ESTCA_ERR_MALFORMED for any other byte.
 */
int estca_base64_decode(const unsigned char *in, size_t len,
    struct estca_buf *out) ESTCA_WUR;

/* Is the Content-Type value ctype the media type want (case ignored,
 * parameters after ';' ignored)?  NULL ctype: no. */
bool estca_media_type_is(const char *ctype, const char *want);

#endif
