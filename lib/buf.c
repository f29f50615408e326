/* buf.c - see buf.h. */
#include <string.h>
#include <openssl/crypto.h>
#include "buf.h"

void
estca_buf_init(struct estca_buf *b, size_t cap, bool secret)
{
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap = cap;
	b->secret = secret;
	b->off = 0;
}

void
estca_buf_free(struct estca_buf *b)
{
	if (b->data != NULL)
		OPENSSL_clear_free(b->data, b->alloc);
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->off = 0;
}

void
estca_buf_reset(struct estca_buf *b)
{
	/* bytes past len never held data: wiping the used part suffices */
	if (b->data != NULL)
		OPENSSL_cleanse(b->data, b->len);
	b->len = 0;
	b->off = 0;
}

int
estca_buf_reserve(struct estca_buf *b, size_t n)
{
	if (n > b->cap || b->len > b->cap - n) {
		estca_buf_free(b);
		return ESTCA_ERR_TOO_LARGE;
	}
	/* one spare byte so estca_buf_nul() never has to grow past cap */
	if (b->len + n + 1 > b->alloc) {
		size_t want = b->alloc ? b->alloc : 256;
		unsigned char *nd;

		while (want < b->len + n + 1)
			want *= 2;
		if (want > b->cap + 1)
			want = b->cap + 1;
		nd = OPENSSL_malloc(want);
		if (nd == NULL) {
			estca_buf_free(b);
			return ESTCA_ERR_NOMEM;
		}
		if (b->len)
			memcpy(nd, b->data, b->len);
		if (b->data != NULL)
			OPENSSL_clear_free(b->data, b->alloc);
		b->data = nd;
		b->alloc = want;
	}
	return 0;
}

int
estca_buf_add(struct estca_buf *b, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if ((r = estca_buf_reserve(b, n)) != 0)
		return r;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
estca_buf_addstr(struct estca_buf *b, const char *s)
{
	return estca_buf_add(b, s, strlen(s));
}

int
estca_buf_nul(struct estca_buf *b)
{
	if (b->data == NULL) {
		unsigned char z = 0;
		int r = estca_buf_add(b, &z, 1);

		if (r != 0)
			return r;
		b->len = 0;
		return 0;
	}
	b->data[b->len] = 0;  /* alloc >= len + 1 always holds */
	return 0;
}

unsigned char *
estca_buf_take(struct estca_buf *b, size_t *len)
{
	unsigned char *d = b->data;

	if (len != NULL)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->alloc = 0;
	b->off = 0;
	return d;
}

const unsigned char *
estca_buf_unread(const struct estca_buf *b, size_t *n)
{
	*n = b->len - b->off;
	return b->data != NULL ? b->data + b->off : NULL;
}

void
estca_buf_consume(struct estca_buf *b, size_t n)
{
	b->off += n <= b->len - b->off ? n : b->len - b->off;
}

void
estca_buf_compact(struct estca_buf *b)
{
	size_t rest = b->len - b->off;

	if (b->off == 0)
		return;
	memmove(b->data, b->data + b->off, rest);
	OPENSSL_cleanse(b->data + rest, b->len - rest);
	b->len = rest;
	b->off = 0;
}

unsigned char *
estca_buf_space(struct estca_buf *b, size_t *room)
{
	/* one byte stays spare for estca_buf_nul() */
	*room = b->alloc > b->len ? b->alloc - b->len - 1 : 0;
	return b->data != NULL ? b->data + b->len : NULL;
}

void
estca_buf_wrote(struct estca_buf *b, size_t n)
{
	size_t room;

	(void)estca_buf_space(b, &room);
	b->len += n <= room ? n : room;
}
