/*
 * unit_certder.c - fcgi/certder.c against OpenSSL's own decoder and
 * PKCS#7 encoder: for certificates of several shapes (P-256 and RSA keys,
 * v1 and v3, serials with the top bit set, zero, 20 bytes; UTCTime and
 * GeneralizedTime; UTF-8 names, multi-valued RDNs, an empty subject),
 * estca_cert_der_text gives what d2i_X509 and the same renderers give,
 * estca_certs_only_wrap gives the bytes i2d_PKCS7 gives, and damaged or
 * trailing input is refused.  TAP output; no rig.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include "tap.h"
#include "fixtures.h"
#include "certder.h"
#include "names.h"
#include "str.h"

/* A certificate of subject and issuer names (kv lists), serial (hex),
 * version (0 or 2), with key, signed by signer, as DER; NULL on failure. */
static unsigned char *
mkcert(const char *const *subject, const char *const *issuer,
    const char *serial_hex, long version, time_t nb, time_t na,
    EVP_PKEY *key, EVP_PKEY *signer, int *len)
{
	X509 *x = X509_new();
	X509_NAME *s = name_of(subject), *i = name_of(issuer);
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn = NULL;
	unsigned char *der = NULL;

	*len = 0;
	if (x == NULL || s == NULL || i == NULL ||
	    BN_hex2bn(&bn, serial_hex) == 0 ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_set_version(x, version) ||
	    !X509_set_serialNumber(x, sn) ||
	    !X509_set_subject_name(x, s) || !X509_set_issuer_name(x, i) ||
	    ASN1_TIME_set(X509_getm_notBefore(x), nb) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), na) == NULL ||
	    !X509_set_pubkey(x, key))
		goto out;
	if (version == 2) {
		X509V3_CTX ctx;
		X509_EXTENSION *ext;

		X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name,
		    "DNS:device.example, IP:192.0.2.7");
		if (ext == NULL || !X509_add_ext(x, ext, -1)) {
			X509_EXTENSION_free(ext);
			goto out;
		}
		X509_EXTENSION_free(ext);
	}
	if (X509_sign(x, signer, EVP_sha256()) <= 0)
		goto out;
	*len = i2d_X509(x, &der);
out:
	BN_free(bn);
	ASN1_INTEGER_free(sn);
	X509_NAME_free(s);
	X509_NAME_free(i);
	X509_free(x);
	return *len > 0 ? der : NULL;
}

/* What est.certificate would get from OpenSSL's full decoder. */
static int
reference(const unsigned char *der, int len, struct estca_cert_text *t)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, len);
	const ASN1_INTEGER *sn;
	struct tm tm;
	int ok;

	memset(t, 0, sizeof(*t));
	if (x == NULL)
		return -1;
	sn = X509_get0_serialNumber(x);
	ok = estca_serial_text(t->serial, sizeof(t->serial),
	    ASN1_STRING_get0_data(sn), (size_t)ASN1_STRING_length(sn)) == 0 &&
	    estca_name_text(X509_get_issuer_name(x), t->issuer,
	    sizeof(t->issuer)) == 0 &&
	    estca_name_text(X509_get_subject_name(x), t->subject,
	    sizeof(t->subject)) == 0 &&
	    ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm);
	if (ok)
		snprintf(t->not_before, sizeof(t->not_before),
		    "%04d-%02d-%02d %02d:%02d:%02d+00", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	ok = ok && ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
	if (ok)
		snprintf(t->not_after, sizeof(t->not_after),
		    "%04d-%02d-%02d %02d:%02d:%02d+00", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	X509_free(x);
	return ok ? 0 : -1;
}

/* i2d_PKCS7 of a certs-only SignedData holding ders[0..n). */
static unsigned char *
openssl_p7(unsigned char *const *ders, const int *lens, size_t n, int *len)
{
	PKCS7 *p7 = PKCS7_new();
	unsigned char *out = NULL;

	*len = 0;
	if (p7 == NULL || !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) || !PKCS7_set_detached(p7, 1))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = ders[i];
		X509 *x = d2i_X509(NULL, &p, lens[i]);
		int ok = x != NULL && PKCS7_add_certificate(p7, x);

		X509_free(x);
		if (!ok)
			goto out;
	}
	*len = i2d_PKCS7(p7, &out);
