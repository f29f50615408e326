/*
 * body.c - see body.h.  Owns the rule "a body is what CONTENT_LENGTH
 * announced, no more, no less".
 */
#include <stdio.h>
#include <string.h>
#include "body.h"

/* Drop what is left of the stream, at most this much. */
#define DRAIN_MAX (64UL * 1024 * 1024)

static void
drain(FCGX_Stream *in)
{
	char scratch[4096];
	size_t seen = 0;
	int n;

	while (seen < DRAIN_MAX &&
	    (n = FCGX_GetStr(scratch, (int)sizeof(scratch), in)) > 0)
		seen += (size_t)n;
}

/* Strict decimal: digits only, no sign, no blank, at most 18 digits. */
static int
parse_length(const char *s, size_t *out)
{
	size_t v = 0, i;

	for (i = 0; s[i] != 0; i++) {
		if (s[i] < '0' || s[i] > '9' || i >= 18)
			return -1;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	if (i == 0)
		return -1;
	*out = v;
	return 0;
}

int
estca_body_read(FCGX_Stream *in, const char *content_length, size_t cap,
    struct estca_buf *out, char *why, size_t whylen)
{
	char chunk[4096];
	size_t want = 0, got = 0;
	int known = content_length != NULL && content_length[0] != 0, n, r;

	estca_buf_reset(out);
	out->cap = cap;
	if (known && parse_length(content_length, &want) != 0) {
		snprintf(why, whylen, "bad Content-Length");
		drain(in);
		return ESTCA_ERR_MALFORMED;
	}
	if (known && want > cap) {
		snprintf(why, whylen, "request body above %zu bytes", cap);
		drain(in);
		return ESTCA_ERR_TOO_LARGE;
	}
	for (;;) {
		size_t room = known ? want - got : cap + 1 - got;

		if (room > sizeof(chunk))
			room = sizeof(chunk);
		if (room == 0)
			break;
		n = FCGX_GetStr(chunk, (int)room, in);
		if (n <= 0)
			break;
		if (!known && got + (size_t)n > cap) {
			estca_buf_free(out);
			snprintf(why, whylen, "request body above %zu bytes", cap);
			drain(in);
			return ESTCA_ERR_TOO_LARGE;
		}
		if ((r = estca_buf_add(out, chunk, (size_t)n)) != 0) {
			snprintf(why, whylen, "request body too large");
			drain(in);
			return r;
		}
		got += (size_t)n;
	}
	if (known && got != want) {
		estca_buf_free(out);
		snprintf(why, whylen, "request body shorter than its "
		    "Content-Length (%zu of %zu bytes)", got, want);
		return ESTCA_ERR_MALFORMED;
	}
	/* Anything beyond the announced length is not ours to guess at. */
	if (known && FCGX_GetStr(chunk, 1, in) > 0) {
		estca_buf_free(out);
		snprintf(why, whylen, "request body longer than its Content-Length");
		drain(in);
		return ESTCA_ERR_MALFORMED;
	}
	if (got == 0) {
		snprintf(why, whylen, "empty request body");
		return ESTCA_ERR_MALFORMED;
	}
	return 0;
}
