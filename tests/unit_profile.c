/*
 * unit_profile.c - the key usage and extended key usage the engine puts in
 * end-entity certificates (estca_build_ee with the profiles of
 * engine/profile.h), profiles refused at start-up because their key usage
 * contradicts their extended key usage, and the pre-sign lint's RFC 5280
 * 4.2.1.12 consistency table (estca_lint).  No token: the CA key is a
 * software key, and nothing here is signed by the HSM path.  TAP output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include "issue.h"
#include "profile.h"

static int ntest, nfail;

static void
ok(int cond, const char *fmt, ...)
{
	va_list ap;

	ntest++;
	if (!cond)
		nfail++;
	printf("%s %d - ", cond ? "ok" : "not ok", ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
bail(const char *what)
{
	printf("Bail out! %s\n", what);
	ERR_print_errors_fp(stdout);
	exit(1);
}

/* keyUsage bits by RFC 5280 bit number, as the tests name them */
#define DS (1u << 0)
#define NR (1u << 1)
#define KE (1u << 2)
#define DE (1u << 3)
#define KA (1u << 4)
#define KCS (1u << 5)
#define CRLS (1u << 6)

/* extendedKeyUsage purposes, as the tests name them */
#define SRV (1u << 0)
#define CLI (1u << 1)
#define CODE (1u << 2)
#define MAIL (1u << 3)
#define TIME (1u << 4)
#define OCSP (1u << 5)
#define ANY (1u << 6)

static const struct {
	unsigned bit;
	int nid;
	const char *name;
} purposes[] = {
	{ SRV, NID_server_auth, "serverAuth" },
	{ CLI, NID_client_auth, "clientAuth" },
	{ CODE, NID_code_sign, "codeSigning" },
	{ MAIL, NID_email_protect, "emailProtection" },
	{ TIME, NID_time_stamp, "timeStamping" },
	{ OCSP, NID_OCSP_sign, "OCSPSigning" },
	{ ANY, NID_anyExtendedKeyUsage, "anyExtendedKeyUsage" },
};
#define NPURPOSES (sizeof(purposes) / sizeof(purposes[0]))

static const char *const ku_names[] = { "digitalSignature", "nonRepudiation",
	"keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign",
	"cRLSign", "encipherOnly", "decipherOnly" };

static const char *
ku_text(unsigned ku, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (int i = 0; i < 9; i++)
		if (ku & (1u << i))
			o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
			    o ? "," : "", ku_names[i]);
	if (o == 0)
		snprintf(buf, len, "-");
	return buf;
}

static const char *
eku_text(unsigned eku, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (size_t i = 0; i < NPURPOSES; i++)
		if (eku & purposes[i].bit)
			o += (size_t)snprintf(buf + o, o < len ? len - o : 0, "%s%s",
			    o ? "," : "", purposes[i].name);
	if (o == 0)
		snprintf(buf, len, "none");
	return buf;
}

/* The certificate's keyUsage bits; ~0u when it has none. */
static unsigned
cert_ku(const X509 *x)
{
	ASN1_BIT_STRING *ku = X509_get_ext_d2i(x, NID_key_usage, NULL, NULL);
	unsigned bits = 0;

	if (ku == NULL)
		return ~0u;
	for (int i = 0; i < 9; i++)
		if (ASN1_BIT_STRING_get_bit(ku, i))
			bits |= 1u << i;
	ASN1_BIT_STRING_free(ku);
	return bits;
}

/* The certificate's purposes; 0 when it has no extendedKeyUsage, ~0u for
 * a purpose outside the table above. */
static unsigned
cert_eku(const X509 *x)
{
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	unsigned bits = 0;

	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
		int nid = OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)), found = 0;

		for (size_t j = 0; j < NPURPOSES; j++)
			if (purposes[j].nid == nid) {
				bits |= purposes[j].bit;
				found = 1;
			}
		if (!found)
			bits = ~0u;
	}
	EXTENDED_KEY_USAGE_free(eku);
	return bits;
}

static void
set_ku(X509 *x, unsigned bits)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();

	for (int i = 0; i < 9 && ku != NULL; i++)
		if ((bits & (1u << i)) && !ASN1_BIT_STRING_set_bit(ku, i, 1))
			bail("set_bit");
	if (ku == NULL || X509_add1_ext_i2d(x, NID_key_usage, ku, 1,
	    X509V3_ADD_REPLACE) != 1)
		bail("replacing keyUsage");
	ASN1_BIT_STRING_free(ku);
}

