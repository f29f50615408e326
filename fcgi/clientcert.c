/*
 * clientcert.c - see clientcert.h.  Must never take the web server's
 * SSL_CLIENT_VERIFY or DN variables for a verdict: it parses the PEM and
 * verifies it itself.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include "clientcert.h"

/* A certificate in PEM is a few KB; anything far above is not one. */
#define CLIENT_CERT_PEM_MAX (64 * 1024)

/* The one PEM certificate in variable name, as estca_client_cert(). */
static int
cert_var(FCGX_ParamArray envp, const char *name, X509 **out)
{
	const char *pem = FCGX_GetParam(name, envp);
	BIO *b;
	X509 *x, *extra;
	size_t n;

	*out = NULL;
	if (pem == NULL || (n = strlen(pem)) == 0)
		return ESTCA_ERR_NOT_FOUND;
	if (n > CLIENT_CERT_PEM_MAX)
		return ESTCA_ERR_MALFORMED;
	if ((b = BIO_new_mem_buf(pem, (int)n)) == NULL)
		return ESTCA_ERR_NOMEM;
	x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	extra = x != NULL ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	ERR_clear_error();
	if (x == NULL || extra != NULL) {
		X509_free(x);
		X509_free(extra);
		return ESTCA_ERR_MALFORMED;
	}
	*out = x;
	return 0;
}

int
estca_client_cert(FCGX_ParamArray envp, X509 **out)
{
	return cert_var(envp, "SSL_CLIENT_CERT", out);
}

int
estca_client_chain(FCGX_ParamArray envp, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk;
	char name[40];

	if ((*out = sk = sk_X509_new_null()) == NULL)
		return ESTCA_ERR_NOMEM;
	for (int i = 0; i < ESTCA_CLIENT_CHAIN_MAX; i++) {
		X509 *x;
		int r;

		snprintf(name, sizeof(name), "SSL_CLIENT_CERT_CHAIN_%d", i);
		r = cert_var(envp, name, &x);
		if (r == ESTCA_ERR_NOT_FOUND)
			break;
		if (r != 0)
			continue;
		if (!sk_X509_push(sk, x)) {
			X509_free(x);
			sk_X509_pop_free(sk, X509_free);
			*out = NULL;
			return ESTCA_ERR_NOMEM;
		}
	}
	return 0;
}

/*
 * Verify cert (purpose TLS client) up to the first certificate of trusted
 * (a partial chain is enough), with untrusted as intermediates.  On
 * success *built (when not NULL) gets the verified path, leaf first,
 * owned by the caller.  Returns 0, ESTCA_ERR_REFUSED with why, or
 * ESTCA_ERR_NOMEM.
 */
static int
verify_to(X509 *cert, STACK_OF(X509) *trusted, STACK_OF(X509) *untrusted,
    unsigned long flags, STACK_OF(X509) **built, char *why, size_t whylen)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	int r = ESTCA_ERR_REFUSED;

	if (built != NULL)
		*built = NULL;
	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL) {
		r = ESTCA_ERR_NOMEM;
		goto out;
	}
	for (int i = 0; i < sk_X509_num(trusted); i++)
		if (!X509_STORE_add_cert(store, sk_X509_value(trusted, i)))
			goto out;
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN | flags);
	if (!X509_STORE_CTX_init(ctx, store, cert, untrusted) ||
	    !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT))
		goto out;
	if (X509_verify_cert(ctx) != 1) {
		snprintf(why, whylen, "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
		goto out;
	}
	if (built != NULL && (*built = X509_STORE_CTX_get1_chain(ctx)) == NULL) {
		r = ESTCA_ERR_NOMEM;
		goto out;
	}
	why[0] = 0;
	r = 0;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return r;
}

int
estca_cert_verify(X509 *cert, STACK_OF(X509) *anchors, STACK_OF(X509) *untrusted,
    char *why, size_t whylen)
{
	snprintf(why, whylen, "no trust anchor");
	if (sk_X509_num(anchors) < 1)
		return ESTCA_ERR_REFUSED;
	/* An anchor need not be self-signed: a vendor's issuing CA alone is
	 * enough (the path ends at the first trusted certificate). */
	return verify_to(cert, anchors, untrusted, 0, NULL, why, whylen);
}

int
estca_cert_issued_by(X509 *cert, STACK_OF(X509) *chain, char *why, size_t whylen)
{
	STACK_OF(X509) *built = NULL;
	int r;

	snprintf(why, whylen, "cannot verify");
	if (sk_X509_num(chain) < 1)
		return ESTCA_ERR_REFUSED;
	/*
	 * Every certificate of the chain is trusted, and a partial chain is
	 * enough: the path ends at the first trusted issuer, which must then
	 * be the alias's CA itself (not its root, not a sibling CA).  Expiry
	 * is judged by the database clock (policy), not here.
	 */
	r = verify_to(cert, chain, NULL, X509_V_FLAG_NO_CHECK_TIME, &built, why,
	    whylen);
	if (r == 0 && (sk_X509_num(built) < 2 ||
	    X509_cmp(sk_X509_value(built, 1), sk_X509_value(chain, 0)) != 0)) {
		snprintf(why, whylen, "issued by another CA of the chain");
		r = ESTCA_ERR_REFUSED;
	}
	sk_X509_pop_free(built, X509_free);
	return r;
}
