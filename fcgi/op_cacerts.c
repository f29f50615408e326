/*
 * op_cacerts.c - the EST cacerts operation (RFC 7030 4.1).
 *
 * Asks the engine for the chain of the alias's CA and answers it as a
 * certs-only PKCS#7 SignedData, base64 with line breaks.  Holds no key and
 * decides nothing: the chain is public and the engine is its only source
 * (no file on the web host can disagree with what the engine signs with).
 */
#include <openssl/x509.h>
#include "fcgi.h"
#include "reply.h"
#include "status.h"
#include "log.h"

int
estca_op_cacerts(struct estca_ctx *ctx, struct estca_http *h)
{
	STACK_OF(X509) *chain = NULL;
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
	r = estca_http_reply_certs(h, chain, "application/pkcs7-mime");
	sk_X509_pop_free(chain, X509_free);
	return r;
}