/* eku 0: no extendedKeyUsage at all. */
static void
set_eku(X509 *x, unsigned eku)
{
	EXTENDED_KEY_USAGE *st = sk_ASN1_OBJECT_new_null();
	int idx;

	if (st == NULL)
		bail("out of memory");
	if ((idx = X509_get_ext_by_NID(x, NID_ext_key_usage, -1)) >= 0)
		X509_EXTENSION_free(X509_delete_ext(x, idx));
	for (size_t i = 0; i < NPURPOSES; i++)
		if ((eku & purposes[i].bit) &&
		    sk_ASN1_OBJECT_push(st, OBJ_nid2obj(purposes[i].nid)) <= 0)
			bail("out of memory");
	if (eku != 0 && X509_add1_ext_i2d(x, NID_ext_key_usage, st, 0,
	    X509V3_ADD_DEFAULT) != 1)
		bail("adding extendedKeyUsage");
	sk_ASN1_OBJECT_free(st);
}

/* ---- keys, CA, profiles ---- */

enum { K_RSA2048, K_RSA3072, K_P256, K_P384, NKEYS };
static const char *const key_names[NKEYS] = { "RSA-2048", "RSA-3072", "P-256", "P-384" };
static EVP_PKEY *keys[NKEYS];
static ESTCA_SPKI *spkis[NKEYS];
static struct estca_ca ca;
static struct estca_curves curves;

static int
is_rsa(int k)
{
	return k == K_RSA2048 || k == K_RSA3072;
}

static void
make_keys(void)
{
	X509_NAME *n = X509_NAME_new();
	unsigned char serial[ESTCA_SERIAL_LEN];
	char reason[256];

	keys[K_RSA2048] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	keys[K_RSA3072] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	keys[K_P256] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	keys[K_P384] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	for (int k = 0; k < NKEYS; k++)
		if (keys[k] == NULL || estca_spki_from_pkey(keys[k], &spkis[k]) != 0)
			bail("key generation");
	if (estca_curves_init(&curves) != 0)
		bail("curves");
	/* a P-256 CA with a software key: only its certificate is used */
	memset(serial, 0x11, sizeof(serial));
	if (n == NULL || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"unit_profile CA", -1, -1, 0) ||
	    estca_issue_ca(keys[K_P256], EVP_sha256(), NULL, keys[K_P256], n, 3650, 0,
	    serial, &ca.cert, reason, sizeof(reason)) != 0)
		bail("CA certificate");
	X509_NAME_free(n);
	snprintf(ca.name, sizeof(ca.name), "unit");
}

/* Load profiles from configuration text (NULL: the built-ins only). */
static int
load_profiles(const char *text, struct estca_profiles *ps, char *err, size_t errlen)
{
	char path[] = "/tmp/unit_profile.XXXXXX";
	struct estca_conf c;
	FILE *f;
	int fd, r;

	if (text == NULL)
		return estca_profiles_load(NULL, ps, err, errlen);
	if ((fd = mkstemp(path)) < 0 || (f = fdopen(fd, "w")) == NULL)
		bail("temporary file");
	fputs(text, f);
	fclose(f);
	r = estca_conf_load(path, &c, err, errlen);
	unlink(path);
	if (r != 0)
		return r;
	r = estca_profiles_load(&c, ps, err, errlen);
	estca_conf_free(&c);
	return r;
}

/* Build a certificate for key k under profile p; NULL and reason if refused. */
static X509 *
build(const struct estca_profile *p, int k, char *reason, size_t reasonlen)
{
	X509_NAME *n = X509_NAME_new();
	struct estca_ee_req rq;
	unsigned char serial[ESTCA_SERIAL_LEN];
	X509 *x = NULL;

	memset(serial, 0x22, sizeof(serial));
	if (n == NULL || !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"unit-ee", -1, -1, 0))
		bail("subject");
	memset(&rq, 0, sizeof(rq));
	rq.subject = n;
	rq.spki = spkis[k];
	rq.curves = &curves;
	reason[0] = 0;
	if (estca_build_ee(&ca, p, &rq, serial, &x, reason, reasonlen) != 0)
		x = NULL;
	X509_NAME_free(n);
	return x;
}

/* ---- what each profile shape issues ---- */

/*
 * One profile shape: its configuration ("" for a built-in), and per key
 * type the key usage it issues (0: the key is refused).  The extended key
 * usage is the same for every key type.
 */
struct shape {
	const char *name;
	const char *conf;
	unsigned eku;
	unsigned ku_rsa, ku_ec;
	const char *refusal;     /* part of the reason when a key is refused */
};

