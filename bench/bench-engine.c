/*
 * bench-engine.c - certificates per second through estca-signd, and the
 * raw C_Sign rate of the same token and key for comparison.
 *
 *   bench-engine engine SOCKET CA THREADS SECONDS [DEPTH]
 *       each thread keeps one connection and asks for certificates for a
 *       fixed P-256 public key.  DEPTH 1 (default): through the client
 *       library, one request at a time, as a web worker does.  DEPTH > 1:
 *       that many requests written ahead of the replies, which measures
 *       what the engine can sign rather than the round trip.  The first
 *       certificate of each thread is verified with the CA's public key.
 *   bench-engine raw MODULE TOKEN PIN-FILE KEY-LABEL THREADS SECONDS
 *       each thread has its own session and signs a SHA-256 digest
 *       (ECDSA or RSA PKCS#1 v1.5 DigestInfo) with the token's key
 *
 * Prints one line: "<mode> threads=N ops=M seconds=S rate=R".  Not a test:
 * machines are noisy; see doc/performance.md.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>
#include "client.h"
#include "hsm.h"

static atomic_int stop_flag;
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* First member of every thread's argument: what the thread did. */
struct counts {
	long ops, errors;
};

struct eng_arg {
	struct counts c;
	const char *sock, *ca;
	int depth;                 /* requests in flight on the connection */
	X509_PUBKEY *spki;
	X509_NAME *subj;
	EVP_PKEY *ca_pub;          /* checks each thread's first certificate */
	int checked;               /* 1: first certificate verified */
};

/* The first certificate a thread gets must carry the CA's signature. */
static void
check_first(struct eng_arg *a, const unsigned char *der, size_t len)
{
	const unsigned char *q = der;
	X509 *x;

	if (a->checked)
		return;
	x = d2i_X509(NULL, &q, (long)len);
	a->checked = x != NULL && X509_verify(x, a->ca_pub) == 1 ? 1 : -1;
	X509_free(x);
}

/* What every request of the benchmark asks for. */
static void
sign_args(const struct eng_arg *a, struct estca_sign_args *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->ca_name = a->ca;
	sa->profile = "device";
	sa->subject = a->subj;
	sa->spki = a->spki;
	sa->requester = "bench";
}

/* depth 1: the client library's call, one request then its reply. */
static void
eng_sync(struct eng_arg *a, struct estca_engine *e)
{
	struct estca_sign_args sa;
	char reason[256];

	sign_args(a, &sa);
	while (!atomic_load(&stop_flag)) {
		unsigned char *der = NULL;
		size_t len = 0;

		if (estca_engine_sign_der(e, &sa, &der, &len, reason, sizeof(reason)) == 0) {
			a->c.ops++;
			check_first(a, der, len);
		} else {
			a->c.errors++;
		}
		OPENSSL_free(der);
	}
}

/*
 * depth > 1: keep depth requests written ahead of the replies read, as
 * many web workers sharing one engine would; every reply is decoded and
 * must hold status 0 and one certificate.
 */
static void
eng_pipelined(struct eng_arg *a)
{
	struct sockaddr_un sun;
	struct estca_sign_args sa;
	struct estca_buf msg;
	struct estca_reader rd;
	long inflight = 0;
	int fd;

	sign_args(a, &sa);
	estca_buf_init(&msg, ESTCA_WIRE_MAX_REQUEST + 4, false);
	estca_reader_init(&rd, ESTCA_WIRE_MAX_REPLY, false);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    estca_sign_frame(&sa, &msg) != 0) {
		a->c.errors++;
		goto out;
	}
	for (;;) {
		const unsigned char *p;
		size_t n;
		ESTCA_REPLY *rep = NULL;
		const unsigned char *der;
		size_t len;
		long st = -1;
		int stop = atomic_load(&stop_flag);

		while (!stop && inflight < a->depth) {
			if (estca_write_all(fd, msg.data, msg.len, 30000) != 0) {
				a->c.errors++;
				goto out;
			}
			inflight++;
		}
		if (inflight == 0)
			break;
		if (estca_reader_next(&rd, fd, -1, ESTCA_WIRE_MAX_REPLY, 30000, 30000,
		    &p, &n, NULL) != 0) {
			a->c.errors++;
			goto out;
		}
		inflight--;
		if (estca_wire_reply_decode(p, n, &rep) == 0 &&
		    estca_wire_get_int(rep->status, &st) == 0 && st == 0 &&
		    estca_wire_reply_ncerts(rep) == 1 &&
		    estca_wire_reply_cert_der(rep, 0, &der, &len) == 0) {
			a->c.ops++;
			check_first(a, der, len);
		} else {
			a->c.errors++;
		}
		ESTCA_REPLY_free(rep);
	}
