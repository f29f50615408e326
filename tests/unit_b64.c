/*
 * unit_b64.c - the base64 decoder of lib/b64.c: accepted and refused
 * encodings, line breaks and spaces, the size cap.  Prints TAP; exits 1
 * if any case fails.
 */
#include <stdio.h>
#include <string.h>
#include "b64.h"
#include "tap.h"

static void
test_base64(void)
{
	static const struct {
		const char *in;
		const char *want;   /* NULL: must be refused */
	} cases[] = {
		{ "TWFu", "Man" },
		{ "TWE=", "Ma" },
		{ "TWE", "Ma" },
		{ "TQ==", "M" },
		{ "TQ", "M" },
		{ "TW\r\nFu\n", "Man" },
		{ " T W F u ", "Man" },
		{ "TWFuTWFu\nTWFu\n", "ManManMan" },
		{ "", "" },
		{ "T", NULL },
		{ "TQ=", NULL },
		{ "TQ===", NULL },
		{ "TQ==TQ==", NULL },
		{ "TW-u", NULL },
		{ "TWFu!", NULL },
		{ "TR==", NULL },          /* non-zero bits after the last byte */
		{ "-----BEGIN", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estca_buf b;
		int r;

		estca_buf_init(&b, 1024, false);
		r = estca_base64_decode((const unsigned char *)cases[i].in,
		    strlen(cases[i].in), &b);
		if (cases[i].want == NULL)
			tap_ok(r == ESTCA_ERR_MALFORMED, "base64 case %zu refused",
			    i);
		else
			tap_ok(r == 0 && b.len == strlen(cases[i].want) &&
			    (b.len == 0 || memcmp(b.data, cases[i].want, b.len) == 0),
			    "base64 case %zu decodes", i);
		estca_buf_free(&b);
	}
	{
		struct estca_buf b;

		estca_buf_init(&b, 2, false);
		tap_ok(estca_base64_decode((const unsigned char *)"TWFu", 4, &b) ==
		    ESTCA_ERR_TOO_LARGE && b.data == NULL, "base64 respects the cap");
	}
}

int
main(void)
{
	test_base64();
	return tap_done();
}