static const struct shape shapes[] = {
	/* the built-ins, as doc/engine.md shows them */
	{ "device", "", CLI, DS, DS, NULL },
	{ "tls-server", "", SRV | CLI, DS | KE, DS, NULL },
	/* the doc's example: EC only, clientAuth */
	{ "iot",
	  "validity_days = 30\nmax_validity_days = 90\nkey_types = ec:P-256 ec:P-384\n"
	  "ext_key_usage = clientAuth\nsan_types = dns\n"
	  "crl_url = http://pki.example.net/est.crl\n",
	  CLI, 0, DS, "key type RSA not allowed by profile iot" },
	/* no extended key usage: any purpose, key usage by key type */
	{ "noeku", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n"
	  "ext_key_usage = none\n",
	  0, DS | KE, DS, NULL },
	{ "noeku-unset", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n",
	  0, DS | KE, DS, NULL },
	/* serverAuth alone */
	{ "server-only", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n"
	  "ext_key_usage = serverAuth\n",
	  SRV, DS | KE, DS, NULL },
	/* clientAuth alone, configured like the built-in device */
	{ "client-only", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n"
	  "ext_key_usage = clientAuth\n",
	  CLI, DS, DS, NULL },
	/* the profile asks: digitalSignature only, even for RSA TLS servers */
	{ "server-ds", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n"
	  "ext_key_usage = serverAuth clientAuth\nkey_usage = digitalSignature\n",
	  SRV | CLI, DS, DS, NULL },
	/* asks for keyEncipherment with serverAuth: RSA only */
	{ "server-ke", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n"
	  "ext_key_usage = serverAuth\nkey_usage = digitalSignature keyEncipherment\n",
	  SRV, DS | KE, 0, "key usage does not fit" },
	/* asks for keyAgreement with clientAuth: EC only */
	{ "client-ka", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n"
	  "ext_key_usage = clientAuth\nkey_usage = digitalSignature keyAgreement\n",
	  CLI, 0, DS | KA, "key usage does not fit" },
	/* asks for keyAgreement with serverAuth and clientAuth: EC only */
	{ "tls-ka", "max_validity_days = 30\nkey_types = rsa ec:P-256 ec:P-384\n"
	  "ext_key_usage = serverAuth clientAuth\nkey_usage = digitalSignature keyAgreement\n",
	  SRV | CLI, 0, DS | KA, "key usage does not fit" },
	/* t-engine's "agree": no extended key usage, keyAgreement asked */
	{ "agree", "max_validity_days = 30\nkey_usage = digitalSignature keyAgreement\n"
	  "san_types = dns ip\nkey_types = rsa ec:P-256 ec:P-384\n",
	  0, 0, DS | KA, "key usage does not fit" },
};

static void
test_shapes(void)
{
	char conf[4096], err[256], reason[256], a[128], b[128], c[128], d[128];
	size_t o = 0;
	struct estca_profiles ps;

	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
		if (shapes[i].conf[0])
			o += (size_t)snprintf(conf + o, sizeof(conf) - o, "[profile %s]\n%s",
			    shapes[i].name, shapes[i].conf);
	if (o >= sizeof(conf))
		bail("configuration text too long");
	ok(load_profiles(conf, &ps, err, sizeof(err)) == 0,
	    "every profile shape of the docs loads (%s)", err);
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		const struct shape *s = &shapes[i];
		const struct estca_profile *p = estca_profile_find(&ps, s->name);

		if (p == NULL) {
			ok(0, "profile %s loaded", s->name);
			continue;
		}
		for (int k = 0; k < NKEYS; k++) {
			unsigned want = is_rsa(k) ? s->ku_rsa : s->ku_ec;
			X509 *x = build(p, k, reason, sizeof(reason));

			if (want == 0) {
				ok(x == NULL && strstr(reason, s->refusal) != NULL,
				    "%s, %s key: refused (%s)", s->name, key_names[k], reason);
			} else {
				unsigned gku = x ? cert_ku(x) : 0, geku = x ? cert_eku(x) : 0;

				ok(x != NULL && gku == want && geku == s->eku,
				    "%s, %s key: keyUsage %s, EKU %s (got %s, %s%s)", s->name,
				    key_names[k], ku_text(want, a, sizeof(a)),
				    eku_text(s->eku, b, sizeof(b)), ku_text(gku, c, sizeof(c)),
				    eku_text(geku, d, sizeof(d)), x ? "" : reason);
				int idx = x ? X509_get_ext_by_NID(x, NID_key_usage, -1) : -1;

				ok(idx >= 0 && X509_EXTENSION_get_critical(X509_get_ext(x, idx)),
				    "%s, %s key: keyUsage critical", s->name, key_names[k]);
			}
			X509_free(x);
		}
	}
}

