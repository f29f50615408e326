/*
 * fuzz_basic.c - estca_basic_parse() on an Authorization header value.
 *
 * Invariants: on success the user is 1..ESTCA_BASIC_USER_MAX bytes and
 * the password at most ESTCA_BASIC_PASS_MAX, neither with a control
 * character, and "Basic base64(user:pass)" parses back to the same pair;
 * on failure both are wiped (empty).
 */
#include <stdint.h>
#include "fuzz.h"
#include "b64.h"
#include "cred.h"

static int
no_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char user[ESTCA_BASIC_USER_MAX + 1], pass[ESTCA_BASIC_PASS_MAX + 1];
	char user2[ESTCA_BASIC_USER_MAX + 1], pass2[ESTCA_BASIC_PASS_MAX + 1];
	char *hdr;
	struct estca_buf up, enc;
	int r;

	if (size > 64 * 1024 || (hdr = malloc(size + 1)) == NULL)
		return 0;
	memcpy(hdr, data, size);
	hdr[size] = 0;
	r = estca_basic_parse(hdr, user, pass);
	free(hdr);
	FUZZ_CHECK(r == 0 || r == ESTCA_ERR_NOT_FOUND || r == ESTCA_ERR_MALFORMED);
	if (r != 0) {
		FUZZ_CHECK(user[0] == 0 && pass[0] == 0);
		return 0;
	}
	FUZZ_CHECK(strlen(user) >= 1 && strlen(user) <= ESTCA_BASIC_USER_MAX);
	FUZZ_CHECK(strlen(pass) <= ESTCA_BASIC_PASS_MAX);
	FUZZ_CHECK(no_ctl(user) && no_ctl(pass) && strchr(user, ':') == NULL);

	/* build the header again from the pair and parse it */
	estca_buf_init(&up, 1024, true);
	estca_buf_init(&enc, 4096, true);
	FUZZ_CHECK(estca_buf_addstr(&up, user) == 0 &&
	    estca_buf_add(&up, ":", 1) == 0 && estca_buf_addstr(&up, pass) == 0);
	FUZZ_CHECK(estca_buf_addstr(&enc, "Basic ") == 0);
	FUZZ_CHECK(estca_base64_lines(up.data, up.len, &enc) == 0);
	FUZZ_CHECK(estca_buf_nul(&enc) == 0);
	/* estca_base64_lines() ends a line every 64 characters: join them */
	{
		size_t o = 0;

		for (size_t i = 0; i < enc.len; i++)
			if (enc.data[i] != '\n')
				enc.data[o++] = enc.data[i];
		enc.data[o] = 0;
	}
	FUZZ_CHECK(estca_basic_parse((char *)enc.data, user2, pass2) == 0);
	FUZZ_CHECK(strcmp(user, user2) == 0 && strcmp(pass, pass2) == 0);
	estca_buf_free(&up);
	estca_buf_free(&enc);
	return 0;
}
