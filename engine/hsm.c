/*
 * hsm.c - the one file that talks PKCS#11 (see hsm.h).
 *
 * It is longer than our other files on purpose: every PKCS#11 call of the
 * engine and of estca-ca (libp11 sessions, PSS signatures, key
 * generation, token set-up) lives here so that one file can be read to
 * know all the engine asks of the token.
 *
 * It must never write a PIN anywhere but into the module, never log one,
 * and never create an extractable CA key.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

/* libp11.h declares ENGINE-based entry points that OpenSSL 3 deprecates. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <libp11.h>
#pragma GCC diagnostic pop
#include <p11-kit/pkcs11.h>

#include "hsm.h"
#include "log.h"

struct estca_hsm {
	PKCS11_CTX *ctx;
	void *dl;                   /* our own reference to the module */
	CK_FUNCTION_LIST_PTR f;     /* raw calls libp11 does not offer */
	CK_SLOT_ID slot_id;
	PKCS11_SLOT *slots;
	unsigned int nslots;
	PKCS11_SLOT *slot;
	pthread_mutex_t lock;   /* serializes key lookup and RNG calls */
};

int
estca_read_secret_file(const char *path, struct estca_buf *out)
{
	unsigned char tmp[512];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, r;

	estca_buf_init(out, 256, true);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		log_err("secret file %s: %s", path, strerror(errno));
		return ESTCA_ERR_CONFIG;
	}
	if (fstat(fd, &st) == 0 && (st.st_mode & 0077) != 0)
		log_warn("secret file %s is readable by group or others", path);
	n = read(fd, tmp, sizeof(tmp));
	close(fd);
	if (n < 0) {
		log_err("secret file %s: %s", path, strerror(errno));
		return ESTCA_ERR_CONFIG;
	}
	len = 0;
	while (len < (size_t)n && tmp[len] != '\n' && tmp[len] != '\r')
		len++;
	if (len < 4 || len > 255 || memchr(tmp, 0, len) != NULL) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		log_err("secret file %s: first line must hold 4 to 255 bytes", path);
		return ESTCA_ERR_CONFIG;
	}
	r = estca_buf_add(out, tmp, len);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	if (r == 0)
		r = estca_buf_nul(out);
	return r;
}

static void
free_slots(struct estca_hsm *h)
{
	if (h->slots != NULL)
		PKCS11_release_all_slots(h->ctx, h->slots, h->nslots);
	h->slots = NULL;
	h->nslots = 0;
	h->slot = NULL;
}

void
estca_hsm_close(struct estca_hsm *h)
{
	if (h == NULL)
		return;
	if (h->ctx != NULL) {
		free_slots(h);
		PKCS11_CTX_unload(h->ctx);
		PKCS11_CTX_free(h->ctx);
	}
	if (h->dl != NULL)
		dlclose(h->dl);
	pthread_mutex_destroy(&h->lock);
	OPENSSL_free(h);
}