/* Profiles whose key usage contradicts their extended key usage. */
static void
test_refused_profiles(void)
{
	static const struct {
		const char *what, *conf, *want;
	} bad[] = {
		{ "keyEncipherment with clientAuth alone",
		  "[profile p]\nmax_validity_days = 30\nkey_types = rsa\n"
		  "ext_key_usage = clientAuth\nkey_usage = digitalSignature keyEncipherment\n",
		  "keyEncipherment" },
		{ "nonRepudiation with clientAuth",
		  "[profile p]\nmax_validity_days = 30\nkey_types = rsa ec:P-256\n"
		  "ext_key_usage = clientAuth\nkey_usage = digitalSignature nonRepudiation\n",
		  "nonRepudiation" },
		{ "nonRepudiation with serverAuth and clientAuth",
		  "[profile p]\nmax_validity_days = 30\nkey_types = rsa\n"
		  "ext_key_usage = serverAuth clientAuth\nkey_usage = digitalSignature "
		  "keyEncipherment nonRepudiation\n",
		  "nonRepudiation" },
		{ "keyEncipherment alone with serverAuth and clientAuth (nothing for clientAuth)",
		  "[profile p]\nmax_validity_days = 30\nkey_types = rsa\n"
		  "ext_key_usage = serverAuth clientAuth\nkey_usage = keyEncipherment\n",
		  "clientAuth" },
		{ "keyEncipherment and keyAgreement together with serverAuth",
		  "[profile p]\nmax_validity_days = 30\nkey_types = rsa ec:P-256\n"
		  "ext_key_usage = serverAuth\nkey_usage = digitalSignature "
		  "keyEncipherment keyAgreement\n",
		  "keyAgreement" },
		{ "built-in device replaced with keyEncipherment",
		  "[profile device]\nmax_validity_days = 30\nkey_types = rsa\n"
		  "ext_key_usage = clientAuth\nkey_usage = keyEncipherment digitalSignature\n",
		  "keyEncipherment" },
	};
	struct estca_profiles ps;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r;

		err[0] = 0;
		r = load_profiles(bad[i].conf, &ps, err, sizeof(err));
		ok(r == ESTCA_ERR_CONFIG && strstr(err, bad[i].want) != NULL &&
		    strstr(err, "extended key usage") != NULL && strchr(err, '\n') == NULL,
		    "profile refused: %s (%s)", bad[i].what, err);
	}
}

/* ---- the lint ---- */

struct lint_case {
	int key;
	unsigned ku, eku;
	int good;
	const char *want;        /* part of the reason when refused */
};

