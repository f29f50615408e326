/*
 * wire.c - ASN.1 templates and framing of the engine protocol (wire.h).
 * Owns no state.  Both the engine and its client library use it.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
#include "wire.h"

ASN1_SEQUENCE(ESTCA_SPKI) = {
	ASN1_SIMPLE(ESTCA_SPKI, alg, X509_ALGOR),
	ASN1_SIMPLE(ESTCA_SPKI, key, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(ESTCA_SPKI)

IMPLEMENT_ASN1_FUNCTIONS(ESTCA_SPKI)

ASN1_SEQUENCE(ESTCA_REQ) = {
	ASN1_SIMPLE(ESTCA_REQ, version, ASN1_INTEGER),
	ASN1_SIMPLE(ESTCA_REQ, op, ASN1_INTEGER),
	ASN1_IMP_OPT(ESTCA_REQ, ca_name, ASN1_UTF8STRING, 0),
	ASN1_IMP_OPT(ESTCA_REQ, profile, ASN1_UTF8STRING, 1),
	ASN1_EXP_OPT(ESTCA_REQ, subject, X509_NAME, 2),
	ASN1_IMP_SEQUENCE_OF_OPT(ESTCA_REQ, sans, GENERAL_NAME, 3),
	ASN1_EXP_OPT(ESTCA_REQ, spki, ESTCA_SPKI, 4),
	ASN1_IMP_OPT(ESTCA_REQ, validity, ASN1_INTEGER, 5),
	ASN1_IMP_OPT(ESTCA_REQ, key_type, ASN1_UTF8STRING, 6),
	ASN1_IMP_OPT(ESTCA_REQ, requester, ASN1_UTF8STRING, 7),
} ASN1_SEQUENCE_END(ESTCA_REQ)

IMPLEMENT_ASN1_FUNCTIONS(ESTCA_REQ)

ASN1_SEQUENCE(ESTCA_REPLY) = {
	ASN1_SIMPLE(ESTCA_REPLY, version, ASN1_INTEGER),
	ASN1_SIMPLE(ESTCA_REPLY, status, ASN1_INTEGER),
	ASN1_IMP_OPT(ESTCA_REPLY, reason, ASN1_UTF8STRING, 0),
	ASN1_IMP_SEQUENCE_OF_OPT(ESTCA_REPLY, certs, X509, 1),
	ASN1_IMP_OPT(ESTCA_REPLY, pkcs8, ASN1_OCTET_STRING, 2),
} ASN1_SEQUENCE_END(ESTCA_REPLY)

IMPLEMENT_ASN1_FUNCTIONS(ESTCA_REPLY)

static int
spki_from_der(unsigned char *der, int n, ESTCA_SPKI **out)
{
	const unsigned char *q = der;

	*out = NULL;
	if (n <= 0)
		return ESTCA_ERR_MALFORMED;
	*out = d2i_ESTCA_SPKI(NULL, &q, n);
	if (*out != NULL && q != der + n) {
		ESTCA_SPKI_free(*out);
		*out = NULL;
	}
	OPENSSL_free(der);
	return *out != NULL ? 0 : ESTCA_ERR_MALFORMED;
}

int
estca_spki_from_pubkey(const X509_PUBKEY *in, ESTCA_SPKI **out)
{
	unsigned char *der = NULL;
	int n = i2d_X509_PUBKEY((X509_PUBKEY *)in, &der);

	return spki_from_der(der, n, out);
}

int
estca_spki_from_pkey(const EVP_PKEY *in, ESTCA_SPKI **out)
{
	unsigned char *der = NULL;
	int n = i2d_PUBKEY((EVP_PKEY *)in, &der);

	return spki_from_der(der, n, out);
}

int
estca_req_decode(const unsigned char *p, size_t len, ESTCA_REQ **out)
{
	const unsigned char *q = p;
	ESTCA_REQ *r;

	*out = NULL;
	if (len == 0 || len > LONG_MAX)
		return ESTCA_ERR_MALFORMED;
	r = d2i_ESTCA_REQ(NULL, &q, (long)len);
	if (r == NULL)
		return ESTCA_ERR_MALFORMED;
	if ((size_t)(q - p) != len) {
		ESTCA_REQ_free(r);
		return ESTCA_ERR_MALFORMED;
	}
	*out = r;
	return 0;
}

int
estca_reply_decode(const unsigned char *p, size_t len, ESTCA_REPLY **out)
{
	const unsigned char *q = p;
	ESTCA_REPLY *r;

	*out = NULL;
	if (len == 0 || len > LONG_MAX)
		return ESTCA_ERR_MALFORMED;
	r = d2i_ESTCA_REPLY(NULL, &q, (long)len);
	if (r == NULL)
		return ESTCA_ERR_MALFORMED;
	if ((size_t)(q - p) != len) {
		ESTCA_REPLY_free(r);
		return ESTCA_ERR_MALFORMED;
	}
	*out = r;
	return 0;
}

static int
frame(unsigned char *der, int n, size_t max, struct estca_buf *b)
{
	unsigned char hdr[4];
	int r;

	if (n <= 0)
		return ESTCA_ERR_INTERNAL;
	if ((size_t)n > max)
		return ESTCA_ERR_TOO_LARGE;
	hdr[0] = (unsigned char)((unsigned)n >> 24);
	hdr[1] = (unsigned char)((unsigned)n >> 16);
	hdr[2] = (unsigned char)((unsigned)n >> 8);
	hdr[3] = (unsigned char)n;
	if ((r = estca_buf_add(b, hdr, 4)) != 0)
		return r;
	return estca_buf_add(b, der, (size_t)n);
}

int
estca_req_encode(const ESTCA_REQ *r, struct estca_buf *b)
{
	unsigned char *der = NULL;
	int n = i2d_ESTCA_REQ((ESTCA_REQ *)r, &der);
	int ret;

	if (n <= 0)
		return ESTCA_ERR_INTERNAL;
	ret = frame(der, n, ESTCA_WIRE_MAX_REQUEST, b);
	OPENSSL_free(der);
	return ret;
}

int
estca_reply_encode(const ESTCA_REPLY *r, struct estca_buf *b)
{
	unsigned char *der = NULL;
	int n = i2d_ESTCA_REPLY((ESTCA_REPLY *)r, &der);
	int ret;

	if (n <= 0)
		return ESTCA_ERR_INTERNAL;
	ret = frame(der, n, ESTCA_WIRE_MAX_REPLY, b);
	/* a reply may carry a private key */
	OPENSSL_clear_free(der, (size_t)n);
	return ret;
}