int
estca_hsm_open(const char *module, const char *token_label,
    const char *pin_file, struct estca_hsm **out)
{
	struct estca_hsm *h;
	struct estca_buf pin;
	int r;

	*out = NULL;
	if ((r = estca_read_secret_file(pin_file, &pin)) != 0)
		return r;
	if ((h = OPENSSL_zalloc(sizeof(*h))) == NULL) {
		estca_buf_free(&pin);
		return ESTCA_ERR_NOMEM;
	}
	pthread_mutex_init(&h->lock, NULL);
	if ((h->ctx = PKCS11_CTX_new()) == NULL) {
		r = ESTCA_ERR_NOMEM;
		goto fail;
	}
	if (PKCS11_CTX_load(h->ctx, module) != 0) {
		estca_log_ssl(ESTCA_LOG_ERR, "cannot load PKCS#11 module");
		log_err("PKCS#11 module %s could not be loaded", module);
		PKCS11_CTX_free(h->ctx);
		h->ctx = NULL;
		r = ESTCA_ERR_HSM;
		goto fail;
	}
	if (PKCS11_enumerate_slots(h->ctx, &h->slots, &h->nslots) != 0) {
		estca_log_ssl(ESTCA_LOG_ERR, "cannot enumerate PKCS#11 slots");
		r = ESTCA_ERR_HSM;
		goto fail;
	}
	for (PKCS11_SLOT *s = PKCS11_find_token(h->ctx, h->slots, h->nslots);
	    s != NULL; s = PKCS11_find_next_token(h->ctx, h->slots, h->nslots, s)) {
		if (s->token != NULL && s->token->initialized &&
		    strcmp(s->token->label, token_label) == 0) {
			h->slot = s;
			break;
		}
	}
	if (h->slot == NULL) {
		log_err("no initialized token labelled '%s' in %s", token_label, module);
		r = ESTCA_ERR_NOT_FOUND;
		goto fail;
	}
	h->slot_id = PKCS11_get_slotid_from_slot(h->slot);
	/* The same module, already initialized by libp11: borrow its function
	 * list for the calls libp11 lacks.  Login state is shared. */
	if ((h->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) != NULL) {
		CK_C_GetFunctionList gfl =
		    (CK_C_GetFunctionList)dlsym(h->dl, "C_GetFunctionList");

		if (gfl == NULL || gfl(&h->f) != CKR_OK)
			h->f = NULL;
	}
	if (h->f == NULL) {
		log_err("cannot reach the function list of %s", module);
		r = ESTCA_ERR_HSM;
		goto fail;
	}
	if (PKCS11_login(h->slot, 0, (const char *)pin.data) != 0) {
		estca_log_ssl(ESTCA_LOG_ERR, "token login failed");
		log_err("login to token '%s' failed (wrong PIN or locked token)",
		    token_label);
		r = ESTCA_ERR_HSM;
		goto fail;
	}
	estca_buf_free(&pin);
	*out = h;
	return 0;
fail:
	estca_buf_free(&pin);
	estca_hsm_close(h);
	return r;
}

/* Find the key labelled label among the token's private (or public) keys. */
static int
find_key(struct estca_hsm *h, const char *label, int private, EVP_PKEY **out)
{
	PKCS11_KEY *keys = NULL;
	unsigned int nkeys = 0;
	EVP_PKEY *pk = NULL;
	const char *kind = private ? "private" : "public";
	int r = ESTCA_ERR_NOT_FOUND;

	*out = NULL;
	pthread_mutex_lock(&h->lock);
	if ((private ? PKCS11_enumerate_keys(h->slot->token, &keys, &nkeys) :
	    PKCS11_enumerate_public_keys(h->slot->token, &keys, &nkeys)) != 0) {
		estca_log_ssl(ESTCA_LOG_ERR, "cannot list the token's keys");
		r = ESTCA_ERR_HSM;
		goto out;
	}
	for (unsigned int i = 0; i < nkeys; i++) {
		if (keys[i].label == NULL || strcmp(keys[i].label, label) != 0)
			continue;
		pk = private ? PKCS11_get_private_key(&keys[i]) :
		    PKCS11_get_public_key(&keys[i]);
		if (pk == NULL) {
			estca_log_ssl(ESTCA_LOG_ERR, "cannot use key");
			r = ESTCA_ERR_HSM;
			goto out;
		}
		r = 0;
		break;
	}
	if (r == ESTCA_ERR_NOT_FOUND)
		log_err("no %s key labelled '%s' in the token", kind, label);
out:
	pthread_mutex_unlock(&h->lock);
	*out = pk;
	return r;
}

int
estca_hsm_get_key(struct estca_hsm *h, const char *label, EVP_PKEY **out)
{
	return find_key(h, label, 1, out);
}

int
estca_hsm_get_pubkey(struct estca_hsm *h, const char *label, EVP_PKEY **out)
{
	return find_key(h, label, 0, out);
}

