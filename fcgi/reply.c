/*
 * reply.c - see reply.h.  Owns the wire format of answers.  Must never
 * copy anything a client sent into a header line, and never put more than
 * one line of text into an error body.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include "log.h"
#include "b64.h"
#include "reply.h"
#include "certder.h"
#include "status.h"

#define REPLY_HEADER_MAX 2048
/* A chain or a certificate is a few KB; this only stops a runaway. */
#define REPLY_MAX_DER (ESTCA_WIRE_MAX_REPLY)

int
estca_http_fail(struct estca_http *h, int err, const char *reason,
    const char *detail_fmt, ...)
{
	va_list ap;

	estca_one_line(h->reason, sizeof(h->reason), reason);
	if (detail_fmt != NULL) {
		va_start(ap, detail_fmt);
		vsnprintf(h->detail, sizeof(h->detail), detail_fmt, ap);
		va_end(ap);
	}
	return err;
}

static int
put(struct estca_http *h, const void *p, size_t n)
{
	/* FCGX_PutStr takes an int; write in slices so no length truncates. */
	const char *s = p;

	while (n > 0) {
		int chunk = n > 65536 ? 65536 : (int)n;

		if (FCGX_PutStr(s, chunk, h->fx->out) != chunk)
			return ESTCA_ERR_IO;
		s += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int
estca_http_reply(struct estca_http *h, int http, const char *ctype,
    const char *extra, const void *body, size_t len)
{
	struct estca_buf hdr;
	char line[128];
	int r;

	estca_buf_init(&hdr, REPLY_HEADER_MAX, false);
	snprintf(line, sizeof(line), "Status: %d %s\r\n", http,
	    estca_http_phrase(http));
	if ((r = estca_buf_addstr(&hdr, line)) != 0)
		goto out;
	/* 204 carries neither a body nor its headers (RFC 9110 15.3.5) */
	if (ctype != NULL) {
		snprintf(line, sizeof(line), "Content-Type: %s\r\n", ctype);
		if ((r = estca_buf_addstr(&hdr, line)) != 0)
			goto out;
	}
	if (http != 204) {
		snprintf(line, sizeof(line), "Content-Length: %zu\r\n", len);
		if ((r = estca_buf_addstr(&hdr, line)) != 0)
			goto out;
	}
	if (extra != NULL && (r = estca_buf_addstr(&hdr, extra)) != 0)
		goto out;
	if ((r = estca_buf_addstr(&hdr, "\r\n")) != 0)
		goto out;
	h->status = http;
	if ((r = put(h, hdr.data, hdr.len)) != 0)
		goto out;
	if (!h->head && len > 0)
		r = put(h, body, len);
out:
	estca_buf_free(&hdr);
	return r;
}

int
estca_http_reply_error(struct estca_http *h, int err)
{
	const struct estca_status *st = estca_status_of(err);
	char extra[160 + sizeof(h->www_auth)] = "", body[sizeof(h->reason) + 1];
	size_t n = 0;

	if (st->http == 405 && h->route.allow != NULL)
		n = (size_t)snprintf(extra, sizeof(extra), "Allow: %s\r\n",
		    h->route.allow);
	/* the alias name is [A-Za-z0-9_-] (route.c), safe in a quoted string */
	/* Basic always; Digest challenges where the alias offers them
	 * (filled by enroll_auth.c; RFC 9110 11.6.1: one header each) */
	if (st->http == 401)
		n = (size_t)snprintf(extra, sizeof(extra),
		    "WWW-Authenticate: Basic realm=\"estca %s\"\r\n%s",
		    h->route.alias[0] ? h->route.alias : "est", h->www_auth);
	if (st->retry_after > 0 && n < sizeof(extra))
		snprintf(extra + n, sizeof(extra) - n, "Retry-After: %d\r\n",
		    st->retry_after);
	if (h->reason[0] == 0)
		estca_one_line(h->reason, sizeof(h->reason), st->reason);
	n = strlen(h->reason);
	memcpy(body, h->reason, n);
	body[n++] = '\n';
	return estca_http_reply(h, st->http, "text/plain", extra, body, n);
}

void
estca_drain_body(struct estca_http *h, size_t cap)
{
	char scratch[4096];
	size_t seen = 0;
	int n;

	while (seen < cap) {
		size_t want = cap - seen < sizeof(scratch) ? cap - seen :
		    sizeof(scratch);

		n = FCGX_GetStr(scratch, (int)want, h->fx->in);
		if (n <= 0)
			break;
		seen += (size_t)n;
	}
}

/*
 * DER of a degenerate SignedData: no signers, no content, certificates in
 * the order given (estca_certs_only_wrap).  *der is OPENSSL_free'd by the
 * caller.
 */
int
estca_certs_only_der(STACK_OF(X509) *certs, unsigned char **der, size_t *derlen)
{
	unsigned char *one[16] = { NULL };
	size_t len[16];
	int n = sk_X509_num(certs), r = 0, k;

	*der = NULL;
	*derlen = 0;
	if (n < 0 || n > 16)
		return ESTCA_ERR_TOO_LARGE;
	for (int i = 0; i < n && r == 0; i++) {
		if ((k = i2d_X509(sk_X509_value(certs, i), &one[i])) <= 0)
			r = ESTCA_ERR_INTERNAL;
		else
			len[i] = (size_t)k;
	}
	if (r == 0)
		r = estca_certs_only_wrap((const unsigned char *const *)one, len,
		    (size_t)n, der, derlen);
	for (int i = 0; i < n; i++)
		OPENSSL_free(one[i]);
	if (r == 0 && *derlen > REPLY_MAX_DER) {
		OPENSSL_free(*der);
		*der = NULL;
		*derlen = 0;
		r = ESTCA_ERR_TOO_LARGE;
	}
	return r;
}

/* 200 with der[0..derlen) (a certs-only PKCS#7) as base64 lines. */
static int
reply_p7(struct estca_http *h, const unsigned char *der, size_t derlen,
    const char *ctype)
{
	struct estca_buf body;
	int r;

	estca_buf_init(&body, REPLY_MAX_DER * 2, false);
	r = estca_base64_lines(der, derlen, &body);
	if (r != 0) {
		estca_buf_free(&body);
		return estca_http_fail(h, r, NULL, "base64: %s", estca_strerror(r));
	}
	r = estca_http_reply(h, 200, ctype, "Content-Transfer-Encoding: base64\r\n",
	    body.data, body.len);
	estca_buf_free(&body);
	return r;
}

int
estca_http_reply_certs(struct estca_http *h, STACK_OF(X509) *certs, const char *ctype)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	int r;

	if ((r = estca_certs_only_der(certs, &der, &derlen)) != 0) {
		estca_log_ssl(ESTCA_LOG_ERR, "encoding PKCS#7");
		return estca_http_fail(h, r, NULL, "cannot encode PKCS#7");
	}
	r = reply_p7(h, der, derlen, ctype);
	OPENSSL_free(der);
	return r;
}

/* The certs-only PKCS#7 of one certificate's DER, within REPLY_MAX_DER. */
static int
wrap_one(const unsigned char *cert, size_t certlen, unsigned char **der,
    size_t *derlen)
{
	int r = estca_certs_only_wrap(&cert, &certlen, 1, der, derlen);

	if (r == 0 && *derlen > REPLY_MAX_DER) {
		OPENSSL_free(*der);
		*der = NULL;
		*derlen = 0;
		r = ESTCA_ERR_TOO_LARGE;
	}
	return r;
}

int
estca_http_reply_cert_der(struct estca_http *h, const unsigned char *cert,
    size_t certlen, const char *ctype)
{
	unsigned char *der = NULL;
	size_t derlen = 0;
	int r;

	if ((r = wrap_one(cert, certlen, &der, &derlen)) != 0)
		return estca_http_fail(h, r, NULL, "cannot encode PKCS#7");
	r = reply_p7(h, der, derlen, ctype);
	OPENSSL_free(der);
	return r;
}

/* Append base64 of p[0..n) to out as CRLF-terminated lines (MIME parts). */
static int
base64_crlf(const unsigned char *p, size_t n, struct estca_buf *out)
{
	struct estca_buf lf;
	int r;

	estca_buf_init(&lf, out->cap, out->secret);
	if ((r = estca_base64_lines(p, n, &lf)) != 0)
		return r;
	for (size_t i = 0, start = 0; i < lf.len && r == 0; i++) {
		if (lf.data[i] != '\n')
			continue;
		if ((r = estca_buf_add(out, lf.data + start, i - start)) == 0)
			r = estca_buf_add(out, "\r\n", 2);
		start = i + 1;
	}
	estca_buf_free(&lf);
	return r;
}

/*
 * The boundary EJBCA's documentation splits with a line-counting shell
 * script (grep -w "\-\-CONTENTBOUNDARY", body four lines after each
 * boundary line): keep the name, and keep every part at exactly two
 * header lines and a blank line.  Base64 never holds a '-', so the
 * delimiter cannot occur inside a part.
 */
#define KEYGEN_BOUNDARY "CONTENTBOUNDARY"

int
estca_http_reply_serverkeygen(struct estca_http *h, const unsigned char *cert,
    size_t certlen, const unsigned char *pkcs8, size_t pkcs8len)
{
	struct estca_buf body;
	unsigned char *der = NULL;
	size_t derlen = 0;
	int r;

	if ((r = wrap_one(cert, certlen, &der, &derlen)) != 0)
		return estca_http_fail(h, r, NULL, "cannot encode PKCS#7");
	/* the body holds a private key: a secret buffer, wiped when freed */
	estca_buf_init(&body, REPLY_MAX_DER * 3, true);
	if ((r = estca_buf_addstr(&body, "--" KEYGEN_BOUNDARY "\r\n"
	    "Content-Type: application/pkcs8\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n")) != 0 ||
	    (r = base64_crlf(pkcs8, pkcs8len, &body)) != 0 ||
	    (r = estca_buf_addstr(&body, "--" KEYGEN_BOUNDARY "\r\n"
	    "Content-Type: application/pkcs7-mime; smime-type=certs-only\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n")) != 0 ||
	    (r = base64_crlf(der, derlen, &body)) != 0 ||
	    (r = estca_buf_addstr(&body, "--" KEYGEN_BOUNDARY "--\r\n")) != 0) {
		OPENSSL_free(der);
		estca_buf_free(&body);
		return estca_http_fail(h, r, NULL, "cannot build the multipart reply");
	}
	OPENSSL_free(der);
	r = estca_http_reply(h, 200, "multipart/mixed; boundary=" KEYGEN_BOUNDARY, NULL,
	    body.data, body.len);
	estca_buf_free(&body);
	return r;
}
