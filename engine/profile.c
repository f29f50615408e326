/*
 * profile.c - certificate profiles: the built-in ones, those of the
 * configuration, and their key checks.  Nothing here signs; issue.c
 * applies a profile to a request.  The key usage table and its checks
 * are in ku.c, the subjectAltName checks in san.c.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>
#include "str.h"
#include "profile.h"
#include "profile_int.h"

#define DAY 86400L

static const struct estca_profile builtin[] = {
	{
		.name = "device",
		.default_validity_secs = 365 * DAY,
		.max_validity_secs = 825 * DAY,
		.eku = ESTCA_EKU_CLIENT,
		.san_types = ESTCA_SAN_DNS | ESTCA_SAN_IP | ESTCA_SAN_EMAIL |
		    ESTCA_SAN_URI,
		.allow_rsa = 1,
		.min_rsa_bits = 2048,
		.max_rsa_bits = 8192,
		.allow_p256 = 1,
		.allow_p384 = 1,
	},
	{
		.name = "tls-server",
		.default_validity_secs = 365 * DAY,
		.max_validity_secs = 397 * DAY,
		.eku = ESTCA_EKU_SERVER | ESTCA_EKU_CLIENT,
		.san_types = ESTCA_SAN_DNS | ESTCA_SAN_IP,
		.allow_rsa = 1,
		.min_rsa_bits = 2048,
		.max_rsa_bits = 8192,
		.allow_p256 = 1,
		.allow_p384 = 1,
	},
};

static const char *const profile_keys[] = { "validity_days",
	"max_validity_days", "key_usage", "ext_key_usage", "san_types", "key_types",
	"min_rsa_bits", "crl_url", "ocsp_url", "ca_issuers_url", NULL };

const struct estca_profile *
estca_profile_find(const struct estca_profiles *ps, const char *name)
{
	for (size_t i = 0; i < ps->n; i++)
		if (strcmp(ps->p[i].name, name) == 0)
			return &ps->p[i];
	return NULL;
}

/* Call fn for each blank-separated word of s; stop at the first error. */
static int
each_word(const char *s, int (*fn)(struct estca_profile *, const char *),
    struct estca_profile *p, const char **bad)
{
	char w[64];

	while (*s) {
		size_t n = strcspn(s, " \t,");

		if (n >= sizeof(w)) {
			*bad = s;
			return ESTCA_ERR_CONFIG;
		}
		if (n > 0) {
			memcpy(w, s, n);
			w[n] = 0;
			if (fn(p, w) != 0) {
				*bad = s;
				return ESTCA_ERR_CONFIG;
			}
		}
		s += n;
		s += strspn(s, " \t,");
	}
	return 0;
}

static int
eku_word(struct estca_profile *p, const char *w)
{
	if (strcmp(w, "clientAuth") == 0)
		p->eku |= ESTCA_EKU_CLIENT;
	else if (strcmp(w, "serverAuth") == 0)
		p->eku |= ESTCA_EKU_SERVER;
	else if (strcmp(w, "none") != 0)
		return ESTCA_ERR_CONFIG;
	return 0;
}

static int
ku_word(struct estca_profile *p, const char *w)
{
	if (strcmp(w, "digitalSignature") == 0)
		p->ku |= ESTCA_KU_DIGITAL_SIGNATURE;
	else if (strcmp(w, "nonRepudiation") == 0)
		p->ku |= ESTCA_KU_NON_REPUDIATION;
	else if (strcmp(w, "keyEncipherment") == 0)
		p->ku |= ESTCA_KU_KEY_ENCIPHERMENT;
	else if (strcmp(w, "keyAgreement") == 0)
		p->ku |= ESTCA_KU_KEY_AGREEMENT;
	else
		return ESTCA_ERR_CONFIG;
	return 0;
}

static int
san_word(struct estca_profile *p, const char *w)
{
	if (strcmp(w, "dns") == 0)
		p->san_types |= ESTCA_SAN_DNS;
	else if (strcmp(w, "ip") == 0)
		p->san_types |= ESTCA_SAN_IP;
	else if (strcmp(w, "email") == 0)
		p->san_types |= ESTCA_SAN_EMAIL;
	else if (strcmp(w, "uri") == 0)
		p->san_types |= ESTCA_SAN_URI;
	else if (strcmp(w, "none") != 0)
		return ESTCA_ERR_CONFIG;
	return 0;
}