int
estca_hsm_random(struct estca_hsm *h, unsigned char *p, size_t n)
{
	int rc;

	if (n > 1024)
		return ESTCA_ERR_INTERNAL;
	pthread_mutex_lock(&h->lock);
	rc = PKCS11_generate_random(h->slot, p, (unsigned int)n);
	pthread_mutex_unlock(&h->lock);
	if (rc != 0) {
		estca_log_ssl(ESTCA_LOG_ERR, "C_GenerateRandom failed");
		return ESTCA_ERR_UNAVAILABLE;
	}
	return 0;
}

/* ---- RSASSA-PSS ---- */

/* A failure that a re-opened token may cure: answered as retryable. */
static int
rv_class(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
		return ESTCA_ERR_UNAVAILABLE;
	default:
		return ESTCA_ERR_HSM;
	}
}

int
estca_hsm_sign_pss(struct estca_hsm *h, const char *key_label, int md_nid,
    const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)key_label, strlen(key_label) },
	};
	CK_RSA_PKCS_PSS_PARAMS pp;
	CK_MECHANISM m = { CKM_RSA_PKCS_PSS, &pp, sizeof(pp) };
	CK_SESSION_HANDLE s;
	CK_OBJECT_HANDLE key;
	CK_ULONG n = 0, slen = *siglen;
	CK_RV rv;
	const char *step = "C_OpenSession";

	switch (md_nid) {
	case NID_sha256:
		pp.hashAlg = CKM_SHA256;
		pp.mgf = CKG_MGF1_SHA256;
		break;
	case NID_sha384:
		pp.hashAlg = CKM_SHA384;
		pp.mgf = CKG_MGF1_SHA384;
		break;
	case NID_sha512:
		pp.hashAlg = CKM_SHA512;
		pp.mgf = CKG_MGF1_SHA512;
		break;
	default:
		return ESTCA_ERR_UNSUPPORTED;
	}
	pp.sLen = dlen;   /* salt as long as the digest (RFC 4055 default use) */
	rv = h->f->C_OpenSession(h->slot_id, CKF_SERIAL_SESSION, NULL, NULL, &s);
	if (rv != CKR_OK)
		goto fail;
	step = "key lookup";
	if ((rv = h->f->C_FindObjectsInit(s, t, 2)) == CKR_OK) {
		rv = h->f->C_FindObjects(s, &key, 1, &n);
		h->f->C_FindObjectsFinal(s);
	}
	if (rv == CKR_OK && n != 1) {
		h->f->C_CloseSession(s);
		log_err("RSASSA-PSS: no private key labelled '%s' in the token", key_label);
		return ESTCA_ERR_UNAVAILABLE;
	}
	if (rv == CKR_OK) {
		step = "C_SignInit(CKM_RSA_PKCS_PSS)";
		rv = h->f->C_SignInit(s, &m, key);
	}
	if (rv == CKR_OK) {
		step = "C_Sign";
		rv = h->f->C_Sign(s, (CK_BYTE_PTR)dgst, dlen, sig, &slen);
	}
	h->f->C_CloseSession(s);
	if (rv == CKR_OK) {
		*siglen = slen;
		return 0;
	}
fail:
	log_err("RSASSA-PSS signature: %s failed: 0x%lx", step, (unsigned long)rv);
	return rv_class(rv);
}

/* ---- serverkeygen ---- */

static const unsigned char oid_p256[] = { 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	0x3d, 0x03, 0x01, 0x07 };
static const unsigned char oid_p384[] = { 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00,
	0x22 };
static const unsigned char e65537[] = { 0x01, 0x00, 0x01 };

struct keyspec {
	const unsigned char *curve;
	size_t curvelen;
	CK_ULONG bits;
};