out:
	if (fd >= 0)
		close(fd);
	estca_reader_free(&rd);
	estca_buf_free(&msg);
}

static void *
eng_thread(void *p)
{
	struct eng_arg *a = p;
	struct estca_engine *e = NULL;

	if (a->depth > 1) {
		eng_pipelined(a);
		return NULL;
	}
	if (estca_engine_open(a->sock, 30000, &e) != 0)
		return NULL;
	eng_sync(a, e);
	estca_engine_close(e);
	return NULL;
}

struct raw_arg {
	struct counts c;
	CK_FUNCTION_LIST_PTR f;
	CK_SLOT_ID slot;
	const char *label;
};

static void *
raw_thread(void *p)
{
	/* SHA-256 DigestInfo prefix, for CKM_RSA_PKCS */
	static const unsigned char di[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09,
		0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
		0x04, 0x20 };
	struct raw_arg *a = p;
	CK_SESSION_HANDLE s;
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = { { CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)a->label, strlen(a->label) } };
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0, kt = 0;
	CK_ATTRIBUTE kta = { CKA_KEY_TYPE, &kt, sizeof(kt) };
	CK_MECHANISM m = { CKM_ECDSA, NULL, 0 };
	unsigned char msg[sizeof(di) + 32], sig[1024];
	unsigned char *data = msg + sizeof(di);
	CK_ULONG dlen = 32;

	memcpy(msg, di, sizeof(di));
	memset(data, 0x5a, 32);
	if (a->f->C_OpenSession(a->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return NULL;
	if (a->f->C_FindObjectsInit(s, t, 2) != CKR_OK ||
	    a->f->C_FindObjects(s, &key, 1, &n) != CKR_OK || n != 1) {
		fprintf(stderr, "key %s not found\n", a->label);
		return NULL;
	}
	a->f->C_FindObjectsFinal(s);
	a->f->C_GetAttributeValue(s, key, &kta, 1);
	if (kt == CKK_RSA) {
		m.mechanism = CKM_RSA_PKCS;
		data = msg;
		dlen = sizeof(msg);
	}
	while (!atomic_load(&stop_flag)) {
		CK_ULONG slen = sizeof(sig);

		if (a->f->C_SignInit(s, &m, key) == CKR_OK &&
		    a->f->C_Sign(s, data, dlen, sig, &slen) == CKR_OK)
			a->c.ops++;
		else
			a->c.errors++;
	}
	a->f->C_CloseSession(s);
	return NULL;
}

static int
run(int nthreads, double secs, void *(*fn)(void *), void *args, size_t argsize,
    const char *mode)
{
	pthread_t th[64];
	long ops = 0, errs = 0;
	double t0, t1;

	if (nthreads < 1 || nthreads > 64)
		return 1;
	t0 = now();
	for (int i = 0; i < nthreads; i++)
		pthread_create(&th[i], NULL, fn, (char *)args + i * argsize);
	while (now() - t0 < secs) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	atomic_store(&stop_flag, 1);
	for (int i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now();
	for (int i = 0; i < nthreads; i++) {
		const struct counts *c = (const struct counts *)((char *)args +
		    i * argsize);

		ops += c->ops;
		errs += c->errors;
	}
	printf("%s threads=%d ops=%ld errors=%ld seconds=%.2f rate=%.0f\n", mode,
	    nthreads, ops, errs, t1 - t0, ops / (t1 - t0));
	return errs > 0 && ops == 0;
}

int
main(int argc, char **argv)
{
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "engine") == 0) {
		int n = (int)strtol(argv[4], NULL, 10), r;
		int depth = argc == 7 ? (int)strtol(argv[6], NULL, 10) : 1;
		struct eng_arg a[64];
		EVP_PKEY *pk = EVP_EC_gen("P-256");
		X509_PUBKEY *spki = NULL;
		X509_NAME *subj = X509_NAME_new();
		struct estca_engine *e = NULL;
		STACK_OF(X509) *chain = NULL;
		char reason[256];

		if (n < 1 || n > 64 || depth < 1 || depth > 1024 || pk == NULL ||
		    !X509_PUBKEY_set(&spki, pk))
			return 1;
		/* the CA certificate, to check what comes back */
		if (estca_engine_open(argv[2], 30000, &e) != 0 ||
		    estca_engine_get_chain(e, argv[3], &chain, reason, sizeof(reason)) != 0) {
			fprintf(stderr, "no chain for CA %s\n", argv[3]);
			return 1;
		}
		estca_engine_close(e);
		X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
		    (const unsigned char *)"bench-device", -1, -1, 0);
		for (int i = 0; i < n; i++)
			a[i] = (struct eng_arg){ { 0, 0 }, argv[2], argv[3], depth, spki, subj,
			    X509_get0_pubkey(sk_X509_value(chain, 0)), 0 };
		r = run(n, strtod(argv[5], NULL), eng_thread, a, sizeof(a[0]), "engine");
		for (int i = 0; i < n; i++)
			if (a[i].c.ops > 0 && a[i].checked != 1) {
				fprintf(stderr, "thread %d: certificate does not verify\n", i);
				r = 1;
			}
		sk_X509_pop_free(chain, X509_free);
		X509_PUBKEY_free(spki);
		X509_NAME_free(subj);
		EVP_PKEY_free(pk);
		return r;
	}
	if (argc == 8 && strcmp(argv[1], "raw") == 0) {
		int n = (int)strtol(argv[6], NULL, 10);
		struct raw_arg a[64];
		CK_C_GetFunctionList gfl;
		CK_FUNCTION_LIST_PTR f;
		CK_C_INITIALIZE_ARGS ia;
		CK_SLOT_ID slots[64], slot = 0;
		CK_ULONG ns = 64;
		CK_SESSION_HANDLE s;
		struct estca_buf pin;
		unsigned char lab[32];
		void *dl = dlopen(argv[2], RTLD_NOW);
		int found = 0;

		if (dl == NULL || n < 1 || n > 64)
			return 1;
		gfl = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList");
		if (gfl == NULL || gfl(&f) != CKR_OK)
			return 1;
		memset(&ia, 0, sizeof(ia));
		ia.flags = CKF_OS_LOCKING_OK;
		if (f->C_Initialize(&ia) != CKR_OK ||
		    f->C_GetSlotList(CK_TRUE, slots, &ns) != CKR_OK)
			return 1;
		memset(lab, ' ', 32);
		memcpy(lab, argv[3], strlen(argv[3]) < 32 ? strlen(argv[3]) : 32);
		for (CK_ULONG i = 0; i < ns && !found; i++) {
			CK_TOKEN_INFO ti;

			if (f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
			    memcmp(ti.label, lab, 32) == 0) {
				slot = slots[i];
				found = 1;
			}
		}
		if (!found || estca_read_secret_file(argv[4], &pin) != 0 ||
		    f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK ||
		    f->C_Login(s, CKU_USER, pin.data, pin.len) != CKR_OK) {
			fprintf(stderr, "cannot log in to token %s\n", argv[3]);
			return 1;
		}
		estca_buf_free(&pin);
		for (int i = 0; i < n; i++)
			a[i] = (struct raw_arg){ { 0, 0 }, f, slot, argv[5] };
		return run(n, strtod(argv[7], NULL), raw_thread, a, sizeof(a[0]), "raw");
	}
	fprintf(stderr, "usage: bench-engine engine SOCKET CA THREADS SECONDS [DEPTH]\n"
	    "       bench-engine raw MODULE TOKEN PIN-FILE KEY-LABEL THREADS SECONDS\n");
	return 1;
}
