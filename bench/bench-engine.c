/*
 * bench-engine.c - certificates per second through estca-signd, and the
 * raw C_Sign rate of the same token and key for comparison.
 *
 *   bench-engine engine SOCKET CA THREADS SECONDS
 *       each thread keeps one connection and asks for certificates for a
 *       fixed P-256 public key, as the web tier would
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
	X509_PUBKEY *spki;
	X509_NAME *subj;
};

static void *
eng_thread(void *p)
{
	struct eng_arg *a = p;
	struct estca_engine *e = NULL;
	struct estca_sign_args sa;
	char reason[256];

	if (estca_engine_open(a->sock, 30000, &e) != 0)
		return NULL;
	memset(&sa, 0, sizeof(sa));
	sa.ca_name = a->ca;
	sa.profile = "device";
	sa.subject = a->subj;
	sa.spki = a->spki;
	sa.requester = "bench";
	while (!atomic_load(&stop_flag)) {
		X509 *x = NULL;

		if (estca_engine_sign(e, &sa, &x, reason, sizeof(reason)) == 0)
			a->c.ops++;
		else
			a->c.errors++;
		X509_free(x);
	}
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
	if (argc == 6 && strcmp(argv[1], "engine") == 0) {
		int n = (int)strtol(argv[4], NULL, 10);
		struct eng_arg a[64];
		EVP_PKEY *pk = EVP_EC_gen("P-256");
		X509_PUBKEY *spki = NULL;
		X509_NAME *subj = X509_NAME_new();

		if (n < 1 || n > 64 || pk == NULL || !X509_PUBKEY_set(&spki, pk))
			return 1;
		X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
		    (const unsigned char *)"bench-device", -1, -1, 0);
		for (int i = 0; i < n; i++)
			a[i] = (struct eng_arg){ { 0, 0 }, argv[2], argv[3], spki, subj };
		return run(n, strtod(argv[5], NULL), eng_thread, a, sizeof(a[0]), "engine");
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
	fprintf(stderr, "usage: bench-engine engine SOCKET CA THREADS SECONDS\n"
	    "       bench-engine raw MODULE TOKEN PIN-FILE KEY-LABEL THREADS SECONDS\n");
	return 1;
}