out:
	PKCS7_free(p7);
	return *len > 0 ? out : NULL;
}

int
main(void)
{
	static const char *const dev[] = { "CN", "device-1", "O", "Example", NULL };
	static const char *const ca[] = { "CN", "Example CA", "O", "Example", NULL };
	static const char *const utf8[] = { "CN", "G\xc3\xa9r\xc3\xa2rd, \"q\"",
	    "OU", "+plus;semi", NULL };
	static const char *const none[] = { NULL };
	const struct {
		const char *what;
		const char *const *subject;
		const char *serial;
		long version;
		time_t nb, na;       /* 0: now, now + 1 year */
		int rsa;
	} cases[] = {
		{ "v3, P-256, 16-byte serial", dev, "5A17C0FFEE0123456789ABCDEF012345",
		    2, 0, 0, 0 },
		{ "serial with the top bit set", dev, "80", 2, 0, 0, 0 },
		{ "serial 0", dev, "0", 2, 0, 0, 0 },
		{ "20-byte serial", dev, "7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", 2, 0, 0, 0 },
		{ "v1, no extensions", dev, "1234", 0, 0, 0, 0 },
		{ "UTF-8 and escaped characters in the subject", utf8, "42", 2, 0, 0, 0 },
		{ "empty subject", none, "43", 2, 0, 0, 0 },
		{ "GeneralizedTime (after 2049)", dev, "44", 2, 2524608000, 2556144000, 0 },
		{ "RSA key", dev, "45", 2, 0, 0, 1 },
	};
	EVP_PKEY *k1, *k2, *rsa;
	unsigned char *ders[sizeof(cases) / sizeof(cases[0])];
	int lens[sizeof(cases) / sizeof(cases[0])];
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (fixture_keys(&k1, &k2) != 0)
		return 1;
	if ((rsa = EVP_RSA_gen(2048)) == NULL) {
		printf("Bail out! no RSA key\n");
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		struct estca_cert_text got, want;
		time_t now = time(NULL);

		ders[i] = mkcert(cases[i].subject, ca, cases[i].serial,
		    cases[i].version, cases[i].nb ? cases[i].nb : now,
		    cases[i].na ? cases[i].na : now + 365 * 86400,
		    cases[i].rsa ? rsa : k1, k2, &lens[i]);
		if (ders[i] == NULL || reference(ders[i], lens[i], &want) != 0) {
			printf("Bail out! cannot make the certificate: %s\n",
			    cases[i].what);
			return 1;
		}
		tap_ok(estca_cert_der_text(ders[i], (size_t)lens[i], &got) == 0 &&
		    strcmp(got.serial, want.serial) == 0 &&
		    strcmp(got.issuer, want.issuer) == 0 &&
		    strcmp(got.subject, want.subject) == 0 &&
		    strcmp(got.not_before, want.not_before) == 0 &&
		    strcmp(got.not_after, want.not_after) == 0,
		    "%s: serial %s, subject \"%s\", %s .. %s as d2i_X509 gives",
		    cases[i].what, got.serial, got.subject, got.not_before,
		    got.not_after);
	}
	{
		struct estca_cert_text t;
		unsigned char *p = malloc((size_t)lens[0] + 1);

		memcpy(p, ders[0], (size_t)lens[0]);
		p[lens[0]] = 0;
		tap_ok(estca_cert_der_text(p, (size_t)lens[0] + 1, &t) ==
		    ESTCA_ERR_MALFORMED && t.serial[0] == 0,
		    "a byte after the certificate: malformed, nothing filled");
		tap_ok(estca_cert_der_text(p, (size_t)lens[0] - 1, &t) ==
		    ESTCA_ERR_MALFORMED, "the certificate cut by one byte: malformed");
		tap_ok(estca_cert_der_text(p, 0, &t) == ESTCA_ERR_MALFORMED,
		    "no bytes: malformed");
		p[0] = 0x31;
		tap_ok(estca_cert_der_text(p, (size_t)lens[0], &t) ==
		    ESTCA_ERR_MALFORMED, "a SET, not a SEQUENCE: malformed");
		free(p);
	}
	{
		/* a negative serial (02 01 FF) is never named */
		struct estca_cert_text t;
		unsigned char *neg = NULL;
		const unsigned char *q = ders[4];
		X509 *x = d2i_X509(NULL, &q, lens[4]);
		ASN1_INTEGER *m = ASN1_INTEGER_new();
		int nl = 0;

		if (x != NULL && m != NULL && ASN1_INTEGER_set(m, -1) &&
		    X509_set_serialNumber(x, m) && X509_sign(x, k2, EVP_sha256()) > 0)
			nl = i2d_X509(x, &neg);
		tap_ok(nl > 0 && estca_cert_der_text(neg, (size_t)nl, &t) ==
		    ESTCA_ERR_MALFORMED, "a negative serial: refused");
		OPENSSL_free(neg);
		ASN1_INTEGER_free(m);
		X509_free(x);
	}
	for (size_t k = 1; k <= 3; k++) {
		const unsigned char *in[3];
		size_t inlen[3];
		unsigned char *mine = NULL, *theirs;
		size_t minelen = 0;
		int theirlen, got;

		for (size_t i = 0; i < k; i++) {
			in[i] = ders[i * 3 % n];
			inlen[i] = (size_t)lens[i * 3 % n];
		}
		{
			unsigned char *d[3] = { ders[0], ders[3 % n], ders[6 % n] };
			int l[3] = { lens[0], lens[3 % n], lens[6 % n] };

			theirs = openssl_p7(d, l, k, &theirlen);
		}
		got = estca_certs_only_wrap(in, inlen, k, &mine, &minelen);
		tap_ok(theirs != NULL && got == 0 &&
		    minelen == (size_t)theirlen && memcmp(mine, theirs, minelen) == 0,
		    "%zu certificate(s): the same bytes as i2d_PKCS7 (%zu)", k,
		    minelen);
		OPENSSL_free(mine);
		OPENSSL_free(theirs);
	}
	{
		/* a certificate of 70,000 bytes: lengths in three bytes */
		unsigned char *big = calloc(1, 70000), *mine = NULL;
		const unsigned char *in = big, *q;
		size_t inlen = 70000, minelen = 0;
		long l = 0;
		int tag = -1, cls, got;

		big[0] = 0x30;
		big[1] = 0x83;
		big[2] = (70000 - 5) >> 16;
		big[3] = ((70000 - 5) >> 8) & 0xff;
		big[4] = (70000 - 5) & 0xff;
		got = estca_certs_only_wrap(&in, &inlen, 1, &mine, &minelen);
		q = mine;
		if (got == 0 && (ASN1_get_object(&q, &l, &tag, &cls,
		    (long)minelen) & 0x80))
			got = -1;
		tap_ok(got == 0 && mine != NULL &&
		    tag == V_ASN1_SEQUENCE && (size_t)l + (size_t)(q - mine) == minelen &&
		    memcmp(mine + minelen - 2 - 70000, big, 70000) == 0,
		    "a 70,000-byte element: outer length %ld of %zu bytes, the "
		    "element whole before the empty signerInfos", l, minelen);
		OPENSSL_free(mine);
		free(big);
	}
	{
		const unsigned char *in[17];
		size_t inlen[17];
		unsigned char *mine = NULL;
		size_t minelen = 0;

		for (int i = 0; i < 17; i++) {
			in[i] = ders[0];
			inlen[i] = (size_t)lens[0];
		}
		tap_ok(estca_certs_only_wrap(in, inlen, 17, &mine, &minelen) ==
		    ESTCA_ERR_TOO_LARGE && mine == NULL,
		    "17 certificates: too many, nothing allocated");
	}
	for (size_t i = 0; i < n; i++)
		OPENSSL_free(ders[i]);
	EVP_PKEY_free(rsa);
	fixture_keys_free(k1, k2);
	return tap_done();
}
