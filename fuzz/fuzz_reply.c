/*
 * fuzz_reply.c - the serverkeygen reply builder
 * (estca_http_reply_serverkeygen, fcgi/reply.c) with arbitrary
 * certificate and key bytes, written into a FastCGI output stream of our
 * own (FCGX_Stream is a public struct whose buffer-full callback we
 * supply), so no web server or FastCGI request is needed.
 *
 * Input: a selector byte (bit 0: HEAD), a 2-byte big-endian length L, L
 * bytes of certificate DER (a fixed certificate when they do not decode),
 * then the PKCS#8 bytes.
 *
 * Invariants: the reply is "Status: 200", multipart/mixed with a
 * boundary (read from the header), a Content-Length equal to the body; the body (none for HEAD)
 * is exactly two parts and the closing boundary; the first part's base64
 * decodes to the key bytes and the second part's to a certs-only PKCS#7
 * holding exactly the certificate.
 */
#include <stdint.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs7.h>
#include "fuzz.h"
#include "b64.h"
#include "reply.h"

#define OUT_MAX (8 * 1024 * 1024)

static X509 *fixed;

/* The stream's buffer is full: move it into the buf in stream->data. */
static void
drain(FCGX_Stream *s, int close)
{
	struct estca_buf *b = s->data;
	unsigned char *start = s->stop - 4096;

	(void)close;
	FUZZ_CHECK(estca_buf_add(b, start, (size_t)(s->wrNext - start)) == 0);
	s->wrNext = start;
}

