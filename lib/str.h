/*
 * str.h - the small string jobs every program has, done once: a bounded
 * copy that says when it would truncate, hex, and making untrusted text
 * safe for one line of a log or a reply.
 */
#ifndef ESTCA_STR_H
#define ESTCA_STR_H

#include <stddef.h>
#include "errors.h"

/* Copy the string src into dst[dstlen]: 0, or ESTCA_ERR_TOO_LARGE when it
 * does not fit (dst is then ""; nothing is cut silently). */
int estca_str_copy(char *dst, size_t dstlen, const char *src) ESTCA_WUR;

/* Lower-case hex of p[0..n) into dst[dstlen], NUL-terminated: 0, or
 * ESTCA_ERR_TOO_LARGE (dst is then ""). */
int estca_hex(char *dst, size_t dstlen, const unsigned char *p, size_t n)
    ESTCA_WUR;

/* The value of the hex digit c (either case), or -1. */
int estca_hexval(char c);

/* A certificate serial (big-endian bytes p[0..n)) as estca writes it
 * everywhere (est.certificate, est.audit, the engine's audit log):
 * upper-case hex without leading zeros, "0" for zero.  0, or
 * ESTCA_ERR_TOO_LARGE (dst is then ""). */
int estca_serial_text(char *dst, size_t dstlen, const unsigned char *p,
    size_t n) ESTCA_WUR;

/* s as one line of printable ASCII in dst[dstlen]: trailing newlines and
 * blanks dropped, every other byte outside 0x20-0x7e shown as '?', cut at
 * dstlen - 1.  NULL s: "". */
void estca_one_line(char *dst, size_t dstlen, const char *s);

/* The same for n bytes that need not be a string (no trailing trim). */
void estca_printable(char *dst, size_t dstlen, const unsigned char *s,
    size_t n);

#endif