static int
parse_keytype(const char *type, struct keyspec *k)
{
	memset(k, 0, sizeof(*k));
	if (strcmp(type, "ec:P-256") == 0) {
		k->curve = oid_p256;
		k->curvelen = sizeof(oid_p256);
	} else if (strcmp(type, "ec:P-384") == 0) {
		k->curve = oid_p384;
		k->curvelen = sizeof(oid_p384);
	} else if (strcmp(type, "rsa:2048") == 0) {
		k->bits = 2048;
	} else if (strcmp(type, "rsa:3072") == 0) {
		k->bits = 3072;
	} else {
		return ESTCA_ERR_UNSUPPORTED;
	}
	return 0;
}

/* AES-KW-PAD (RFC 5649) unwrap of a PKCS#8 PrivateKeyInfo. */
static EVP_PKEY *
unwrap_pkcs8(const unsigned char *kek, const unsigned char *w, size_t wlen)
{
	EVP_CIPHER *c = EVP_CIPHER_fetch(NULL, "AES-256-WRAP-PAD", NULL);
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	unsigned char *plain = OPENSSL_malloc(wlen + 16);
	const unsigned char *q;
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	EVP_PKEY *pk = NULL;
	size_t left;
	int n1 = 0, n2 = 0;

	if (c == NULL || cx == NULL || plain == NULL || wlen > 16384)
		goto out;
	if (EVP_DecryptInit_ex2(cx, c, kek, NULL, NULL) != 1 ||
	    EVP_DecryptUpdate(cx, plain, &n1, w, (int)wlen) != 1 ||
	    EVP_DecryptFinal_ex(cx, plain + n1, &n2) != 1)
		goto out;
	q = plain;
	if ((p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &q, n1 + n2)) == NULL)
		goto out;
	/* SoftHSM 2.6 zero-pads the key to a multiple of 8 before its
	 * KWP wrap: allow at most 7 zero bytes after the DER, nothing else. */
	for (left = (size_t)(plain + n1 + n2 - q); left > 0; left--)
		if (left > 7 || q[left - 1] != 0)
			goto out;
	pk = EVP_PKCS82PKEY(p8);
	/* SoftHSM's EC PKCS#8 leaves the public point out: put it back. */
	if (pk != NULL && EVP_PKEY_is_a(pk, "EC") &&
	    !EVP_PKEY_set_int_param(pk, OSSL_PKEY_PARAM_EC_INCLUDE_PUBLIC, 1)) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
out:
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (plain != NULL)
		OPENSSL_clear_free(plain, wlen + 16);
	EVP_CIPHER_CTX_free(cx);
	EVP_CIPHER_free(c);
	return pk;
}

