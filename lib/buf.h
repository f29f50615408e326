/*
 * buf.h - the one growable byte buffer of estca.
 *
 * A buffer has an owner, a length and a cap chosen by its user (CSR body,
 * reply, DER message).  Appending past the cap or failing to grow frees the
 * contents and leaves the buffer empty, so a caller never holds half a
 * buffer.  Every buffer is wiped before its memory is released or reused
 * (request bodies and CSRs carry enrollment codes; nobody has to remember
 * to ask).  estca_buf_take() hands the bytes to the caller, who then frees
 * them with OPENSSL_clear_free() (or OPENSSL_free() for public bytes).
 */
#ifndef ESTCA_BUF_H
#define ESTCA_BUF_H

#include <stddef.h>
#include <stdbool.h>
#include "errors.h"

struct estca_buf {
	unsigned char *data;
	size_t len;
	size_t alloc;
	size_t cap;      /* the most bytes this buffer may ever hold */
	bool secret;     /* holds a secret (informational: all buffers wipe) */
	size_t off;      /* private to buf.c: bytes consumed from the front */
};

void estca_buf_init(struct estca_buf *b, size_t cap, bool secret);
int estca_buf_add(struct estca_buf *b, const void *p, size_t n) ESTCA_WUR;
/* Room for n more bytes (within cap) without changing len. */
int estca_buf_reserve(struct estca_buf *b, size_t n) ESTCA_WUR;
int estca_buf_addstr(struct estca_buf *b, const char *s) ESTCA_WUR;
/* Append a NUL that is not counted in len (for text users). */
int estca_buf_nul(struct estca_buf *b) ESTCA_WUR;
void estca_buf_reset(struct estca_buf *b);
void estca_buf_free(struct estca_buf *b);
/* Transfer ownership of the bytes; the buffer is left empty. */
unsigned char *estca_buf_take(struct estca_buf *b, size_t *len);

/*
 * A buffer read from the front (a stream of frames): the bytes not yet
 * consumed, and consuming n of them.  data and len keep describing the
 * whole buffer; the consumed part is dropped by estca_buf_compact(),
 * which moves the rest to the front and wipes what it leaves behind.
 */
const unsigned char *estca_buf_unread(const struct estca_buf *b, size_t *n);
void estca_buf_consume(struct estca_buf *b, size_t n);
void estca_buf_compact(struct estca_buf *b);
/*
 * Writing past len without a copy (a recv() straight into the buffer):
 * estca_buf_space() is where (*room bytes, after estca_buf_reserve());
 * estca_buf_wrote() then counts the n bytes written there.
 */
unsigned char *estca_buf_space(struct estca_buf *b, size_t *room);
void estca_buf_wrote(struct estca_buf *b, size_t n);

#endif
