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
 * ChangeSubjectName (RFC 6402 2.8, attribute id-cmc-changeSubjectName
 * 1.3.6.1.5.5.7.7.36): at most one such attribute, with exactly one value,
 * the DER of
 *     ChangeSubjectName ::= SEQUENCE {
 *         subject     Name OPTIONAL,
 *         subjectAlt  GeneralNames OPTIONAL }
 * with at least one of the two.  Both are untagged SEQUENCEs, so a lone
 * element is told apart by its first inner element: a SET (an RDN) or
 * nothing makes it the subject, a context-specific tag (a GeneralName)
 * makes it subjectAlt.  Anything else, or bytes after it, is refused.
 *
 * Nothing here does I/O; tests/unit_csr.c drives it directly.
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

struct estca_csr_req;           /* the decoded request (csr.c) */

struct estca_csr {
	struct estca_csr_req *req;
	const X509_NAME *subject;   /* points into req */
	X509_PUBKEY *spki;          /* owned: the request's
	                             * SubjectPublicKeyInfo, to encode */
	EVP_PKEY *key;              /* owned: the request's public key */
	GENERAL_NAMES *sans;        /* owned; NULL when none requested */
	char *challenge;            /* challengePassword as UTF-8, NUL-ended;
	                             * NULL when absent; a secret, wiped on free */
	bool csn;                   /* carries ChangeSubjectName */
	X509_NAME *csn_subject;     /* owned; its subject, NULL when absent */
	GENERAL_NAMES *csn_sans;    /* owned; its subjectAlt, NULL when absent */
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
 * The request's DER into *der (OPENSSL_free it), re-encoded as
 * i2d_X509_REQ would (the signed part as received): its length, or <= 0.
 */
int estca_csr_der(const struct estca_csr *c, unsigned char **der) ESTCA_WUR;

/* The ChangeSubjectName attribute type, dotted. */
#define ESTCA_OID_CHANGE_SUBJECT_NAME "1.3.6.1.5.5.7.7.36"

/*
 * Decode the DER of one ChangeSubjectName value (the rules above) into
 * *subject and *sans (either may come back NULL, not both; caller frees).
 * Returns 0 or ESTCA_ERR_MALFORMED with why set.
 */
int estca_csn_decode(const unsigned char *der, size_t len, X509_NAME **subject,
    GENERAL_NAMES **sans, char *why, size_t whylen) ESTCA_WUR;


/* Is the Content-Type value ctype the media type want (case ignored,
 * parameters after ';' ignored)?  NULL ctype: no. */
bool estca_media_type_is(const char *ctype, const char *want);

#endif