int
estca_hsm_keygen(struct estca_hsm *h, const char *type, EVP_PKEY **out)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
	CK_KEY_TYPE aes = CKK_AES, kt;
	CK_MECHANISM gen = { 0, NULL, 0 };
	CK_MECHANISM wrap = { CKM_AES_KEY_WRAP_PAD, NULL, 0 };
	CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE, priv = CK_INVALID_HANDLE,
	    kek = CK_INVALID_HANDLE;
	CK_SESSION_HANDLE s;
	unsigned char kekbytes[32], wrapped[8192];
	CK_ULONG wlen = sizeof(wrapped);
	struct keyspec k;
	CK_RV rv;
	int r = ESTCA_ERR_HSM;

	*out = NULL;
	if (parse_keytype(type, &k) != 0)
		return ESTCA_ERR_UNSUPPORTED;
	kt = k.curve ? CKK_EC : CKK_RSA;
	gen.mechanism = k.curve ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN;
	rv = h->f->C_OpenSession(h->slot_id, CKF_SERIAL_SESSION | CKF_RW_SESSION,
	    NULL, NULL, &s);
	if (rv != CKR_OK) {
		log_err("keygen: C_OpenSession failed: 0x%lx", (unsigned long)rv);
		return ESTCA_ERR_UNAVAILABLE;
	}
	{
		CK_ATTRIBUTE pubt[] = {
			{ CKA_TOKEN, &no, sizeof(no) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			{ k.curve ? CKA_EC_PARAMS : CKA_MODULUS_BITS,
			  k.curve ? (void *)k.curve : (void *)&k.bits,
			  k.curve ? k.curvelen : sizeof(k.bits) },
			{ CKA_PUBLIC_EXPONENT, (void *)e65537, sizeof(e65537) },
		};
		CK_ATTRIBUTE privt[] = {
			{ CKA_TOKEN, &no, sizeof(no) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &yes, sizeof(yes) },
			{ CKA_SIGN, &yes, sizeof(yes) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		};

		rv = h->f->C_GenerateKeyPair(s, &gen, pubt, k.curve ? 3 : 4, privt,
		    sizeof(privt) / sizeof(privt[0]), &pub, &priv);
	}
	if (rv != CKR_OK) {
		log_err("keygen %s: C_GenerateKeyPair failed: 0x%lx", type,
		    (unsigned long)rv);
		goto out;
	}
	if (RAND_priv_bytes(kekbytes, sizeof(kekbytes)) != 1)
		goto out;
	{
		CK_ATTRIBUTE kt2[] = {
			{ CKA_CLASS, &secret, sizeof(secret) },
			{ CKA_KEY_TYPE, &aes, sizeof(aes) },
			{ CKA_TOKEN, &no, sizeof(no) },
			{ CKA_WRAP, &yes, sizeof(yes) },
			{ CKA_VALUE, kekbytes, sizeof(kekbytes) },
		};

		rv = h->f->C_CreateObject(s, kt2, sizeof(kt2) / sizeof(kt2[0]), &kek);
	}
	if (rv == CKR_OK)
		rv = h->f->C_WrapKey(s, &wrap, kek, priv, wrapped, &wlen);
	if (rv != CKR_OK) {
		log_err("keygen %s: wrapping the key out failed: 0x%lx", type,
		    (unsigned long)rv);
		goto out;
	}
	if ((*out = unwrap_pkcs8(kekbytes, wrapped, wlen)) == NULL) {
		estca_log_ssl(ESTCA_LOG_ERR, "keygen: unwrapping the key failed");
		goto out;
	}
	r = 0;
out:
	/* session objects: destroy now, not at some later close */
	if (kek != CK_INVALID_HANDLE)
		h->f->C_DestroyObject(s, kek);
	if (priv != CK_INVALID_HANDLE)
		h->f->C_DestroyObject(s, priv);
	if (pub != CK_INVALID_HANDLE)
		h->f->C_DestroyObject(s, pub);
	h->f->C_CloseSession(s);
	OPENSSL_cleanse(kekbytes, sizeof(kekbytes));
	OPENSSL_cleanse(wrapped, sizeof(wrapped));
	return r;
}

/* ---- raw Cryptoki, for token set-up only ---- */

struct p11raw {
	void *dl;
	CK_FUNCTION_LIST_PTR f;
};

static int
raw_load(const char *module, struct p11raw *m)
{
	CK_C_GetFunctionList gfl;
	CK_C_INITIALIZE_ARGS args;
	CK_RV rv;

	memset(m, 0, sizeof(*m));
	if ((m->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_err("cannot load PKCS#11 module %s: %s", module, dlerror());
		return ESTCA_ERR_HSM;
	}
	gfl = (CK_C_GetFunctionList)dlsym(m->dl, "C_GetFunctionList");
	if (gfl == NULL || gfl(&m->f) != CKR_OK) {
		log_err("%s is not a PKCS#11 module", module);
		dlclose(m->dl);
		return ESTCA_ERR_HSM;
	}
	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = m->f->C_Initialize(&args);
	if (rv != CKR_OK) {
		log_err("C_Initialize failed: 0x%lx", (unsigned long)rv);
		dlclose(m->dl);
		return ESTCA_ERR_HSM;
	}
	return 0;
}

static void
raw_unload(struct p11raw *m)
{
	if (m->f != NULL)
		m->f->C_Finalize(NULL);
	if (m->dl != NULL)
		dlclose(m->dl);
	memset(m, 0, sizeof(*m));
}

static void
pad_label(const char *label, unsigned char out[32])
{
	size_t n = strlen(label);

	memset(out, ' ', 32);
	memcpy(out, label, n > 32 ? 32 : n);
}

/* Find the slot holding an initialized token labelled label (want_init=1),
 * or the first slot with an uninitialized token (want_init=0). */
static int
raw_find_slot(struct p11raw *m, const char *label, int want_init, CK_SLOT_ID *out)
{
	CK_SLOT_ID slots[64];
	CK_ULONG n = 64;
	unsigned char padded[32];
	CK_RV rv;

	pad_label(label, padded);
	rv = m->f->C_GetSlotList(CK_TRUE, slots, &n);
	if (rv != CKR_OK) {
		log_err("C_GetSlotList failed: 0x%lx", (unsigned long)rv);
		return ESTCA_ERR_HSM;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;
		int inited;

		if (m->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		inited = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
		if (want_init && inited && memcmp(ti.label, padded, 32) == 0) {
			*out = slots[i];
			return 0;
		}
		if (!want_init && inited && memcmp(ti.label, padded, 32) == 0) {
			log_err("a token labelled '%s' exists already", label);
			return ESTCA_ERR_REFUSED;
		}
	}
	if (want_init) {
		log_err("no initialized token labelled '%s'", label);
		return ESTCA_ERR_NOT_FOUND;
	}
	for (CK_ULONG i = 0; i < n; i++) {
		CK_TOKEN_INFO ti;

		if (m->f->C_GetTokenInfo(slots[i], &ti) == CKR_OK &&
		    (ti.flags & CKF_TOKEN_INITIALIZED) == 0) {
			*out = slots[i];
			return 0;
		}
	}
	log_err("no free slot for a new token");
	return ESTCA_ERR_NOT_FOUND;
}

int
estca_p11_init_token(const char *module, const char *label,
    const char *so_pin, const char *user_pin)
{
	struct p11raw m;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	unsigned char padded[32];
	CK_RV rv;
	int r;

	if (strlen(label) > 32) {
		log_err("token label longer than 32 bytes");
		return ESTCA_ERR_CONFIG;
	}
	if ((r = raw_load(module, &m)) != 0)
		return r;
	if ((r = raw_find_slot(&m, label, 0, &slot)) != 0)
		goto out;
	pad_label(label, padded);
	rv = m.f->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
	if (rv != CKR_OK) {
		log_err("C_InitToken failed: 0x%lx", (unsigned long)rv);
		r = ESTCA_ERR_HSM;
		goto out;
	}
	/* SoftHSM renumbers slots after C_InitToken: look the token up again. */
	raw_unload(&m);
	if ((r = raw_load(module, &m)) != 0)
		return r;
	if ((r = raw_find_slot(&m, label, 1, &slot)) != 0)
		goto out;
	rv = m.f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &s);
	if (rv != CKR_OK) {
		log_err("C_OpenSession failed: 0x%lx", (unsigned long)rv);
		r = ESTCA_ERR_HSM;
		goto out;
	}
	rv = m.f->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin));
	if (rv == CKR_OK)
		rv = m.f->C_InitPIN(s, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
	if (rv != CKR_OK) {
		log_err("setting the user PIN failed: 0x%lx", (unsigned long)rv);
		r = ESTCA_ERR_HSM;
	}
	m.f->C_Logout(s);
	m.f->C_CloseSession(s);
out:
	raw_unload(&m);
	return r;
}

static int
raw_label_exists(struct p11raw *m, CK_SESSION_HANDLE s, const char *label)
{
	CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE t[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_LABEL, (void *)label, strlen(label) },
	};
	CK_OBJECT_HANDLE o;
	CK_ULONG n = 0;

	if (m->f->C_FindObjectsInit(s, t, 2) != CKR_OK)
		return -1;
	if (m->f->C_FindObjects(s, &o, 1, &n) != CKR_OK)
		n = 0;
	m->f->C_FindObjectsFinal(s);
	return n > 0;
}

