/*
 * wire.c - ASN.1 templates and framing of the engine protocol (wire.h).
 * Owns no state.  Both the engine and its client library use it.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdint.h>
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
	ASN1_IMP_SEQUENCE_OF_OPT(ESTCA_REPLY, certs, ASN1_ANY, 1),
	ASN1_IMP_OPT(ESTCA_REPLY, pkcs8, ASN1_OCTET_STRING, 2),
} ASN1_SEQUENCE_END(ESTCA_REPLY)

IMPLEMENT_ASN1_FUNCTIONS(ESTCA_REPLY)

int
estca_wire_reply_add_der(ESTCA_REPLY *rep, const unsigned char *der, size_t len)
{
	ASN1_STRING *seq = NULL;
	ASN1_TYPE *t = NULL;

	if (len == 0 || len > INT_MAX || der[0] != 0x30)
		return ESTCA_ERR_INTERNAL;
	if ((rep->certs == NULL && (rep->certs = sk_ASN1_TYPE_new_null()) == NULL) ||
	    (seq = ASN1_STRING_type_new(V_ASN1_SEQUENCE)) == NULL ||
	    !ASN1_STRING_set(seq, der, (int)len) || (t = ASN1_TYPE_new()) == NULL) {
		ASN1_STRING_free(seq);
		return ESTCA_ERR_NOMEM;
	}
	ASN1_TYPE_set(t, V_ASN1_SEQUENCE, seq);
	if (!sk_ASN1_TYPE_push(rep->certs, t)) {
		ASN1_TYPE_free(t);
		return ESTCA_ERR_NOMEM;
	}
	return 0;
}

int
estca_wire_reply_add_cert(ESTCA_REPLY *rep, const X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), r;

	if (n <= 0)
		return ESTCA_ERR_INTERNAL;
	r = estca_wire_reply_add_der(rep, der, (size_t)n);
	OPENSSL_free(der);
	return r;
}

int
estca_wire_reply_ncerts(const ESTCA_REPLY *rep)
{
	return rep->certs != NULL ? sk_ASN1_TYPE_num(rep->certs) : 0;
}

int
estca_wire_reply_cert_der(const ESTCA_REPLY *rep, int i, const unsigned char **der,
    size_t *len)
{
	const ASN1_TYPE *t;

	*der = NULL;
	*len = 0;
	if (i < 0 || i >= estca_wire_reply_ncerts(rep))
		return ESTCA_ERR_MALFORMED;
	t = sk_ASN1_TYPE_value(rep->certs, i);
	/* ANY keeps a SEQUENCE's whole encoding, tag and length included */
	if (t == NULL || t->type != V_ASN1_SEQUENCE || t->value.sequence == NULL ||
	    ASN1_STRING_length(t->value.sequence) <= 0)
		return ESTCA_ERR_MALFORMED;
	*der = ASN1_STRING_get0_data(t->value.sequence);
	*len = (size_t)ASN1_STRING_length(t->value.sequence);
	return 0;
}

int
estca_wire_reply_cert(const ESTCA_REPLY *rep, int i, X509 **out)
{
	const unsigned char *der, *q;
	size_t len;
	int r;

	*out = NULL;
	if ((r = estca_wire_reply_cert_der(rep, i, &der, &len)) != 0)
		return r;
	if (len > LONG_MAX)
		return ESTCA_ERR_MALFORMED;
	q = der;
	if ((*out = d2i_X509(NULL, &q, (long)len)) == NULL || q != der + len) {
		X509_free(*out);
		*out = NULL;
		return ESTCA_ERR_MALFORMED;
	}
	return 0;
}

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

/*
 * OpenSSL's ANY takes an element with tag 0 (type V_ASN1_EOC) and
 * re-encodes it as an end-of-contents pair, which no decoder takes back.
 * A request's ANY fields (the key's algorithm parameters, the value of
 * an otherName) never hold one when made by an encoder: refused.
 */
