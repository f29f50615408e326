/*
 * b64.c - see b64.h.  Owns base64 (RFC 4648 alphabet) in both directions
 * for every program: the lenient decoder of EST bodies and Basic
 * credentials, and the line-broken encoder of EST replies.
 */
#include <openssl/evp.h>
#include "b64.h"

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
estca_base64_decode(const unsigned char *in, size_t len, struct estca_buf *out)
{
	unsigned char q[3];
	unsigned long acc = 0;
	int nbits = 0, r;
	size_t ndata = 0, npad = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = in[i];
		int v;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			npad++;
			continue;
		}
		/* data after padding, or not base64 at all */
		if (npad > 0 || (v = b64val(c)) < 0)
			goto bad;
		ndata++;
		acc = (acc << 6) | (unsigned long)v;
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			q[0] = (unsigned char)(acc >> nbits);
			if ((r = estca_buf_add(out, q, 1)) != 0)
				return r;
			acc &= (1UL << nbits) - 1;
		}
	}
	/* a lone sixth of a group, too much padding, or padding that does
	 * not complete the last group */
	if (ndata % 4 == 1 || npad > 2 ||
	    (npad > 0 && (ndata + npad) % 4 != 0) || acc != 0)
		goto bad;
	return 0;
bad:
	estca_buf_free(out);
	return ESTCA_ERR_MALFORMED;
}

int
estca_base64_lines(const unsigned char *p, size_t n, struct estca_buf *out)
{
	/* 48 input bytes make one 64-character line. */
	unsigned char line[64 + 2];
	int r;

	while (n > 0) {
		size_t take = n < 48 ? n : 48;
		int w = EVP_EncodeBlock(line, p, (int)take);

		line[w] = '\n';
		if ((r = estca_buf_add(out, line, (size_t)w + 1)) != 0)
			return r;
		p += take;
		n -= take;
	}
	return 0;
}