static const struct lint_case lint_cases[] = {
	/* the defect the outside linter found */
	{ K_RSA2048, DS | KE, CLI, 0, "keyEncipherment" },
	/* serverAuth: digitalSignature, keyEncipherment or keyAgreement */
	{ K_RSA2048, DS | KE, SRV, 1, NULL },
	{ K_RSA2048, KE, SRV, 1, NULL },
	{ K_P256, DS | KA, SRV, 1, NULL },
	{ K_RSA2048, DS | NR, SRV, 0, "nonRepudiation" },
	{ K_RSA2048, DS | DE, SRV, 0, "dataEncipherment" },
	{ K_RSA2048, DS | KCS, SRV, 0, "keyCertSign" },
	/* clientAuth: digitalSignature and/or keyAgreement */
	{ K_P256, DS, CLI, 1, NULL },
	{ K_P256, DS | KA, CLI, 1, NULL },
	{ K_P256, KA, CLI, 1, NULL },
	{ K_P256, DS | NR, CLI, 0, "nonRepudiation" },
	{ K_RSA3072, KE, CLI, 0, "keyEncipherment" },
	/* both: every bit serves one of them, each has a bit */
	{ K_RSA2048, DS | KE, SRV | CLI, 1, NULL },
	{ K_RSA2048, KE, SRV | CLI, 0, "clientAuth" },
	{ K_P256, DS | KA, SRV | CLI, 1, NULL },
	/* codeSigning: digitalSignature */
	{ K_P256, DS, CODE, 1, NULL },
	{ K_RSA2048, DS | KE, CODE, 0, "keyEncipherment" },
	{ K_P256, DS | NR, CODE, 0, "nonRepudiation" },
	/* emailProtection: digitalSignature, nonRepudiation, and/or
	 * (keyEncipherment or keyAgreement) */
	{ K_RSA2048, DS | NR | KE, MAIL, 1, NULL },
	{ K_P256, DS | NR | KA, MAIL, 1, NULL },
	{ K_RSA2048, KE, MAIL, 1, NULL },
	{ K_RSA2048, DS | DE, MAIL, 0, "dataEncipherment" },
	{ K_P256, DS | KE | KA, MAIL, 0, "keyEncipherment" },
	/* timeStamping: digitalSignature and/or nonRepudiation */
	{ K_P384, DS | NR, TIME, 1, NULL },
	{ K_RSA2048, DS | KE, TIME, 0, "keyEncipherment" },
	{ K_P384, DS | KA, TIME, 0, "keyAgreement" },
	/* OCSPSigning: digitalSignature and/or nonRepudiation */
	{ K_P256, NR, OCSP, 1, NULL },
	{ K_P256, DS | KA, OCSP, 0, "keyAgreement" },
	{ K_RSA2048, DS | CRLS, OCSP, 0, "cRLSign" },
	/* a purpose outside the table is one estca never issues */
	{ K_P256, DS, ANY, 0, "anyExtendedKeyUsage" },
	/* a purpose with no bit of its own */
	{ K_P256, DS, CLI | TIME, 1, NULL },
	{ K_P256, NR, CLI | TIME, 0, "clientAuth" },
	/* the key type: RSA never keyAgreement, EC never keyEncipherment */
	{ K_RSA2048, DS | KA, 0, 0, "keyAgreement" },
	{ K_RSA2048, DS | KA, CLI, 0, "keyAgreement" },
	{ K_P256, DS | KE, 0, 0, "keyEncipherment" },
	{ K_P384, DS | KE, SRV, 0, "keyEncipherment" },
	{ K_P256, DS | DE, 0, 0, "dataEncipherment" },
	/* no extendedKeyUsage: the table does not apply */
	{ K_RSA2048, DS | KE, 0, 1, NULL },
	{ K_RSA2048, DS | NR | KE | DE, 0, 1, NULL },
};

static void
test_lint(void)
{
	struct estca_profiles ps;
	const struct estca_profile *p;
	char err[256], reason[256], a[128], b[128];

	if (load_profiles("[profile any]\nmax_validity_days = 30\n"
	    "key_types = rsa ec:P-256 ec:P-384\n", &ps, err, sizeof(err)) != 0 ||
	    (p = estca_profile_find(&ps, "any")) == NULL)
		bail(err);
	for (size_t i = 0; i < sizeof(lint_cases) / sizeof(lint_cases[0]); i++) {
		const struct lint_case *c = &lint_cases[i];
		X509 *x = build(p, c->key, reason, sizeof(reason));
		int r;

		if (x == NULL)
			bail(reason);
		set_ku(x, c->ku);
		set_eku(x, c->eku);
		reason[0] = 0;
		r = estca_lint(x, ca.cert, reason, sizeof(reason));
		if (c->good)
			ok(r == 0, "lint accepts %s key, keyUsage %s, EKU %s (%s)",
			    key_names[c->key], ku_text(c->ku, a, sizeof(a)),
			    eku_text(c->eku, b, sizeof(b)), reason);
		else
			ok(r == ESTCA_ERR_REFUSED && strncmp(reason, "lint: ", 6) == 0 &&
			    strstr(reason, c->want) != NULL && strchr(reason, '\n') == NULL,
			    "lint refuses %s key, keyUsage %s, EKU %s (%s)",
			    key_names[c->key], ku_text(c->ku, a, sizeof(a)),
			    eku_text(c->eku, b, sizeof(b)), reason);
		X509_free(x);
	}
	/* the CA certificates estca-ca makes still pass */
	ok(estca_lint(ca.cert, ca.cert, reason, sizeof(reason)) == 0,
	    "lint accepts the CA certificate (%s)", reason);
}

int
main(void)
{
	make_keys();
	test_shapes();
	test_refused_profiles();
	test_lint();
	for (int k = 0; k < NKEYS; k++) {
		EVP_PKEY_free(keys[k]);
		ESTCA_SPKI_free(spkis[k]);
	}
	X509_free(ca.cert);
	estca_curves_free(&curves);
	printf("1..%d\n", ntest);
	return nfail != 0;
}