static int
key_word(struct estca_profile *p, const char *w)
{
	if (strcmp(w, "rsa") == 0)
		p->allow_rsa = 1;
	else if (strcmp(w, "ec:P-256") == 0)
		p->allow_p256 = 1;
	else if (strcmp(w, "ec:P-384") == 0)
		p->allow_p384 = 1;
	else
		return ESTCA_ERR_CONFIG;
	return 0;
}

static int
set_url(char *dst, const char *v)
{
	size_t n = strlen(v);

	if (n >= ESTCA_URL_LEN || (strncmp(v, "http://", 7) != 0 &&
	    strncmp(v, "https://", 8) != 0 && strncmp(v, "ldap://", 7) != 0))
		return ESTCA_ERR_CONFIG;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] >= 0x7f)
			return ESTCA_ERR_CONFIG;
	memcpy(dst, v, n + 1);
	return 0;
}

static int
load_one(const struct estca_conf *c, const char *name, struct estca_profile *p,
    char *err, size_t errlen)
{
	const char *v, *bad = NULL;
	long l;

	/* start from nothing: a configured profile says all it allows */
	memset(p, 0, sizeof(*p));
	if (estca_str_copy(p->name, sizeof(p->name), name) != 0) {
		snprintf(err, errlen, "profile name too long");
		return ESTCA_ERR_CONFIG;
	}
	p->min_rsa_bits = 2048;
	p->max_rsa_bits = 8192;
	for (size_t i = 0; i < c->n; i++) {
		const struct estca_conf_entry *e = &c->e[i];
		int ok = 0;

		if (strcmp(e->section, "profile") != 0 || strcmp(e->name, name) != 0)
			continue;
		for (const char *const *k = profile_keys; *k; k++)
			if (strcmp(*k, e->key) == 0)
				ok = 1;
		if (!ok) {
			snprintf(err, errlen, "%s:%d: unknown profile key '%s'", c->path,
			    e->line, e->key);
			return ESTCA_ERR_CONFIG;
		}
	}
#define GET(k) estca_conf_get(c, "profile", name, k)
#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return ESTCA_ERR_CONFIG; } while (0)
	if ((v = GET("max_validity_days")) == NULL ||
	    estca_conf_long(v, 1, 36500, &l) != 0)
		FAIL("profile %s: max_validity_days (1..36500) is required", name);
	p->max_validity_secs = l * DAY;
	p->default_validity_secs = p->max_validity_secs;
	if ((v = GET("validity_days")) != NULL) {
		if (estca_conf_long(v, 1, l, &l) != 0)
			FAIL("profile %s: validity_days must be 1..max_validity_days", name);
		p->default_validity_secs = l * DAY;
	}
	if ((v = GET("key_usage")) != NULL && each_word(v, ku_word, p, &bad) != 0)
		FAIL("profile %s: key_usage takes digitalSignature nonRepudiation "
		    "keyEncipherment keyAgreement", name);
	if ((v = GET("ext_key_usage")) != NULL && each_word(v, eku_word, p, &bad) != 0)
		FAIL("profile %s: ext_key_usage takes clientAuth serverAuth none", name);
	if ((v = GET("san_types")) != NULL && each_word(v, san_word, p, &bad) != 0)
		FAIL("profile %s: san_types takes dns ip email uri none", name);
	if ((v = GET("key_types")) == NULL || each_word(v, key_word, p, &bad) != 0)
		FAIL("profile %s: key_types (rsa ec:P-256 ec:P-384) is required", name);
	if ((v = GET("min_rsa_bits")) != NULL) {
		if (estca_conf_long(v, 2048, 8192, &l) != 0)
			FAIL("profile %s: min_rsa_bits must be 2048..8192", name);
		p->min_rsa_bits = (int)l;
	}
	if ((v = GET("crl_url")) != NULL && set_url(p->crl_url, v) != 0)
		FAIL("profile %s: crl_url must be an http, https or ldap URL", name);
	if ((v = GET("ocsp_url")) != NULL && set_url(p->ocsp_url, v) != 0)
		FAIL("profile %s: ocsp_url must be an http or https URL", name);
	if ((v = GET("ca_issuers_url")) != NULL && set_url(p->ca_issuers_url, v) != 0)
		FAIL("profile %s: ca_issuers_url must be an http or https URL", name);
#undef GET
#undef FAIL
	return 0;
}