int
estca_p11_genkey(const char *module, const char *token_label,
    const char *user_pin, const char *key_label, const char *type)
{
	CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
	CK_MECHANISM mech = { 0, NULL, 0 };
	CK_KEY_TYPE kt;
	CK_OBJECT_HANDLE pub, priv;
	CK_SESSION_HANDLE s;
	CK_SLOT_ID slot;
	unsigned char id[16];
	struct keyspec k;
	struct p11raw m;
	CK_RV rv;
	int r;

	if (parse_keytype(type, &k) != 0) {
		log_err("unsupported key type '%s' (rsa:2048, rsa:3072, ec:P-256, ec:P-384)",
		    type);
		return ESTCA_ERR_CONFIG;
	}
	kt = k.curve ? CKK_EC : CKK_RSA;
	mech.mechanism = k.curve ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN;

	if ((r = raw_load(module, &m)) != 0)
		return r;
	if ((r = raw_find_slot(&m, token_label, 1, &slot)) != 0)
		goto out;
	rv = m.f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL,
	    NULL, &s);
	if (rv != CKR_OK) {
		log_err("C_OpenSession failed: 0x%lx", (unsigned long)rv);
		r = ESTCA_ERR_HSM;
		goto out;
	}
	rv = m.f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
	if (rv != CKR_OK) {
		log_err("token login failed: 0x%lx", (unsigned long)rv);
		r = ESTCA_ERR_HSM;
		goto close;
	}
	if (raw_label_exists(&m, s, key_label) != 0) {
		log_err("a private key labelled '%s' exists already", key_label);
		r = ESTCA_ERR_REFUSED;
		goto close;
	}
	if (m.f->C_GenerateRandom(s, id, sizeof(id)) != CKR_OK) {
		log_err("C_GenerateRandom failed");
		r = ESTCA_ERR_HSM;
		goto close;
	}
	{
		CK_ATTRIBUTE pubt[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_VERIFY, &yes, sizeof(yes) },
			{ CKA_LABEL, (void *)key_label, strlen(key_label) },
			{ CKA_ID, id, sizeof(id) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
			/* last two depend on the key type */
			{ k.curve ? CKA_EC_PARAMS : CKA_MODULUS_BITS,
			  k.curve ? (void *)k.curve : (void *)&k.bits,
			  k.curve ? k.curvelen : sizeof(k.bits) },
			{ CKA_PUBLIC_EXPONENT, (void *)e65537, sizeof(e65537) },
		};
		CK_ATTRIBUTE privt[] = {
			{ CKA_TOKEN, &yes, sizeof(yes) },
			{ CKA_PRIVATE, &yes, sizeof(yes) },
			{ CKA_SENSITIVE, &yes, sizeof(yes) },
			{ CKA_EXTRACTABLE, &no, sizeof(no) },
			{ CKA_SIGN, &yes, sizeof(yes) },
			{ CKA_LABEL, (void *)key_label, strlen(key_label) },
			{ CKA_ID, id, sizeof(id) },
			{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		};
		CK_ULONG npub = k.curve ? 6 : 7;

		rv = m.f->C_GenerateKeyPair(s, &mech, pubt, npub, privt,
		    sizeof(privt) / sizeof(privt[0]), &pub, &priv);
	}
	if (rv != CKR_OK) {
		log_err("C_GenerateKeyPair (%s) failed: 0x%lx", type, (unsigned long)rv);
		r = ESTCA_ERR_HSM;
	}
	m.f->C_Logout(s);
close:
	m.f->C_CloseSession(s);
out:
	raw_unload(&m);
	return r;
}
