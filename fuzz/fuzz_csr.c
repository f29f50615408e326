/*
 * fuzz_csr.c - estca_csr_decode() on an enrollment body (base64 or raw
 * DER of a PKCS#10 request): d2i, proof of possession, subjectAltName,
 * challengePassword and ChangeSubjectName.
 *
 * Invariants: a failure leaves the struct empty and says why; an
 * accepted request re-encodes, and the re-encoding decodes (raw DER path)
 * to the same facts: same challengePassword, same ChangeSubjectName
 * presence; the challenge is at most ESTCA_CODE_MAX bytes; a request
 * with ChangeSubjectName has its subject or its SANs.
 *
 * And against OpenSSL's own X509_REQ (d2i_X509_REQ, its key,
 * X509_REQ_verify) on the same bytes: whatever the decoder accepts,
 * OpenSSL accepts too, with the same subject, key, SubjectPublicKeyInfo
 * and re-encoding; whatever OpenSSL accepts, the decoder refuses only
 * for what it checks beyond that (attributes, subjectAltName).
 */
#include <stdint.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include "fuzz.h"
#include "b64.h"
#include "csr.h"

/* OpenSSL's verdict on the body, read as csr.c reads it: the request, or
 * NULL when it does not decode, has bytes after it, no usable key or a
 * signature that does not verify. */
static X509_REQ *
reference(const uint8_t *data, size_t size)
{
	struct estca_buf der;
	const unsigned char *p;
	X509_REQ *req = NULL;
	EVP_PKEY *pk;

	estca_buf_init(&der, size, true);
	if (size >= 2 && data[0] == 0x30 && data[1] >= 0x81 && data[1] <= 0x84) {
		if (estca_buf_add(&der, data, size) != 0)
			goto out;
	} else if (estca_base64_decode(data, size, &der) != 0) {
		goto out;
	}
	if (der.len == 0 || der.len > 0x7fffffff)
		goto out;
	p = der.data;
	req = d2i_X509_REQ(NULL, &p, (long)der.len);
	if (req == NULL || p != der.data + der.len ||
	    (pk = X509_REQ_get0_pubkey(req)) == NULL ||
	    X509_REQ_verify(req, pk) != 1) {
		X509_REQ_free(req);
		req = NULL;
	}
out:
	estca_buf_free(&der);
	ERR_clear_error();
	return req;
}

/* Do a and b encode to the same bytes? */
static int
same_der(unsigned char *a, int alen, unsigned char *b, int blen)
{
	int same = alen > 0 && alen == blen && memcmp(a, b, (size_t)alen) == 0;

	OPENSSL_free(a);
	OPENSSL_free(b);
	return same;
}

static void
empty(const struct estca_csr *c)
{
	FUZZ_CHECK(c->req == NULL && c->key == NULL && c->spki == NULL &&
	    c->sans == NULL && c->challenge == NULL &&
	    !c->csn && c->csn_subject == NULL && c->csn_sans == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct estca_csr c, again;
	unsigned char *der = NULL;
	X509_REQ *ref;
	char why[160];
	int r, n;

	if (size > 256 * 1024)
		return 0;
	ref = reference(data, size);
	r = estca_csr_decode(data, size, &c, why, sizeof(why));
	if (r != 0) {
		FUZZ_CHECK(r == ESTCA_ERR_MALFORMED || r == ESTCA_ERR_NOMEM);
		FUZZ_CHECK(why[0] != 0);
		empty(&c);
		/* OpenSSL took it: refused only for what comes after */
		FUZZ_CHECK(ref == NULL || r == ESTCA_ERR_NOMEM ||
		    (strcmp(why, "body is not a PKCS#10 request") != 0 &&
		    strcmp(why, "bytes after the PKCS#10 request") != 0 &&
		    strcmp(why, "request public key unusable") != 0 &&
		    strcmp(why, "request signature does not verify") != 0));
		X509_REQ_free(ref);
		return 0;
	}
	FUZZ_CHECK(c.req != NULL && c.subject != NULL && c.spki != NULL &&
	    c.key != NULL);
	/* nothing OpenSSL refuses, and the same request as OpenSSL has it */
	FUZZ_CHECK(ref != NULL);
	FUZZ_CHECK(X509_NAME_cmp(c.subject, X509_REQ_get_subject_name(ref)) == 0);
	FUZZ_CHECK(EVP_PKEY_eq(c.key, X509_REQ_get0_pubkey(ref)) == 1);
	{
		unsigned char *a = NULL, *b = NULL;
		int alen = i2d_X509_PUBKEY(c.spki, &a);
		int blen = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(ref), &b);

		FUZZ_CHECK(same_der(a, alen, b, blen));
		a = NULL;
		b = NULL;
		alen = estca_csr_der(&c, &a);
		blen = i2d_X509_REQ(ref, &b);
		FUZZ_CHECK(same_der(a, alen, b, blen));
	}
	X509_REQ_free(ref);
	FUZZ_CHECK(c.challenge == NULL || strlen(c.challenge) <= ESTCA_CODE_MAX);
	FUZZ_CHECK(!c.csn || c.csn_subject != NULL || c.csn_sans != NULL);
	FUZZ_CHECK(c.csn || (c.csn_subject == NULL && c.csn_sans == NULL));

	/* an accepted request re-encodes, and reads back the same (a raw DER
	 * body is taken as such only with a long-form length) */
	n = estca_csr_der(&c, &der);
	FUZZ_CHECK(n > 0);
	if (n >= 2 && der[1] >= 0x81 && der[1] <= 0x84) {
		r = estca_csr_decode(der, (size_t)n, &again, why, sizeof(why));
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK((c.challenge == NULL) == (again.challenge == NULL));
		FUZZ_CHECK(c.challenge == NULL ||
		    strcmp(c.challenge, again.challenge) == 0);
		FUZZ_CHECK(c.csn == again.csn);
		FUZZ_CHECK((c.sans == NULL) == (again.sans == NULL));
		FUZZ_CHECK(X509_NAME_cmp(c.subject, again.subject) == 0);
		estca_csr_free(&again);
		empty(&again);
	}
	OPENSSL_free(der);
	estca_csr_free(&c);
	empty(&c);
	ERR_clear_error();
	return 0;
}