static bool
any_fields_ok(const ESTCA_REQ *r)
{
	if (r->spki != NULL) {
		int ptype;

		X509_ALGOR_get0(NULL, &ptype, NULL, r->spki->alg);
		if (ptype == V_ASN1_EOC)
			return false;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(r->sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(r->sans, i);

		if (g->type == GEN_OTHERNAME && (g->d.otherName->value == NULL ||
		    g->d.otherName->value->type == V_ASN1_EOC))
			return false;
	}
	return true;
}

int
estca_wire_req_decode(const unsigned char *p, size_t len, ESTCA_REQ **out)
{
	const unsigned char *q = p;
	ESTCA_REQ *r;

	*out = NULL;
	if (len == 0 || len > LONG_MAX)
		return ESTCA_ERR_MALFORMED;
	r = d2i_ESTCA_REQ(NULL, &q, (long)len);
	if (r == NULL)
		return ESTCA_ERR_MALFORMED;
	if ((size_t)(q - p) != len || !any_fields_ok(r)) {
		ESTCA_REQ_free(r);
		return ESTCA_ERR_MALFORMED;
	}
	*out = r;
	return 0;
}

int
estca_wire_reply_decode(const unsigned char *p, size_t len, ESTCA_REPLY **out)
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
	/*
	 * certs holds certificates: each a SEQUENCE, which ANY keeps as the
	 * bytes received.  ANY would also take other tags (tag 0 among
	 * them, whose re-encoding is no longer a valid element): refused.
	 */
	for (int i = 0; i < estca_wire_reply_ncerts(r); i++) {
		const unsigned char *der;
		size_t n;

		if (estca_wire_reply_cert_der(r, i, &der, &n) != 0) {
			ESTCA_REPLY_free(r);
			return ESTCA_ERR_MALFORMED;
		}
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
estca_wire_req_encode(const ESTCA_REQ *r, struct estca_buf *b)
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
estca_wire_reply_encode(const ESTCA_REPLY *r, struct estca_buf *b)
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

/* What one read() asks for at most (a request is a few hundred bytes). */
#define READ_CHUNK (16 * 1024)

void
estca_reader_init(struct estca_reader *r, size_t max_frame, bool secret)
{
	estca_buf_init(&r->b, max_frame + 4 + READ_CHUNK, secret);
}

void
estca_reader_free(struct estca_reader *r)
{
	estca_buf_free(&r->b);
}

/* 1: a whole frame of *flen bytes follows the next header; 0: not yet. */
static int
buffered(const struct estca_reader *r, size_t max, size_t *flen)
{
	size_t have, len;
	const unsigned char *h = estca_buf_unread(&r->b, &have);

	if (have < 4)
		return 0;
	len = ((size_t)h[0] << 24) | ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
	if (len == 0)
		return ESTCA_ERR_MALFORMED;
	if (len > max)
		return ESTCA_ERR_TOO_LARGE;
	*flen = len;
	return have - 4 >= len;
}

int
estca_reader_has_frame(const struct estca_reader *r)
{
	size_t n;

	return buffered(r, SIZE_MAX, &n) == 1;
}

/* How many bytes are buffered and not handed out yet. */
static size_t
pending(const struct estca_reader *r)
{
	size_t n;

	(void)estca_buf_unread(&r->b, &n);
	return n;
}

/* recv() what fits into the buffer's free space, without waiting. */
static ssize_t
recv_some(struct estca_reader *r, int fd)
{
	size_t room;
	unsigned char *p = estca_buf_space(&r->b, &room);
	ssize_t k = recv(fd, p, room, MSG_DONTWAIT);

	if (k > 0)
		estca_buf_wrote(&r->b, (size_t)k);
	return k;
}

int
estca_reader_next(struct estca_reader *r, int fd, int wake_fd, size_t max,
    int first_timeout_ms, int timeout_ms, const unsigned char **p, size_t *n,
    int *eof)
{
	size_t flen = 0;
	ssize_t k;
	int st;

	*p = NULL;
	*n = 0;
	if (eof != NULL)
		*eof = 0;
	for (;;) {
		if ((st = buffered(r, max, &flen)) < 0)
			return st;
		if (st == 1) {
			size_t have;

			*p = estca_buf_unread(&r->b, &have) + 4;
			*n = flen;
			estca_buf_consume(&r->b, 4 + flen);
			return 0;
		}
		estca_buf_compact(&r->b);
		if ((st = estca_buf_reserve(&r->b, READ_CHUNK)) != 0)
			return st;
		k = recv_some(r, fd);
		if (k > 0)
			continue;
		if (k == 0) {
			if (pending(r) == 0 && eof != NULL)
				*eof = 1;
			return ESTCA_ERR_IO;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ESTCA_ERR_IO;
		{
			struct pollfd pfd[2] = {
				{ .fd = fd, .events = POLLIN },
				{ .fd = wake_fd, .events = POLLIN },
			};
			int w = poll(pfd, wake_fd >= 0 ? 2 : 1,
			    pending(r) == 0 ? first_timeout_ms : timeout_ms);

			if (w == 0)
				return ESTCA_ERR_IO;
			if (w < 0 && errno != EINTR)
				return ESTCA_ERR_IO;
			if (w > 0 && wake_fd >= 0 && pfd[1].revents != 0)
				return ESTCA_ERR_UNAVAILABLE;
		}
	}
}

int
estca_reader_fill(struct estca_reader *r, int fd, size_t max, int *eof)
{
	size_t flen;
	ssize_t k;
	int st;

	*eof = 0;
	if ((st = buffered(r, max, &flen)) != 0)
		return st < 0 ? st : 0;   /* a bad header, or a whole frame already */
	estca_buf_compact(&r->b);
	if ((st = estca_buf_reserve(&r->b, READ_CHUNK)) != 0)
		return st;
	do
		k = recv_some(r, fd);
	while (k < 0 && errno == EINTR);
	if (k > 0)
		return 0;
	if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (k == 0 && pending(r) == 0)
		*eof = 1;
	return ESTCA_ERR_IO;
}

int
estca_write_all(int fd, const unsigned char *p, size_t n, int timeout_ms)
{
	size_t done = 0;
	ssize_t k;

	/* try first: a socket with room takes the whole reply at once */
	while (done < n) {
		k = send(fd, p + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (k >= 0) {
			done += (size_t)k;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return ESTCA_ERR_IO;
		if (wait_fd(fd, POLLOUT, timeout_ms) != 0)
			return ESTCA_ERR_IO;
	}
	return 0;
}
