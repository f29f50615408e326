/*
 * b64.h - base64 in and out, into estca_buf buffers (which cap the
 * output and wipe themselves).
 */
#ifndef ESTCA_B64_H
#define ESTCA_B64_H

#include <stddef.h>
#include "buf.h"
#include "errors.h"

/*
 * Decode base64 text in[0..len) into out (which caps it): blanks, tabs,
 * CR and LF are skipped anywhere; padding is optional but, when present,
 * only at the end.  ESTCA_ERR_MALFORMED for any other byte.
 */
int estca_base64_decode(const unsigned char *in, size_t len,
    struct estca_buf *out) ESTCA_WUR;

/*
 * Append base64 of p[0..n) to out, a newline after every 64 characters
 * and after the last line (RFC 2045 style lines, LF only).
 */
int estca_base64_lines(const unsigned char *p, size_t n, struct estca_buf *out)
    ESTCA_WUR;

#endif
