/*
 * fuzz_wire.c - the engine protocol's message decoders, estca_wire_req_decode
 * and estca_wire_reply_decode (lib/wire.c), and the field getters the engine
 * and the client use on what they decoded.
 *
 * The first input byte chooses request or reply; the rest is one
 * message.  Invariants: a decoded message re-encodes, its encoding
 * decodes and encodes to the same bytes (the codec is stable after one
 * round); a message with one byte more never decodes (messages are read
 * exactly to their end).
 */
#include <stdint.h>
#include <openssl/err.h>
#include "fuzz.h"
#include "wire.h"

static void
getters_req(const ESTCA_REQ *q)
{
	char s[512];
	long v;

	(void)estca_wire_get_int(q->version, &v);
	(void)estca_wire_get_int(q->op, &v);
	(void)estca_wire_get_int(q->validity, &v);
	(void)estca_wire_get_str(q->ca_name, s, sizeof(s));
	(void)estca_wire_get_str(q->profile, s, sizeof(s));
	(void)estca_wire_get_str(q->key_type, s, sizeof(s));
	if (estca_wire_get_str(q->requester, s, sizeof(s)) == 0)
		FUZZ_CHECK(strlen(s) == (size_t)ASN1_STRING_length(q->requester));
}

static void
getters_reply(const ESTCA_REPLY *rep)
{
	char s[512];
	long v;
	int n = estca_wire_reply_ncerts(rep);

	(void)estca_wire_get_int(rep->version, &v);
	(void)estca_wire_get_int(rep->status, &v);
	(void)estca_wire_get_str(rep->reason, s, sizeof(s));
	FUZZ_CHECK(n >= 0);
	for (int i = 0; i < n && i < 8; i++) {
		const unsigned char *der;
		size_t len;
		X509 *x;

		/* a decoded reply holds SEQUENCEs only */
		FUZZ_CHECK(estca_wire_reply_cert_der(rep, i, &der, &len) == 0);
		FUZZ_CHECK(len > 0 && der != NULL);
		if (estca_wire_reply_cert(rep, i, &x) == 0) {
			FUZZ_CHECK(x != NULL);
			X509_free(x);
		}
	}
	FUZZ_CHECK(estca_wire_reply_cert_der(rep, n, &(const unsigned char *){ 0 },
	    &(size_t){ 0 }) == ESTCA_ERR_MALFORMED);
}

/* Encode, decode the encoding, encode again: the same bytes. */
#define STABLE(T, enc, dec, msg) do {                                   \
	struct estca_buf a, b;                                          \
	T *again = NULL;                                                \
									\
	estca_buf_init(&a, 2 * 1024 * 1024, true);                      \
	estca_buf_init(&b, 2 * 1024 * 1024, true);                      \
	if (enc(msg, &a) == 0) {                                        \
		FUZZ_CHECK(a.len > 4);                                  \
		FUZZ_CHECK(dec(a.data + 4, a.len - 4, &again) == 0);    \
		FUZZ_CHECK(enc(again, &b) == 0);                        \
		FUZZ_CHECK(a.len == b.len &&                            \
		    memcmp(a.data, b.data, a.len) == 0);                \
		T##_free(again);                                        \
	}                                                               \
	estca_buf_free(&a);                                             \
	estca_buf_free(&b);                                             \
} while (0)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *longer;
	int r;

	if (size < 1 || size > 1024 * 1024)
		return 0;
	if ((longer = malloc(size)) == NULL)
		return 0;
	memcpy(longer, data + 1, size - 1);
	longer[size - 1] = 0;
	if (data[0] & 1) {
		ESTCA_REPLY *rep, *x;

		r = estca_wire_reply_decode(data + 1, size - 1, &rep);
		FUZZ_CHECK(r == 0 || (r == ESTCA_ERR_MALFORMED && rep == NULL));
		if (r == 0) {
			getters_reply(rep);
			STABLE(ESTCA_REPLY, estca_wire_reply_encode, estca_wire_reply_decode,
			    rep);
			FUZZ_CHECK(estca_wire_reply_decode(longer, size, &x) ==
			    ESTCA_ERR_MALFORMED && x == NULL);
			ESTCA_REPLY_free(rep);
		}
	} else {
		ESTCA_REQ *req, *x;

		r = estca_wire_req_decode(data + 1, size - 1, &req);
		FUZZ_CHECK(r == 0 || (r == ESTCA_ERR_MALFORMED && req == NULL));
		if (r == 0) {
			getters_req(req);
			STABLE(ESTCA_REQ, estca_wire_req_encode, estca_wire_req_decode, req);
			FUZZ_CHECK(estca_wire_req_decode(longer, size, &x) ==
			    ESTCA_ERR_MALFORMED && x == NULL);
			ESTCA_REQ_free(req);
		}
	}
	free(longer);
	ERR_clear_error();
	return 0;
}