static X509 *
make_fixed(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;

	FUZZ_CHECK(k != NULL && x != NULL);
	n = X509_get_subject_name(x);
	FUZZ_CHECK(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"fuzz", -1, -1, 0) == 1);
	FUZZ_CHECK(X509_set_issuer_name(x, n) == 1 && X509_set_pubkey(x, k) == 1);
	FUZZ_CHECK(ASN1_INTEGER_set(X509_get_serialNumber(x), 1) == 1);
	FUZZ_CHECK(X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) != NULL);
	FUZZ_CHECK(X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

/* The base64 text of a part: from after its blank line to the next
 * "--BOUNDARY"; decoded into out. */
static const char *
part(const char *p, const char *end, const char *bnd, const char *ctype,
    struct estca_buf *out)
{
	const char *hdr_end, *next;
	char want[300], delim[100];

	snprintf(want, sizeof(want), "--%s\r\nContent-Type: %s\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n", bnd, ctype);
	snprintf(delim, sizeof(delim), "--%s", bnd);
	FUZZ_CHECK((size_t)(end - p) >= strlen(want) &&
	    memcmp(p, want, strlen(want)) == 0);
	hdr_end = p + strlen(want);
	next = memmem(hdr_end, (size_t)(end - hdr_end), delim, strlen(delim));
	FUZZ_CHECK(next != NULL);
	FUZZ_CHECK(estca_base64_decode((const unsigned char *)hdr_end,
	    (size_t)(next - hdr_end), out) == 0);
	return next;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char sbuf[4096];
	FCGX_Stream out = { 0 };
	FCGX_Request fx = { 0 };
	struct estca_http *h;
	struct estca_buf got, key, p7der;
	const unsigned char *cp, *kp;
	size_t clen, klen;
	X509 *cert = NULL;
	const char *body, *end, *cl, *ct;
	char bnd[71], closing[80];
	unsigned char *certder = NULL;
	int certlen, r;

	if (fixed == NULL)
		fixed = make_fixed();
	if (size < 3 || size > 512 * 1024)
		return 0;
	clen = (size_t)data[1] << 8 | data[2];
	if (clen > size - 3)
		clen = size - 3;
	cp = data + 3;
	kp = cp + clen;
	klen = size - 3 - clen;
	if (clen > 0) {
		const unsigned char *q = cp;

		cert = d2i_X509(NULL, &q, (long)clen);
	}
	if (cert == NULL)
		FUZZ_CHECK(X509_up_ref(fixed) == 1 && (cert = fixed) != NULL);

	estca_buf_init(&got, OUT_MAX, true);
	out.wrNext = sbuf;
	out.stop = sbuf + sizeof(sbuf);
	out.emptyBuffProc = drain;
	out.data = &got;
	fx.out = &out;
	FUZZ_CHECK((h = calloc(1, sizeof(*h))) != NULL);
	h->fx = &fx;
	h->head = data[0] & 1;
	h->method = h->head ? "HEAD" : "POST";

	/* the reply takes the certificate as DER, as the engine sends it */
	if ((certlen = i2d_X509(cert, &certder)) <= 0)
		goto done;
	r = estca_http_reply_serverkeygen(h, certder, (size_t)certlen, kp, klen);
	if (r != 0) {
		/* refused (too large to send): nothing was written */
		FUZZ_CHECK(got.len == 0 && out.wrNext == sbuf);
		goto done;
	}
	drain(&out, 0);
	FUZZ_CHECK(estca_buf_nul(&got) == 0);
	FUZZ_CHECK(h->status == 200);
	FUZZ_CHECK(strncmp((char *)got.data, "Status: 200 ", 12) == 0);
	ct = strstr((char *)got.data, "\r\nContent-Type: multipart/mixed; "
	    "boundary=");
	FUZZ_CHECK(ct != NULL);
	ct += strlen("\r\nContent-Type: multipart/mixed; boundary=");
	FUZZ_CHECK(strcspn(ct, "\r") < sizeof(bnd));
	memcpy(bnd, ct, strcspn(ct, "\r"));
	bnd[strcspn(ct, "\r")] = 0;
	FUZZ_CHECK(bnd[0] != 0);
	body = strstr((char *)got.data, "\r\n\r\n");
	FUZZ_CHECK(body != NULL);
	body += 4;
	end = (char *)got.data + got.len;
	cl = strstr((char *)got.data, "\r\nContent-Length: ");
	FUZZ_CHECK(cl != NULL && cl < body);
	{
		unsigned long long want = strtoull(cl + 18, NULL, 10);

		if (h->head)
			FUZZ_CHECK(body == end && want > 0);
		else
			FUZZ_CHECK(want == (unsigned long long)(end - body));
	}
	if (!h->head) {
		const char *p;
		const unsigned char *q;
		PKCS7 *p7;

		estca_buf_init(&key, OUT_MAX, true);
		estca_buf_init(&p7der, OUT_MAX, false);
		p = part(body, end, bnd, "application/pkcs8", &key);
		FUZZ_CHECK(key.len == klen &&
		    (klen == 0 || memcmp(key.data, kp, klen) == 0));
		p = part(p, end, bnd,
		    "application/pkcs7-mime; smime-type=certs-only", &p7der);
		snprintf(closing, sizeof(closing), "--%s--\r\n", bnd);
		FUZZ_CHECK(strcmp(p, closing) == 0);
		q = p7der.data;
		p7 = d2i_PKCS7(NULL, &q, (long)p7der.len);
		FUZZ_CHECK(p7 != NULL && q == p7der.data + p7der.len);
		FUZZ_CHECK(PKCS7_type_is_signed(p7) &&
		    sk_X509_num(p7->d.sign->cert) == 1);
		{
			unsigned char *d = NULL;
			int n = i2d_X509(sk_X509_value(p7->d.sign->cert, 0), &d);

			FUZZ_CHECK(n == certlen && memcmp(d, certder, (size_t)n) == 0);
			OPENSSL_free(d);
		}
		PKCS7_free(p7);
		estca_buf_free(&key);
		estca_buf_free(&p7der);
	}
done:
	OPENSSL_free(certder);
	estca_buf_free(&got);
	free(h);
	X509_free(cert);
	ERR_clear_error();
	return 0;
}
