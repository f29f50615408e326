/*
 * fuzz_clientcert.c - estca_client_cert() and estca_client_chain() on
 * the web server's variables, given as the FastCGI environment they
 * arrive in: the input, split at NUL bytes, is SSL_CLIENT_CERT then
 * SSL_CLIENT_CERT_CHAIN_0, _1, ...
 *
 * Invariants: a certificate comes back only with 0, and it re-encodes;
 * the chain never holds more than ESTCA_CLIENT_CHAIN_MAX certificates.
 */
#include <stdint.h>
#include <openssl/err.h>
#include "fuzz.h"
#include "clientcert.h"

#define NVARS (ESTCA_CLIENT_CHAIN_MAX + 2)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *val[NVARS], *env[NVARS + 1], *mem;
	STACK_OF(X509) *chain = NULL;
	X509 *x = NULL;
	size_t n;
	int r;

	if (size > 256 * 1024)
		return 0;
	n = fuzz_split(data, size, val, NVARS, &mem);
	if (mem == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char name[40];
		size_t nl, vl;

		if (i == 0)
			snprintf(name, sizeof(name), "SSL_CLIENT_CERT=");
		else
			snprintf(name, sizeof(name), "SSL_CLIENT_CERT_CHAIN_%zu=", i - 1);
		nl = strlen(name);
		vl = strlen(val[i]);
		FUZZ_CHECK((env[i] = malloc(nl + vl + 1)) != NULL);
		memcpy(env[i], name, nl);
		memcpy(env[i] + nl, val[i], vl + 1);
	}
	env[n] = NULL;

	r = estca_client_cert(env, &x);
	FUZZ_CHECK(r == 0 || r == ESTCA_ERR_NOT_FOUND || r == ESTCA_ERR_MALFORMED ||
	    r == ESTCA_ERR_NOMEM);
	FUZZ_CHECK((r == 0) == (x != NULL));
	if (x != NULL) {
		unsigned char *der = NULL;

		FUZZ_CHECK(i2d_X509(x, &der) > 0);
		OPENSSL_free(der);
	}
	r = estca_client_chain(env, &chain);
	FUZZ_CHECK(r == 0 || r == ESTCA_ERR_NOMEM);
	if (r == 0)
		FUZZ_CHECK(chain != NULL &&
		    sk_X509_num(chain) <= ESTCA_CLIENT_CHAIN_MAX);
	sk_X509_pop_free(chain, X509_free);
	X509_free(x);
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(mem);
	ERR_clear_error();
	return 0;
}
