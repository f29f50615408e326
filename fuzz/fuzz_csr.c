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
 */
#include <stdint.h>
#include <openssl/err.h>
#include "fuzz.h"
#include "csr.h"

static void
empty(const struct estca_csr *c)
{
	FUZZ_CHECK(c->req == NULL && c->sans == NULL && c->challenge == NULL &&
	    !c->csn && c->csn_subject == NULL && c->csn_sans == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct estca_csr c, again;
	unsigned char *der = NULL;
	char why[160];
	int r, n;

	if (size > 256 * 1024)
		return 0;
	r = estca_csr_decode(data, size, &c, why, sizeof(why));
	if (r != 0) {
		FUZZ_CHECK(r == ESTCA_ERR_MALFORMED || r == ESTCA_ERR_NOMEM);
		FUZZ_CHECK(why[0] != 0);
		empty(&c);
		return 0;
	}
	FUZZ_CHECK(c.req != NULL && c.subject != NULL && c.spki != NULL);
	FUZZ_CHECK(c.challenge == NULL || strlen(c.challenge) <= ESTCA_CODE_MAX);
	FUZZ_CHECK(!c.csn || c.csn_subject != NULL || c.csn_sans != NULL);
	FUZZ_CHECK(c.csn || (c.csn_subject == NULL && c.csn_sans == NULL));

	/* an accepted request re-encodes, and reads back the same (a raw DER
	 * body is taken as such only with a long-form length) */
	n = i2d_X509_REQ(c.req, &der);
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
