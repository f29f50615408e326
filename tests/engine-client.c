/*
 * engine-client.c - drives estca-signd from tests, through the same client
 * library the web tier uses (and raw frames for malformed-input tests).
 *
 *   engine-client SOCKET health
 *   engine-client SOCKET chain CA
 *   engine-client SOCKET sign CA PROFILE CSR.pem [VALIDITY_SECS]
 *   engine-client SOCKET keygen CA PROFILE TYPE CSR.pem KEYOUT
 *                      (subject/SANs from the CSR; key written to KEYOUT)
 *   engine-client SOCKET raw FILE      (send FILE's bytes as they are)
 *   engine-client SOCKET pipe CA PROFILE CSR.pem N OUT.pem [close]
 *       one write holding N sign requests with a health, a sign for an
 *       unknown profile, an undecodable request and a chain request in
 *       the middle; then one line per reply in arrival order ("sign 0
 *       SERIAL", "health 0", "badprofile -7", ...) and the issued
 *       certificates to OUT.pem.  With close: close without reading.
 *
 * Prints PEM on success; "error CODE: reason" and exit 2 on an engine
 * refusal; exit 1 on a local failure.  sign and keygen send the requester
 * ENGINE_CLIENT_REQUESTER when it is set (default "engine-client").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include "client.h"

static int
refused(int r, const char *reason)
{
	printf("error %d: %s\n", r, reason);
	return 2;
}

static int
raw(const char *path, const char *file)
{
	unsigned char buf[70000];
	struct sockaddr_un sun;
	struct estca_reader in;
	const unsigned char *rp;
	size_t rn;
	ESTCA_REPLY *rep = NULL;
	char reason[256];
	size_t n;
	FILE *f = fopen(file, "rb");
	int fd, r, eof;

	if (f == NULL)
		return 1;
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		printf("connect failed\n");
		return 1;
	}
	if (estca_write_all(fd, buf, n, 5000) != 0) {
		printf("write failed\n");
		close(fd);
		return 1;
	}
	shutdown(fd, SHUT_WR);
	estca_reader_init(&in, ESTCA_WIRE_MAX_REPLY, false);
	r = estca_reader_next(&in, fd, -1, ESTCA_WIRE_MAX_REPLY, 10000, 10000, &rp,
	    &rn, &eof);
	close(fd);
	if (r != 0) {
		printf("no reply (%s)\n", eof ? "closed" : estca_strerror(r));
		estca_reader_free(&in);
		return 3;
	}
	r = estca_wire_reply_decode(rp, rn, &rep);
	estca_reader_free(&in);
	if (r != 0) {
		printf("reply does not decode\n");
		return 1;
	}
	r = estca_wire_reply_status(rep, reason, sizeof(reason));
	ESTCA_REPLY_free(rep);
	return r == 0 ? 0 : refused(r, reason);
}

/* A CSR from a PEM file and its subjectAltNames (*sans NULL if none). */
static X509_REQ *
read_csr(const char *path, GENERAL_NAMES **sans)
{
	STACK_OF(X509_EXTENSION) *exts;
	X509_REQ *req;
	FILE *f = fopen(path, "r");

	*sans = NULL;
	if (f == NULL)
		return NULL;
	req = PEM_read_X509_REQ(f, NULL, NULL, NULL);
	fclose(f);
	if (req != NULL && (exts = X509_REQ_get_extensions(req)) != NULL) {
		*sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	return req;
}

/* Sign arguments for a CSR's subject, SANs and key. */
static void
csr_args(struct estca_sign_args *a, const char *ca, const char *profile,
    X509_REQ *req, const GENERAL_NAMES *sans, const char *requester)
{
	memset(a, 0, sizeof(*a));
	a->ca_name = ca;
	a->profile = profile;
	a->subject = X509_REQ_get_subject_name(req);
	a->sans = sans;
	a->spki = X509_REQ_get_X509_PUBKEY(req);
	a->requester = requester;
}

/* A framed health or chain request (no arguments but the CA). */
static int
add_plain_frame(struct estca_buf *b, long op, const char *ca)
{
	ESTCA_REQ *q = ESTCA_REQ_new();
	int r = -1;

	if (q != NULL && estca_wire_set_int(&q->version, ESTCA_WIRE_VERSION) == 0 &&
	    estca_wire_set_int(&q->op, op) == 0 &&
	    estca_wire_set_str(&q->ca_name, ca) == 0 && estca_wire_req_encode(q, b) == 0)
		r = 0;
	ESTCA_REQ_free(q);
	return r;
}

static int
pipe_mode(int argc, char **argv)
{
	/* a frame whose DER is cut short: "does not decode", connection kept */
	static const unsigned char junk[] = { 0, 0, 0, 4, 0x30, 0x09, 0x02, 0x01 };
	const char *ca = argv[3], *profile = argv[4];
	int n = (int)strtol(argv[6], NULL, 10), total = 0, fd, r = 0;
	struct estca_buf msg;
	struct estca_reader rd;
	struct sockaddr_un sun;
	struct estca_sign_args good, badprof;
	GENERAL_NAMES *sans = NULL;
	X509_REQ *req;
	FILE *out;
	const char *kind[300];

	if (n < 2 || n > 256 || (req = read_csr(argv[5], &sans)) == NULL)
		return 1;
	csr_args(&good, ca, profile, req, sans, "engine-client pipe");
	csr_args(&badprof, ca, "no-such-profile", req, sans, "engine-client pipe");
	estca_buf_init(&msg, 4 * 1024 * 1024, false);
	for (int i = 0; i < n; i++) {
		if (i == n / 2) {
			if (add_plain_frame(&msg, ESTCA_OP_HEALTH, ca) != 0 ||
			    estca_sign_frame(&badprof, &msg) != 0 ||
			    estca_buf_add(&msg, junk, sizeof(junk)) != 0 ||
			    add_plain_frame(&msg, ESTCA_OP_GET_CHAIN, ca) != 0)
				return 1;
			kind[total++] = "health";
			kind[total++] = "badprofile";
			kind[total++] = "junk";
			kind[total++] = "chain";
		}
		if (estca_sign_frame(&good, &msg) != 0)
			return 1;
		kind[total++] = "sign";
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    estca_write_all(fd, msg.data, msg.len, 10000) != 0) {
		printf("connect or write failed\n");
		return 1;
	}
	estca_reader_init(&rd, ESTCA_WIRE_MAX_REPLY, false);
	if (argc == 9 && strcmp(argv[8], "close") == 0) {
		printf("closed after %d requests\n", total);
		out = NULL;
		goto done;
	}
	if ((out = fopen(argv[7], "w")) == NULL) {
		r = 1;
		goto done;
	}
	for (int i = 0; i < total && r == 0; i++) {
		const unsigned char *p;
		size_t len;
		ESTCA_REPLY *rep = NULL;
		long st = 1;

		if (estca_reader_next(&rd, fd, -1, ESTCA_WIRE_MAX_REPLY, 30000, 30000, &p,
		    &len, NULL) != 0 || estca_wire_reply_decode(p, len, &rep) != 0 ||
		    estca_wire_get_int(rep->status, &st) != 0) {
			printf("reply %d missing\n", i);
			r = 1;
		} else if (st == 0 && strcmp(kind[i], "sign") == 0) {
			X509 *x = NULL;
			char *hex = NULL;

			const unsigned char *der;
			unsigned char *again = NULL;
			size_t dlen;
			int alen;

			/* the engine's DER must be what OpenSSL would encode */
			if (estca_wire_reply_cert(rep, 0, &x) == 0 &&
			    estca_wire_reply_cert_der(rep, 0, &der, &dlen) == 0 &&
			    (alen = i2d_X509(x, &again)) > 0 && (size_t)alen == dlen &&
			    memcmp(again, der, dlen) == 0 &&
			    (hex = i2s_ASN1_INTEGER(NULL, X509_get0_serialNumber(x))) != NULL) {
				printf("sign 0 %s\n", hex);
				PEM_write_X509(out, x);
			} else {
				printf("sign 0 undecodable-or-not-DER\n");
			}
			OPENSSL_free(again);
			OPENSSL_free(hex);
			X509_free(x);
		} else {
			printf("%s %ld %d\n", kind[i], st, estca_wire_reply_ncerts(rep));
		}
		ESTCA_REPLY_free(rep);
	}
	fclose(out);
done:
	close(fd);
	estca_reader_free(&rd);
	estca_buf_free(&msg);
	GENERAL_NAMES_free(sans);
	X509_REQ_free(req);
	return r;
}

int
main(int argc, char **argv)
{
	struct estca_engine *e = NULL;
	char reason[256];
	int r;

	if (argc < 3) {
		fprintf(stderr, "usage: engine-client SOCKET health|chain|sign|raw ...\n");
		return 1;
	}
	if (strcmp(argv[2], "raw") == 0 && argc == 4)
		return raw(argv[1], argv[3]);
	if (strcmp(argv[2], "pipe") == 0 && (argc == 8 || argc == 9))
		return pipe_mode(argc, argv);
	if (estca_engine_open(argv[1], 30000, &e) != 0)
		return 1;
	if (strcmp(argv[2], "health") == 0) {
		r = estca_engine_health(e, reason, sizeof(reason));
		estca_engine_close(e);
		if (r != 0)
			return refused(r, reason);
		printf("ok\n");
		return 0;
	}
	if (strcmp(argv[2], "chain") == 0 && argc == 4) {
		STACK_OF(X509) *chain = NULL;

		r = estca_engine_get_chain(e, argv[3], &chain, reason, sizeof(reason));
		estca_engine_close(e);
		if (r != 0)
			return refused(r, reason);
		for (int i = 0; i < sk_X509_num(chain); i++)
			PEM_write_X509(stdout, sk_X509_value(chain, i));
		sk_X509_pop_free(chain, X509_free);
		return 0;
	}
	if ((strcmp(argv[2], "sign") == 0 && (argc == 6 || argc == 7)) ||
	    (strcmp(argv[2], "keygen") == 0 && argc == 8)) {
		int kg = strcmp(argv[2], "keygen") == 0;
		unsigned char *p8 = NULL;
		size_t p8len = 0;
		struct estca_sign_args a;
		GENERAL_NAMES *sans = NULL;
		X509_REQ *req;
		X509 *x = NULL;

		if ((req = read_csr(argv[kg ? 6 : 5], &sans)) == NULL)
			return 1;
		csr_args(&a, argv[3], argv[4], req, sans,
		    getenv("ENGINE_CLIENT_REQUESTER") != NULL ?
		    getenv("ENGINE_CLIENT_REQUESTER") : "engine-client");
		a.validity_secs = !kg && argc == 7 ? strtol(argv[6], NULL, 10) : 0;
		if (kg)
			r = estca_engine_keygen(e, &a, argv[5], &x, &p8, &p8len, reason,
			    sizeof(reason));
		else
			r = estca_engine_sign(e, &a, &x, reason, sizeof(reason));
		estca_engine_close(e);
		GENERAL_NAMES_free(sans);
		X509_REQ_free(req);
		if (r != 0)
			return refused(r, reason);
		if (kg) {
			FILE *k = fopen(argv[7], "wb");

			if (k == NULL || fwrite(p8, 1, p8len, k) != p8len) {
				if (k != NULL)
					fclose(k);
				return 1;
			}
			fclose(k);
			OPENSSL_clear_free(p8, p8len);
		}
		PEM_write_X509(stdout, x);
		X509_free(x);
		return 0;
	}
	estca_engine_close(e);
	fprintf(stderr, "engine-client: bad arguments\n");
	return 1;
}