int
estca_profiles_load(const struct estca_conf *c, struct estca_profiles *ps,
    char *err, size_t errlen)
{
	int r;

	memset(ps, 0, sizeof(*ps));
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		ps->p[ps->n++] = builtin[i];
	for (size_t i = 0; c != NULL && i < c->n; i++) {
		const struct estca_conf_entry *e = &c->e[i];
		struct estca_profile *slot;
		int seen = 0;

		if (strcmp(e->section, "profile") != 0)
			continue;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(c->e[j].section, "profile") == 0 &&
			    strcmp(c->e[j].name, e->name) == 0;
		if (seen)
			continue;   /* one load per section */
		slot = (struct estca_profile *)estca_profile_find(ps, e->name);
		if (slot == NULL) {
			if (ps->n >= ESTCA_MAX_PROFILES) {
				snprintf(err, errlen, "more than %d profiles",
				    ESTCA_MAX_PROFILES);
				return ESTCA_ERR_CONFIG;
			}
			slot = &ps->p[ps->n++];
		}
		if ((r = load_one(c, e->name, slot, err, errlen)) != 0)
			return r;
	}
	for (size_t i = 0; i < ps->n; i++)
		if ((r = check_usage(&ps->p[i], err, errlen)) != 0)
			return r;
	return 0;
}

/* RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } */
typedef struct {
	ASN1_INTEGER *n;
	ASN1_INTEGER *e;
} ESTCA_RSAPUB;

ASN1_SEQUENCE(ESTCA_RSAPUB) = {
	ASN1_SIMPLE(ESTCA_RSAPUB, n, ASN1_INTEGER),
	ASN1_SIMPLE(ESTCA_RSAPUB, e, ASN1_INTEGER),
} ASN1_SEQUENCE_END(ESTCA_RSAPUB)

DECLARE_ASN1_FUNCTIONS(ESTCA_RSAPUB)
IMPLEMENT_ASN1_FUNCTIONS(ESTCA_RSAPUB)

static int
int_bits(const ASN1_INTEGER *a)
{
	const unsigned char *d = ASN1_STRING_get0_data(a);
	int n = ASN1_STRING_length(a), bits;

	while (n > 0 && *d == 0) {
		d++;
		n--;
	}
	if (n == 0)
		return 0;
	bits = (n - 1) * 8;
	for (unsigned v = d[0]; v; v >>= 1)
		bits++;
	return bits;
}

static int
inspect_rsa(const ESTCA_SPKI *s, struct estca_keyinfo *ki, char *reason,
    size_t reasonlen)
{
	const unsigned char *p = ASN1_STRING_get0_data(s->key);
	int len = ASN1_STRING_length(s->key), ptype;
	const void *pval;
	ESTCA_RSAPUB *rk;
	const unsigned char *q = p;
	long e;
	int ok;

	X509_ALGOR_get0(NULL, &ptype, &pval, s->alg);
	if (ptype != V_ASN1_NULL && ptype != V_ASN1_UNDEF) {
		snprintf(reason, reasonlen, "RSA key with unexpected parameters");
		return ESTCA_ERR_REFUSED;
	}
	rk = d2i_ESTCA_RSAPUB(NULL, &q, len);
	ok = rk != NULL && q == p + len &&
	    ASN1_STRING_type(rk->n) == V_ASN1_INTEGER &&
	    ASN1_STRING_type(rk->e) == V_ASN1_INTEGER;
	if (ok) {
		ki->is_rsa = 1;
		ki->bits = int_bits(rk->n);
		e = ASN1_INTEGER_get(rk->e);
		ok = ki->bits >= 512 && (ASN1_STRING_get0_data(rk->n)
		    [ASN1_STRING_length(rk->n) - 1] & 1) &&
		    e >= 3 && (e & 1) && int_bits(rk->e) <= 256;
	}
	ESTCA_RSAPUB_free(rk);
	if (!ok) {
		snprintf(reason, reasonlen, "RSA public key is malformed");
		return ESTCA_ERR_REFUSED;
	}
	return 0;
}

int
estca_curves_init(struct estca_curves *c)
{
	c->p256 = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	c->p384 = EC_GROUP_new_by_curve_name(NID_secp384r1);
	if (c->p256 == NULL || c->p384 == NULL) {
		estca_curves_free(c);
		return ESTCA_ERR_NOMEM;
	}
	return 0;
}

