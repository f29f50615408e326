/*
 * unit_wire.c - the engine wire codec and the byte buffer, without an
 * engine: round trips, trailing bytes, truncation, size caps, framing.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "buf.h"
#include "wire.h"
#include "tap.h"


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

	tap_ok(q != NULL, "request built");
	estca_buf_init(&b, ESTCA_WIRE_MAX_REQUEST + 4, false);
	tap_ok(estca_wire_req_encode(q, &b) == 0, "request encodes");
	tap_ok(b.len > 4 && ((size_t)b.data[2] << 8 | b.data[3]) == b.len - 4,
	    "frame length prefix matches");
	tap_ok(estca_wire_req_decode(b.data + 4, b.len - 4, &q2) == 0, "request decodes");
	tap_ok(q2 != NULL && estca_wire_get_str(q2->profile, s, sizeof(s)) == 0 &&
	    strcmp(s, "device") == 0, "profile survives");
	tap_ok(q2 != NULL && estca_wire_get_int(q2->validity, &v) == 0 && v == 86400,
	    "validity survives");
	tap_ok(q2 != NULL && sk_GENERAL_NAME_num(q2->sans) == 1, "SANs survive");
	tap_ok(q2 != NULL && X509_NAME_cmp(q->subject, q2->subject) == 0,
	    "subject survives");
	tap_ok(q2 != NULL && q2->spki != NULL &&
	    ASN1_STRING_cmp(q->spki->key, q2->spki->key) == 0, "key survives");
	ESTCA_REQ_free(q2);
	q2 = NULL;

	/* trailing byte and truncation */
	pad = OPENSSL_malloc(b.len + 1);
	memcpy(pad, b.data + 4, b.len - 4);
	pad[b.len - 4] = 0;
	tap_ok(estca_wire_req_decode(pad, b.len - 3, &q2) == ESTCA_ERR_MALFORMED && !q2,
	    "trailing byte refused");
	tap_ok(estca_wire_req_decode(pad, b.len - 5, &q2) == ESTCA_ERR_MALFORMED && !q2,
	    "truncated message refused");
	tap_ok(estca_wire_req_decode(pad, 0, &q2) == ESTCA_ERR_MALFORMED, "empty refused");
	OPENSSL_free(pad);

	/* string helpers */
	tap_ok(estca_wire_get_str(q->ca_name, s, 3) == ESTCA_ERR_TOO_LARGE,
	    "string longer than destination refused");
	tap_ok(estca_wire_get_str(NULL, s, sizeof(s)) == ESTCA_ERR_MALFORMED,
	    "missing string refused");

	/* reply round trip */
	tap_ok(estca_wire_set_int(&rep->version, 1) == 0 &&
	    estca_wire_set_int(&rep->status, ESTCA_ERR_REFUSED) == 0 &&
	    estca_wire_set_str(&rep->reason, "nope") == 0, "reply built");
	estca_buf_reset(&b);
	tap_ok(estca_wire_reply_encode(rep, &b) == 0, "reply encodes");
	tap_ok(estca_wire_reply_decode(b.data + 4, b.len - 4, &rep2) == 0, "reply decodes");
	tap_ok(rep2 && estca_wire_get_int(rep2->status, &v) == 0 &&
	    v == ESTCA_ERR_REFUSED, "status survives");

	/* certificates travel as DER, untouched */
	{
		EVP_PKEY *k = EVP_EC_gen("P-256");
		X509 *x = X509_new(), *back = NULL;
		unsigned char *xder = NULL;
		const unsigned char *cp;
		size_t cl;
		int xl = 0;
		ESTCA_REPLY *r3 = NULL;

		tap_ok(k != NULL && x != NULL && X509_set_version(x, X509_VERSION_3) &&
		    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) &&
		    X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
		    X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
		    X509_set_pubkey(x, k) && X509_sign(x, k, EVP_sha256()) > 0 &&
		    (xl = i2d_X509(x, &xder)) > 0, "test certificate built");
		tap_ok(estca_wire_reply_add_cert(rep, x) == 0 && estca_wire_reply_add_cert(rep, x) == 0 &&
		    estca_wire_reply_ncerts(rep) == 2, "two certificates added");
		estca_buf_reset(&b);
		tap_ok(estca_wire_reply_encode(rep, &b) == 0 &&
		    estca_wire_reply_decode(b.data + 4, b.len - 4, &r3) == 0 &&
		    estca_wire_reply_ncerts(r3) == 2, "reply with certificates round trips");
		tap_ok(r3 && estca_wire_reply_cert_der(r3, 1, &cp, &cl) == 0 && xder &&
		    cl == (size_t)xl && memcmp(cp, xder, cl) == 0,
		    "certificate DER comes back byte for byte");
		tap_ok(r3 && estca_wire_reply_cert(r3, 0, &back) == 0 && back &&
		    X509_cmp(back, x) == 0, "certificate decodes on demand");
		tap_ok(r3 && estca_wire_reply_cert_der(r3, 2, &cp, &cl) == ESTCA_ERR_MALFORMED,
		    "certificate index past the end refused");
		/* a non-SEQUENCE where a certificate belongs is refused */
		{
			ASN1_TYPE *t = ASN1_TYPE_new();
			ASN1_INTEGER *iv = ASN1_INTEGER_new();
			ESTCA_REPLY *r4 = NULL;

			ASN1_INTEGER_set(iv, 5);
			ASN1_TYPE_set(t, V_ASN1_INTEGER, iv);
			sk_ASN1_TYPE_push(r3->certs, t);
			estca_buf_reset(&b);
			tap_ok(estca_wire_reply_encode(r3, &b) == 0 &&
			    estca_wire_reply_decode(b.data + 4, b.len - 4, &r4) ==
			    ESTCA_ERR_MALFORMED && r4 == NULL,
			    "a reply with an INTEGER in place of a certificate refused");
			ESTCA_REPLY_free(r4);
			(void)sk_ASN1_TYPE_pop(r3->certs);
			ASN1_TYPE_free(t);
		}
		/* a request whose key parameters are a tag-0 element (another
		 * fuzzer's find); the same request with NULL parameters decodes */
		{
			unsigned char req[] = {
				0x30, 0x1d, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02,
				0xa4, 0x15, 0x30, 0x13, 0x30, 0x0d, 0x06, 0x09,
				0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
				0x01, 0x20, 0x00, 0x03, 0x02, 0x00, 0x00,
			};
			ESTCA_REQ *rq = NULL;

			tap_ok(estca_wire_req_decode(req, sizeof(req), &rq) ==
			    ESTCA_ERR_MALFORMED && rq == NULL,
			    "a request with tag-0 key parameters refused");
			req[25] = 0x05;
			tap_ok(estca_wire_req_decode(req, sizeof(req), &rq) == 0 &&
			    rq != NULL, "... with NULL parameters it decodes");
			ESTCA_REQ_free(rq);
		}
		/* tag 0 where a certificate belongs: its re-encoding would be an
		 * end-of-contents octet pair (a fuzzer's find) */
		{
			static const unsigned char tag0[] = {
				0x30, 0x0c, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00,
				0xa1, 0x04, 0x00, 0x02, 0x41, 0x42,
			};
			ESTCA_REPLY *r5 = NULL;

			tap_ok(estca_wire_reply_decode(tag0, sizeof(tag0), &r5) ==
			    ESTCA_ERR_MALFORMED && r5 == NULL,
			    "a reply with a tag-0 element in certs refused");
			ESTCA_REPLY_free(r5);
		}
		X509_free(back);
		ESTCA_REPLY_free(r3);
		OPENSSL_free(xder);
		X509_free(x);
		EVP_PKEY_free(k);
		sk_ASN1_TYPE_pop_free(rep->certs, ASN1_TYPE_free);
		rep->certs = NULL;
		estca_buf_reset(&b);
		tap_ok(estca_wire_reply_encode(rep, &b) == 0, "reply re-encodes");
	}

	/* framing over a socket pair */
	{
		struct estca_reader rd;
		const unsigned char *fp;
		size_t fl;
		unsigned char two[4096];

		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		estca_reader_init(&rd, 1024, false);
		tap_ok(estca_write_all(sv[0], b.data, b.len, 1000) == 0, "frame written");
		tap_ok(estca_reader_next(&rd, sv[1], -1, 1024, 1000, 1000, &fp, &fl, &eof) == 0 &&
		    fl == b.len - 4 && memcmp(fp, b.data + 4, fl) == 0,
		    "frame read back whole");
		tap_ok(!estca_reader_has_frame(&rd), "nothing left buffered");
		/* two frames in one write: one read, both handed out in order */
		memcpy(two, b.data, b.len);
		memcpy(two + b.len, b.data, b.len);
		tap_ok(estca_write_all(sv[0], two, 2 * b.len, 1000) == 0, "two frames written");
		tap_ok(estca_reader_next(&rd, sv[1], -1, 1024, 1000, 1000, &fp, &fl, &eof) == 0 &&
		    fl == b.len - 4 && memcmp(fp, b.data + 4, fl) == 0, "first of two read");
		tap_ok(estca_reader_has_frame(&rd), "second frame already buffered");
		tap_ok(estca_reader_next(&rd, -1, -1, 1024, 1000, 1000, &fp, &fl, &eof) == 0 &&
		    fl == b.len - 4 && memcmp(fp, b.data + 4, fl) == 0,
		    "second of two read without touching the socket");
		/* a frame split across writes */
		tap_ok(estca_write_all(sv[0], b.data, 3, 1000) == 0, "first 3 bytes written");
		tap_ok(estca_reader_next(&rd, sv[1], -1, 1024, 1000, 100, &fp, &fl, &eof) ==
		    ESTCA_ERR_IO && eof == 0, "half a header times out, not eof");
		tap_ok(estca_write_all(sv[0], b.data + 3, b.len - 3, 1000) == 0, "rest written");
		tap_ok(estca_reader_next(&rd, sv[1], -1, 1024, 1000, 1000, &fp, &fl, &eof) == 0 &&
		    fl == b.len - 4 && memcmp(fp, b.data + 4, fl) == 0,
		    "split frame joined");
		estca_reader_free(&rd);
		estca_reader_init(&rd, 4, false);
		tap_ok(estca_write_all(sv[0], b.data, b.len, 1000) == 0, "frame written again");
		tap_ok(estca_reader_next(&rd, sv[1], -1, 4, 1000, 1000, &fp, &fl, &eof) ==
		    ESTCA_ERR_TOO_LARGE, "frame above the cap refused");
		estca_reader_free(&rd);
		/* a zero-length frame */
		estca_reader_init(&rd, 1024, false);
		memset(two, 0, 4);
		tap_ok(estca_write_all(sv[0], two, 4, 1000) == 0 &&
		    estca_reader_next(&rd, sv[1], -1, 1024, 1000, 1000, &fp, &fl, &eof) ==
		    ESTCA_ERR_MALFORMED, "empty frame refused");
		estca_reader_free(&rd);
		close(sv[0]);
		close(sv[1]);
		/* fill: takes what is there, reports a bad header without reading on */
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		estca_reader_init(&rd, 1024, false);
		tap_ok(estca_reader_fill(&rd, sv[1], 1024, &eof) == 0 && eof == 0 &&
		    !estca_reader_has_frame(&rd), "fill on an empty socket returns at once");
		tap_ok(estca_write_all(sv[0], b.data, b.len, 1000) == 0 &&
		    estca_reader_fill(&rd, sv[1], 1024, &eof) == 0 &&
		    estca_reader_has_frame(&rd), "fill takes a waiting frame");
		estca_reader_free(&rd);
		estca_reader_init(&rd, 4, false);
		tap_ok(estca_write_all(sv[0], b.data, b.len, 1000) == 0 &&
		    estca_reader_fill(&rd, sv[1], 4, &eof) == 0 &&
		    estca_reader_fill(&rd, sv[1], 4, &eof) == ESTCA_ERR_TOO_LARGE,
		    "fill reports a frame above the cap");
		estca_reader_free(&rd);
		close(sv[0]);
		close(sv[1]);
		/* the wake descriptor ends an idle wait */
		{
			int wp[2];

			socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
			tap_ok(pipe(wp) == 0 && write(wp[1], "x", 1) == 1, "wake pipe ready");
			estca_reader_init(&rd, 1024, false);
			tap_ok(estca_reader_next(&rd, sv[1], wp[0], 1024, -1, 1000, &fp, &fl,
			    &eof) == ESTCA_ERR_UNAVAILABLE, "wake fd interrupts an idle read");
			estca_reader_free(&rd);
			close(wp[0]);
			close(wp[1]);
			close(sv[0]);
			close(sv[1]);
		}
		socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
		close(sv[0]);
		estca_reader_init(&rd, 1024, false);
		tap_ok(estca_reader_next(&rd, sv[1], -1, 1024, 1000, 1000, &fp, &fl, &eof) ==
		    ESTCA_ERR_IO && eof == 1, "clean close reported as eof");
		estca_reader_free(&rd);
		close(sv[1]);
	}

	/* buffer caps */
	estca_buf_init(&in, 8, true);
	tap_ok(estca_buf_add(&in, "12345678", 8) == 0 && in.len == 8, "buffer fills to cap");
	tap_ok(estca_buf_add(&in, "9", 1) == ESTCA_ERR_TOO_LARGE && in.len == 0 &&
	    in.data == NULL, "buffer past cap is freed, never half");
	tap_ok(estca_buf_addstr(&in, "ab") == 0 && estca_buf_nul(&in) == 0 &&
	    strcmp((char *)in.data, "ab") == 0, "nul-terminated view");
	der = estca_buf_take(&in, NULL);
	tap_ok(der != NULL && in.data == NULL && in.len == 0, "take transfers ownership");
	OPENSSL_clear_free(der, 2);
	estca_buf_free(&in);

	estca_buf_free(&b);
	ESTCA_REQ_free(q);
	ESTCA_REPLY_free(rep);
	ESTCA_REPLY_free(rep2);
	return tap_done();
}
