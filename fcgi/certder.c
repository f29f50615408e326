/*
 * certder.c - see certder.h.  Reads a certificate through a template of
 * its own (RFC 5280 4.1, the subjectPublicKeyInfo and the extensions
 * kept as undecoded ANY), and writes the certs-only PKCS#7 by hand: its
 * fixed parts around the certificates' DER.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include "certder.h"
#include "names.h"
#include "str.h"

typedef struct {
	ASN1_TIME *not_before;
	ASN1_TIME *not_after;
} CERTDER_VALIDITY;

typedef struct {
	ASN1_INTEGER *version;
	ASN1_INTEGER *serial;
	X509_ALGOR *signature;
	X509_NAME *issuer;
	CERTDER_VALIDITY *validity;
	X509_NAME *subject;
	ASN1_TYPE *spki;
	ASN1_BIT_STRING *issuer_uid;
	ASN1_BIT_STRING *subject_uid;
	ASN1_TYPE *extensions;
} CERTDER_TBS;

typedef struct {
	CERTDER_TBS *tbs;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *sig;
} CERTDER_CERT;

ASN1_SEQUENCE(CERTDER_VALIDITY) = {
	ASN1_SIMPLE(CERTDER_VALIDITY, not_before, ASN1_TIME),
	ASN1_SIMPLE(CERTDER_VALIDITY, not_after, ASN1_TIME),
} static_ASN1_SEQUENCE_END(CERTDER_VALIDITY)

ASN1_SEQUENCE(CERTDER_TBS) = {
	ASN1_EXP_OPT(CERTDER_TBS, version, ASN1_INTEGER, 0),
	ASN1_SIMPLE(CERTDER_TBS, serial, ASN1_INTEGER),
	ASN1_SIMPLE(CERTDER_TBS, signature, X509_ALGOR),
	ASN1_SIMPLE(CERTDER_TBS, issuer, X509_NAME),
	ASN1_SIMPLE(CERTDER_TBS, validity, CERTDER_VALIDITY),
	ASN1_SIMPLE(CERTDER_TBS, subject, X509_NAME),
	ASN1_SIMPLE(CERTDER_TBS, spki, ASN1_ANY),
	ASN1_IMP_OPT(CERTDER_TBS, issuer_uid, ASN1_BIT_STRING, 1),
	ASN1_IMP_OPT(CERTDER_TBS, subject_uid, ASN1_BIT_STRING, 2),
	ASN1_EXP_OPT(CERTDER_TBS, extensions, ASN1_ANY, 3),
} static_ASN1_SEQUENCE_END(CERTDER_TBS)

ASN1_SEQUENCE(CERTDER_CERT) = {
	ASN1_SIMPLE(CERTDER_CERT, tbs, CERTDER_TBS),
	ASN1_SIMPLE(CERTDER_CERT, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(CERTDER_CERT, sig, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CERTDER_CERT)

/* "YYYY-MM-DD hh:mm:ss+00", as est.certificate takes a timestamptz. */
static int
time_text(const ASN1_TIME *t, char *dst, size_t len)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return ESTCA_ERR_MALFORMED;
	if ((size_t)snprintf(dst, len, "%04d-%02d-%02d %02d:%02d:%02d+00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec) >= len)
		return ESTCA_ERR_TOO_LARGE;
	return 0;
}

int
estca_cert_der_text(const unsigned char *der, size_t len,
    struct estca_cert_text *t)
{
	const unsigned char *p = der;
	CERTDER_CERT *c;
	const CERTDER_TBS *tbs;
	int r;

	memset(t, 0, sizeof(*t));
	if (len == 0 || len > 0x7fffffff)
		return ESTCA_ERR_MALFORMED;
	c = (CERTDER_CERT *)ASN1_item_d2i(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(CERTDER_CERT));
	if (c == NULL || p != der + len) {
		ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(CERTDER_CERT));
		return ESTCA_ERR_MALFORMED;
	}
	tbs = c->tbs;
	/* the engine never issues a negative serial; refuse to name one */
	if (ASN1_STRING_type(tbs->serial) != V_ASN1_INTEGER)
		r = ESTCA_ERR_MALFORMED;
	else if (estca_serial_text(t->serial, sizeof(t->serial),
	    ASN1_STRING_get0_data(tbs->serial),
	    (size_t)ASN1_STRING_length(tbs->serial)) != 0)
		r = ESTCA_ERR_TOO_LARGE;
	else if ((r = estca_name_text(tbs->issuer, t->issuer,
	    sizeof(t->issuer))) == 0 &&
	    (r = estca_name_text(tbs->subject, t->subject,
	    sizeof(t->subject))) == 0 &&
	    (r = time_text(tbs->validity->not_before,
	    t->not_before, sizeof(t->not_before))) == 0)
		r = time_text(tbs->validity->not_after,
		    t->not_after, sizeof(t->not_after));
	ASN1_item_free((ASN1_VALUE *)c, ASN1_ITEM_rptr(CERTDER_CERT));
	if (r != 0)
		memset(t, 0, sizeof(*t));
	return r;
}