void
estca_curves_free(struct estca_curves *c)
{
	EC_GROUP_free(c->p256);
	EC_GROUP_free(c->p384);
	c->p256 = c->p384 = NULL;
}

static int
inspect_ec(const ESTCA_SPKI *s, const struct estca_curves *curves,
    struct estca_keyinfo *ki, char *reason, size_t reasonlen)
{
	const void *pval;
	const EC_GROUP *g;
	EC_GROUP *own = NULL;
	EC_POINT *pt;
	int ptype, nid, ok;

	X509_ALGOR_get0(NULL, &ptype, &pval, s->alg);
	if (ptype != V_ASN1_OBJECT) {
		snprintf(reason, reasonlen, "EC key without a named curve");
		return ESTCA_ERR_REFUSED;
	}
	nid = OBJ_obj2nid(pval);
	if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1) {
		const char *sn = OBJ_nid2sn(nid);

		snprintf(reason, reasonlen, "EC curve %s not allowed",
		    nid != NID_undef && sn ? sn : "(unknown)");
		return ESTCA_ERR_REFUSED;
	}
	if (curves != NULL)
		g = nid == NID_secp384r1 ? curves->p384 : curves->p256;
	else if ((g = own = EC_GROUP_new_by_curve_name(nid)) == NULL)
		return ESTCA_ERR_NOMEM;
	pt = EC_POINT_new(g);
	ok = pt != NULL && EC_POINT_oct2point(g, pt, ASN1_STRING_get0_data(s->key),
	    (size_t)ASN1_STRING_length(s->key), NULL) == 1 &&
	    !EC_POINT_is_at_infinity(g, pt);
	EC_POINT_free(pt);
	EC_GROUP_free(own);
	if (!ok) {
		snprintf(reason, reasonlen, "EC public key is not a point of its curve");
		return ESTCA_ERR_REFUSED;
	}
	ki->is_rsa = 0;
	ki->curve_nid = nid;
	ki->bits = nid == NID_secp384r1 ? 384 : 256;
	return 0;
}

int
estca_spki_inspect(const ESTCA_SPKI *s, const struct estca_curves *curves,
    struct estca_keyinfo *ki, char *reason, size_t reasonlen)
{
	const ASN1_OBJECT *obj;

	memset(ki, 0, sizeof(*ki));
	if (s == NULL || s->alg == NULL || s->key == NULL) {
		snprintf(reason, reasonlen, "public key missing");
		return ESTCA_ERR_MALFORMED;
	}
	X509_ALGOR_get0(&obj, NULL, NULL, s->alg);
	switch (OBJ_obj2nid(obj)) {
	case NID_rsaEncryption:
		return inspect_rsa(s, ki, reason, reasonlen);
	case NID_X9_62_id_ecPublicKey:
		return inspect_ec(s, curves, ki, reason, reasonlen);
	default:
		snprintf(reason, reasonlen, "public key type not supported "
		    "(RSA and EC P-256/P-384 are)");
		return ESTCA_ERR_REFUSED;
	}
}

int
estca_profile_check_key(const struct estca_profile *p,
    const struct estca_keyinfo *ki, char *reason, size_t reasonlen)
{
	if (ki->is_rsa) {
		if (!p->allow_rsa) {
			snprintf(reason, reasonlen, "key type RSA not allowed by profile %s",
			    p->name);
			return ESTCA_ERR_REFUSED;
		}
		if (ki->bits < p->min_rsa_bits || ki->bits > p->max_rsa_bits) {
			snprintf(reason, reasonlen,
			    "RSA key of %d bits outside profile %s (%d..%d)", ki->bits,
			    p->name, p->min_rsa_bits, p->max_rsa_bits);
			return ESTCA_ERR_REFUSED;
		}
		return 0;
	}
	if ((ki->curve_nid == NID_X9_62_prime256v1 && p->allow_p256) ||
	    (ki->curve_nid == NID_secp384r1 && p->allow_p384))
		return 0;
	snprintf(reason, reasonlen, "EC curve %s not allowed by profile %s",
	    OBJ_nid2sn(ki->curve_nid), p->name);
	return ESTCA_ERR_REFUSED;
}
