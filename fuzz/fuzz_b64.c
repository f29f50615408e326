/*
 * fuzz_b64.c - estca_base64_decode() on arbitrary text (EST bodies and
 * Basic credentials go through it).
 *
 * Invariants: the output is at most 3/4 of the input; what decodes,
 * encoded again with estca_base64_lines(), decodes to the same bytes;
 * and the input itself, encoded and decoded, comes back unchanged.  A
 * failure leaves the buffer empty (buf.h: never half a buffer).
 */
#include <stdint.h>
#include "fuzz.h"
#include "b64.h"

#define CAP (1024 * 1024)

static void
round_trip(const unsigned char *p, size_t n)
{
	struct estca_buf enc, dec;

	estca_buf_init(&enc, CAP * 2, false);
	estca_buf_init(&dec, CAP, false);
	FUZZ_CHECK(estca_base64_lines(p, n, &enc) == 0);
	FUZZ_CHECK(estca_base64_decode(enc.data, enc.len, &dec) == 0);
	FUZZ_CHECK(dec.len == n && (n == 0 || memcmp(dec.data, p, n) == 0));
	estca_buf_free(&enc);
	estca_buf_free(&dec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct estca_buf out;
	int r;

	if (size > CAP)
		return 0;
	estca_buf_init(&out, CAP, false);
	r = estca_base64_decode(data, size, &out);
	FUZZ_CHECK(r == 0 || r == ESTCA_ERR_MALFORMED);
	if (r != 0) {
		FUZZ_CHECK(out.len == 0 && out.data == NULL);
	} else {
		FUZZ_CHECK(out.len <= size / 4 * 3 + 2);
		round_trip(out.data, out.len);
	}
	estca_buf_free(&out);
	round_trip(data, size);
	return 0;
}