/* Bytes of a DER length field for content of n bytes. */
static size_t
len_size(size_t n)
{
	size_t k = 1;

	if (n < 0x80)
		return 1;
	while (n > 0) {
		k++;
		n >>= 8;
	}
	return k;
}

/* Write tag and the length n at p; returns the bytes written. */
static size_t
put_head(unsigned char *p, unsigned char tag, size_t n)
{
	size_t k = len_size(n), i;

	p[0] = tag;
	if (k == 1) {
		p[1] = (unsigned char)n;
		return 2;
	}
	p[1] = (unsigned char)(0x80 | (k - 1));
	for (i = k - 1; i > 0; i--) {
		p[1 + i] = (unsigned char)(n & 0xff);
		n >>= 8;
	}
	return 1 + k;
}

#define WRAP_CERTS_MAX 16
#define WRAP_DER_MAX (1u << 20)

int
estca_certs_only_wrap(const unsigned char *const *der, const size_t *len,
    size_t n, unsigned char **out, size_t *outlen)
{
	/* contentType signedData (1.2.840.113549.1.7.2) */
	static const unsigned char signed_oid[] = { 0x06, 0x09, 0x2a, 0x86,
	    0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02 };
	/* version 1, no digestAlgorithms, encapContentInfo of type data
	 * (1.2.840.113549.1.7.1) and no content */
	static const unsigned char head[] = { 0x02, 0x01, 0x01, 0x31, 0x00,
	    0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	    0x07, 0x01 };
	/* no signerInfos */
	static const unsigned char tail[] = { 0x31, 0x00 };
	size_t certs = 0, set, sd, expl, ci, o = 0;
	unsigned char *p;

	*out = NULL;
	*outlen = 0;
	if (n > WRAP_CERTS_MAX)
		return ESTCA_ERR_TOO_LARGE;
	for (size_t i = 0; i < n; i++) {
		if (len[i] > WRAP_DER_MAX)
			return ESTCA_ERR_TOO_LARGE;
		certs += len[i];
	}
	/* certificates [0] IMPLICIT SET OF Certificate */
	set = 1 + len_size(certs) + certs;
	sd = sizeof(head) + set + sizeof(tail);
	expl = 1 + len_size(sd) + sd;               /* SignedData, SEQUENCE */
	ci = sizeof(signed_oid) + 1 + len_size(expl) + expl;
	if ((p = OPENSSL_malloc(1 + len_size(ci) + ci)) == NULL)
		return ESTCA_ERR_NOMEM;
	o += put_head(p + o, 0x30, ci);
	memcpy(p + o, signed_oid, sizeof(signed_oid));
	o += sizeof(signed_oid);
	o += put_head(p + o, 0xa0, expl);           /* content [0] EXPLICIT */
	o += put_head(p + o, 0x30, sd);
	memcpy(p + o, head, sizeof(head));
	o += sizeof(head);
	o += put_head(p + o, 0xa0, certs);
	for (size_t i = 0; i < n; i++) {
		memcpy(p + o, der[i], len[i]);
		o += len[i];
	}
	memcpy(p + o, tail, sizeof(tail));
	o += sizeof(tail);
	*out = p;
	*outlen = o;
	return 0;
}
