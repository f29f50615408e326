/*
 * unit_wire.c - the engine wire codec and the byte buffer, without an
 * engine: round trips, trailing bytes, truncation, size caps, framing.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include "buf.h"
#include "wire.h"

static int n_test, n_fail;

static void
check(int cond, const char *what)
{
	n_test++;
	if (!cond)
		n_fail++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", n_test, what);
}

static ESTCA_REQ *
sample_request(void)
{
	ESTCA_REQ *q = ESTCA_REQ_new();
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	GENERAL_NAME *gn;
	ASN1_IA5STRING *dns;

	if (q == NULL || pk == NULL)
		return NULL;
	if (estca_wire_set_int(&q->version, ESTCA_WIRE_VERSION) ||
	    estca_wire_set_int(&q->op, ESTCA_OP_SIGN) ||
	    estca_wire_set_str(&q->ca_name, "est") ||
	    estca_wire_set_str(&q->profile, "device") ||
	    estca_wire_set_int(&q->validity, 86400) ||
	    estca_wire_set_str(&q->requester, "unit"))
		return NULL;
	q->subject = X509_NAME_new();
	X509_NAME_add_entry_by_txt(q->subject, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"device-1", -1, -1, 0);
	q->sans = sk_GENERAL_NAME_new_null();
	gn = GENERAL_NAME_new();
	dns = ASN1_IA5STRING_new();
	ASN1_STRING_set(dns, "device-1.example", -1);
	GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
	sk_GENERAL_NAME_push(q->sans, gn);
	if (estca_spki_from_pkey(pk, &q->spki) != 0)
		q->spki = NULL;
	EVP_PKEY_free(pk);
	return q;
}

int
main(void)
{
	ESTCA_REQ *q = sample_request(), *q2 = NULL;
	ESTCA_REPLY *rep = ESTCA_REPLY_new(), *rep2 = NULL;
	struct estca_buf b, in;
	unsigned char *der = NULL, *pad;
	char s[64];
	long v = 0;
	int sv[2], eof = 0;

	check(q != NULL, "request built");
	estca_buf_init(&b, ESTCA_WIRE_MAX_REQUEST + 4, false);
	check(estca_req_encode(q, &b) == 0, "request encodes");
	check(b.len > 4 && ((size_t)b.data[2] << 8 | b.data[3]) == b.len - 4,
	    "frame length prefix matches");
	check(estca_req_decode(b.data + 4, b.len - 4, &q2) == 0, "request decodes");
	check(q2 != NULL && estca_wire_get_str(q2->profile, s, sizeof(s)) == 0 &&
	    strcmp(s, "device") == 0, "profile survives");
	check(q2 != NULL && estca_wire_get_int(q2->validity, &v) == 0 && v == 86400,
	    "validity survives");
	check(q2 != NULL && sk_GENERAL_NAME_num(q2->sans) == 1, "SANs survive");
	check(q2 != NULL && X509_NAME_cmp(q->subject, q2->subject) == 0,
	    "subject survives");
	check(q2 != NULL && q2->spki != NULL &&
	    ASN1_STRING_cmp(q->spki->key, q2->spki->key) == 0, "key survives");
	ESTCA_REQ_free(q2);
	q2 = NULL;

	/* trailing byte and truncation */
	pad = OPENSSL_malloc(b.len + 1);
	memcpy(pad, b.data + 4, b.len - 4);
	pad[b.len - 4] = 0;
	check(estca_req_decode(pad, b.len - 3, &q2) == ESTCA_ERR_MALFORMED && !q2,
	    "trailing byte refused");
	check(estca_req_decode(pad, b.len - 5, &q2) == ESTCA_ERR_MALFORMED && !q2,
	    "truncated message refused");
	check(estca_req_decode(pad, 0, &q2) == ESTCA_ERR_MALFORMED, "empty refused");
	OPENSSL_free(pad);

	/* string helpers */
	check(estca_wire_get_str(q->ca_name, s, 3) == ESTCA_ERR_TOO_LARGE,
	    "string longer than destination refused");
	check(estca_wire_get_str(NULL, s, sizeof(s)) == ESTCA_ERR_MALFORMED,
	    "missing string refused");

	/* reply round trip */
	check(estca_wire_set_int(&rep->version, 1) == 0 &&
	    estca_wire_set_int(&rep->status, ESTCA_ERR_REFUSED) == 0 &&
	    estca_wire_set_str(&rep->reason, "nope") == 0, "reply built");
	estca_buf_reset(&b);
	check(estca_reply_encode(rep, &b) == 0, "reply encodes");
	check(estca_reply_decode(b.data + 4, b.len - 4, &rep2) == 0, "reply decodes");
	check(rep2 && estca_wire_get_int(rep2->status, &v) == 0 &&
	    v == ESTCA_ERR_REFUSED, "status survives");

	/* framing over a socket pair */
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	check(estca_write_all(sv[0], b.data, b.len, 1000) == 0, "frame written");
	estca_buf_init(&in, 1024, false);
	check(estca_frame_read(sv[1], 1024, 1000, 1000, &in, &eof) == 0 &&
	    in.len == b.len - 4 && memcmp(in.data, b.data + 4, in.len) == 0,
	    "frame read back whole");
	check(estca_write_all(sv[0], b.data, b.len, 1000) == 0, "frame written again");
	check(estca_frame_read(sv[1], 4, 1000, 1000, &in, &eof) == ESTCA_ERR_TOO_LARGE,
	    "frame above the cap refused");
	close(sv[0]);
	close(sv[1]);
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	close(sv[0]);
	check(estca_frame_read(sv[1], 1024, 1000, 1000, &in, &eof) == ESTCA_ERR_IO &&
	    eof == 1, "clean close reported as eof");
	close(sv[1]);
	estca_buf_free(&in);

	/* buffer caps */
	estca_buf_init(&in, 8, true);
	check(estca_buf_add(&in, "12345678", 8) == 0 && in.len == 8, "buffer fills to cap");
	check(estca_buf_add(&in, "9", 1) == ESTCA_ERR_TOO_LARGE && in.len == 0 &&
	    in.data == NULL, "buffer past cap is freed, never half");
	check(estca_buf_addstr(&in, "ab") == 0 && estca_buf_nul(&in) == 0 &&
	    strcmp((char *)in.data, "ab") == 0, "nul-terminated view");
	der = estca_buf_take(&in, NULL);
	check(der != NULL && in.data == NULL && in.len == 0, "take transfers ownership");
	OPENSSL_clear_free(der, 2);
	estca_buf_free(&in);

	estca_buf_free(&b);
	ESTCA_REQ_free(q);
	ESTCA_REPLY_free(rep);
	ESTCA_REPLY_free(rep2);
	printf("# %d tests, %d failed\n", n_test, n_fail);
	return n_fail ? 1 : 0;
}