int
estca_wire_set_str(ASN1_UTF8STRING **f, const char *s)
{
	ASN1_UTF8STRING *a = ASN1_UTF8STRING_new();

	if (a == NULL)
		return ESTCA_ERR_NOMEM;
	if (!ASN1_STRING_set(a, s, -1)) {
		ASN1_UTF8STRING_free(a);
		return ESTCA_ERR_NOMEM;
	}
	ASN1_UTF8STRING_free(*f);
	*f = a;
	return 0;
}

int
estca_wire_set_int(ASN1_INTEGER **f, long v)
{
	ASN1_INTEGER *a = ASN1_INTEGER_new();

	if (a == NULL)
		return ESTCA_ERR_NOMEM;
	if (!ASN1_INTEGER_set_int64(a, v)) {
		ASN1_INTEGER_free(a);
		return ESTCA_ERR_NOMEM;
	}
	ASN1_INTEGER_free(*f);
	*f = a;
	return 0;
}

int
estca_wire_get_str(const ASN1_UTF8STRING *f, char *dst, size_t dstlen)
{
	int n;

	if (f == NULL)
		return ESTCA_ERR_MALFORMED;
	n = ASN1_STRING_length(f);
	if (n < 0 || (size_t)n >= dstlen)
		return ESTCA_ERR_TOO_LARGE;
	if (memchr(ASN1_STRING_get0_data(f), 0, (size_t)n) != NULL)
		return ESTCA_ERR_MALFORMED;
	memcpy(dst, ASN1_STRING_get0_data(f), (size_t)n);
	dst[n] = 0;
	return 0;
}

int
estca_wire_get_int(const ASN1_INTEGER *f, long *v)
{
	int64_t x;

	if (f == NULL || !ASN1_INTEGER_get_int64(&x, f))
		return ESTCA_ERR_MALFORMED;
	if (x < LONG_MIN || x > LONG_MAX)
		return ESTCA_ERR_MALFORMED;
	*v = (long)x;
	return 0;
}

void
estca_wire_wipe(ASN1_STRING *s)
{
	if (s != NULL && ASN1_STRING_length(s) > 0)
		OPENSSL_cleanse((void *)ASN1_STRING_get0_data(s),
		    (size_t)ASN1_STRING_length(s));
}

static int
wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	int n;

	for (;;) {
		n = poll(&pfd, 1, timeout_ms);
		if (n > 0)
			return 0;
		if (n == 0)
			return ESTCA_ERR_IO;
		if (errno != EINTR)
			return ESTCA_ERR_IO;
	}
}

static int
read_exact(int fd, unsigned char *p, size_t n, int first_timeout_ms,
    int timeout_ms, int *eof)
{
	size_t got = 0;
	ssize_t k;

	while (got < n) {
		if (wait_fd(fd, POLLIN, got == 0 ? first_timeout_ms : timeout_ms) != 0)
			return ESTCA_ERR_IO;
		k = read(fd, p + got, n - got);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return ESTCA_ERR_IO;
		}
		if (k == 0) {
			if (got == 0 && eof != NULL)
				*eof = 1;
			return ESTCA_ERR_IO;
		}
		got += (size_t)k;
	}
	return 0;
}

int
estca_frame_read(int fd, size_t max, int first_timeout_ms, int timeout_ms,
    struct estca_buf *out, int *eof)
{
	unsigned char hdr[4], chunk[4096];
	size_t len, left;
	int r;

	if (eof != NULL)
		*eof = 0;
	estca_buf_reset(out);
	if ((r = read_exact(fd, hdr, 4, first_timeout_ms, timeout_ms, eof)) != 0)
		return r;
	len = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) |
	    ((size_t)hdr[2] << 8) | hdr[3];
	if (len == 0)
		return ESTCA_ERR_MALFORMED;
	if (len > max)
		return ESTCA_ERR_TOO_LARGE;
	for (left = len; left > 0;) {
		size_t n = left < sizeof(chunk) ? left : sizeof(chunk);

		if ((r = read_exact(fd, chunk, n, timeout_ms, timeout_ms, NULL)) != 0)
			return r;
		if ((r = estca_buf_add(out, chunk, n)) != 0)
			return r;
		left -= n;
	}
	OPENSSL_cleanse(chunk, sizeof(chunk));
	return 0;
}

int
estca_write_all(int fd, const unsigned char *p, size_t n, int timeout_ms)
{
	size_t done = 0;
	ssize_t k;

	while (done < n) {
		if (wait_fd(fd, POLLOUT, timeout_ms) != 0)
			return ESTCA_ERR_IO;
		k = send(fd, p + done, n - done, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return ESTCA_ERR_IO;
		}
		done += (size_t)k;
	}
	return 0;
}
