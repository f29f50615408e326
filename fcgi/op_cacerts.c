/*
 * op_cacerts.c - the EST cacerts operation (RFC 7030 4.1).
 *
 * Asks the engine for the chain of the alias's CA and answers it as a
 * certs-only PKCS#7 SignedData, base64 with line breaks.  Holds no key and
 * decides nothing: the chain is public and the engine is its only source
 * (no file on the web host can disagree with what the engine signs with).
 */
#include <openssl/pkcs7.h>
#include <openssl/x509.h>
#include "fcgi.h"
#include "reply.h"
#include "status.h"
#include "log.h"

/* An encoded chain is a few KB; this only stops a runaway engine reply. */
#define CACERTS_MAX_DER (ESTCA_WIRE_MAX_REPLY)

/*
 * DER of a degenerate SignedData: no signers, no content, certificates in
 * the order given (the encoding keeps it).  *der is OPENSSL_free'd by the
 * caller.
 */
static int
certs_only_der(STACK_OF(X509) *chain, unsigned char **der, size_t *derlen)
{
	PKCS7 *p7;
	int n, r = ESTCA_ERR_INTERNAL;

	*der = NULL;
	if ((p7 = PKCS7_new()) == NULL)
		return ESTCA_ERR_NOMEM;
	if (!PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data) ||
	    !PKCS7_set_detached(p7, 1))
		goto out;
	for (int i = 0; i < sk_X509_num(chain); i++)
		if (!PKCS7_add_certificate(p7, sk_X509_value(chain, i)))
			goto out;
	n = i2d_PKCS7(p7, der);
	if (n <= 0 || (size_t)n > CACERTS_MAX_DER) {
		OPENSSL_free(*der);
		*der = NULL;
		goto out;
	}
	*derlen = (size_t)n;
	r = 0;
out:
	PKCS7_free(p7);
	return r;
}

int
estca_op_cacerts(struct estca_ctx *ctx, struct estca_http *h)
{
	STACK_OF(X509) *chain = NULL;
	struct estca_buf body;
	unsigned char *der = NULL;
	size_t derlen = 0;
	char why[256];
	int r;

	r = estca_engine_get_chain(ctx->engine, h->alias.ca_name, &chain, why,
	    sizeof(why));
	if (r != 0) {
		r = estca_web_engine_err(r);
		return estca_http_fail(h, r, r == ESTCA_ERR_UNAVAILABLE ?
		    "CA engine temporarily unavailable" : "cannot get the CA chain",
		    "engine %s: chain of CA \"%s\": %s", ctx->conf.engine_socket,
		    h->alias.ca_name, why);
	}
	r = certs_only_der(chain, &der, &derlen);
	sk_X509_pop_free(chain, X509_free);
	if (r != 0) {
		estca_log_ssl(ESTCA_LOG_ERR, "cacerts: encoding PKCS#7");
		return estca_http_fail(h, r, NULL, "cacerts: cannot encode PKCS#7");
	}
	estca_buf_init(&body, CACERTS_MAX_DER * 2, false);
	r = estca_base64_lines(der, derlen, &body);
	OPENSSL_free(der);
	if (r != 0)
		return estca_http_fail(h, r, NULL, "cacerts: base64: %s",
		    estca_strerror(r));
	r = estca_reply(h, 200, "application/pkcs7-mime",
	    "Content-Transfer-Encoding: base64\r\n", body.data, body.len);
	estca_buf_free(&body);
	return r;
}
