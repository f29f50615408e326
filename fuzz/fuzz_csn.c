/*
 * fuzz_csn.c - estca_csn_decode() on the DER of one ChangeSubjectName
 * value (RFC 6402 2.8), the part of a CSR that the request's signature
 * covers but OpenSSL does not decode for us.
 *
 * Invariants: on success at least one of subject and SANs, each of
 * which re-encodes; on failure both NULL and a reason.
 */
#include <stdint.h>
#include <openssl/err.h>
#include "fuzz.h"
#include "csr.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	X509_NAME *subject = (X509_NAME *)1;
	GENERAL_NAMES *sans = (GENERAL_NAMES *)1;
	unsigned char *der = NULL;
	char why[128];
	int r;

	why[0] = 0;
	r = estca_csn_decode(data, size, &subject, &sans, why, sizeof(why));
	if (r != 0) {
		FUZZ_CHECK(r == ESTCA_ERR_MALFORMED);
		FUZZ_CHECK(subject == NULL && sans == NULL && why[0] != 0);
		return 0;
	}
	FUZZ_CHECK(subject != NULL || sans != NULL);
	if (subject != NULL) {
		FUZZ_CHECK(i2d_X509_NAME(subject, &der) > 0);
		OPENSSL_free(der);
		der = NULL;
	}
	if (sans != NULL) {
		FUZZ_CHECK(i2d_GENERAL_NAMES(sans, &der) > 0);
		OPENSSL_free(der);
	}
	X509_NAME_free(subject);
	GENERAL_NAMES_free(sans);
	ERR_clear_error();
	return 0;
}
