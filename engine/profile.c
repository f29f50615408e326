/*
 * profile.c - certificate profiles: the built-in ones, those of the
 * configuration, and their key and SAN checks.  Nothing here signs;
 * issue.c applies a profile to a request.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/asn1t.h>
#include <openssl/ec.h>
#include <openssl/x509v3.h>
#include "str.h"
#include "log.h"
#include "profile.h"

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

static int check_usage(const struct estca_profile *p, char *err, size_t errlen);

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

/* ---- key usage ---- */

#define KU_DS ESTCA_KU_DIGITAL_SIGNATURE
#define KU_NR ESTCA_KU_NON_REPUDIATION
#define KU_KE ESTCA_KU_KEY_ENCIPHERMENT
#define KU_KA ESTCA_KU_KEY_AGREEMENT

/* RFC 5280 4.2.1.12: the keyUsage bits that may be consistent with each
 * key purpose ("KeyPurposeId ... Key usage bits that may be consistent"). */
static const struct {
	int nid;
	const char *name;
	unsigned profile_eku;   /* ESTCA_EKU_* when a profile can name it */
	unsigned ku;
} purposes[] = {
	{ NID_server_auth, "serverAuth", ESTCA_EKU_SERVER, KU_DS | KU_KE | KU_KA },
	{ NID_client_auth, "clientAuth", ESTCA_EKU_CLIENT, KU_DS | KU_KA },
	{ NID_code_sign, "codeSigning", 0, KU_DS },
	{ NID_email_protect, "emailProtection", 0, KU_DS | KU_NR | KU_KE | KU_KA },
	{ NID_time_stamp, "timeStamping", 0, KU_DS | KU_NR },
	{ NID_OCSP_sign, "OCSPSigning", 0, KU_DS | KU_NR },
};
#define NPURPOSES (sizeof(purposes) / sizeof(purposes[0]))

static const char *const ku_names[9] = { "digitalSignature", "nonRepudiation",
	"keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign",
	"cRLSign", "encipherOnly", "decipherOnly" };

const char *
estca_ku_name(int bit)
{
	return bit >= 0 && bit < 9 ? ku_names[bit] : "?";
}

static int
purpose_index(int nid)
{
	for (size_t i = 0; i < NPURPOSES; i++)
		if (purposes[i].nid == nid)
			return (int)i;
	return -1;
}

/* The purposes of a profile's ESTCA_EKU_* bits, as NIDs, in the
 * certificate's order; returns how many. */
static size_t
profile_nids(unsigned eku, int nids[NPURPOSES])
{
	size_t n = 0;

	for (size_t i = 0; i < NPURPOSES; i++)
		if (purposes[i].profile_eku & eku)
			nids[n++] = purposes[i].nid;
	return n;
}

int
estca_ku_eku_check(unsigned ku, const int *nids, size_t n, char *why, size_t whylen)
{
	char list[160];
	size_t o = 0;

	if (n == 0)
		return 0;
	list[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int k = purpose_index(nids[i]);

		if (k < 0) {
			const char *sn = nids[i] != NID_undef ? OBJ_nid2sn(nids[i]) : NULL;

			snprintf(why, whylen, "extended key usage %s is not one estca issues",
			    sn ? sn : "(unknown OID)");
			return ESTCA_ERR_REFUSED;
		}
		if (o < sizeof(list))
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
			    o ? ", " : "", purposes[k].name);
	}
	for (int b = 0; b < 9; b++) {
		int fits = 0;

		if (!(ku & (1u << b)))
			continue;
		for (size_t i = 0; i < n && !fits; i++)
			fits = (purposes[purpose_index(nids[i])].ku & (1u << b)) != 0;
		if (!fits) {
			snprintf(why, whylen, "key usage %s is not consistent with "
			    "extended key usage %s (RFC 5280 4.2.1.12)", ku_names[b], list);
			return ESTCA_ERR_REFUSED;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const int k = purpose_index(nids[i]);

		if ((purposes[k].ku & ku) == 0) {
			snprintf(why, whylen, "extended key usage %s has no consistent "
			    "key usage (RFC 5280 4.2.1.12)", purposes[k].name);
			return ESTCA_ERR_REFUSED;
		}
	}
	if ((ku & KU_KE) && (ku & KU_KA)) {
		snprintf(why, whylen, "key usage keyEncipherment and keyAgreement "
		    "together with extended key usage %s (RFC 5280 4.2.1.12: one or "
		    "the other)", list);
		return ESTCA_ERR_REFUSED;
	}
	return 0;
}

int
estca_ku_key_check(unsigned ku, int is_rsa, char *why, size_t whylen)
{
	const unsigned never = is_rsa ? ESTCA_KU_KEY_AGREEMENT |
	    ESTCA_KU_ENCIPHER_ONLY | ESTCA_KU_DECIPHER_ONLY :
	    ESTCA_KU_KEY_ENCIPHERMENT | ESTCA_KU_DATA_ENCIPHERMENT;

	for (int b = 0; b < 9; b++)
		if (ku & never & (1u << b)) {
			snprintf(why, whylen, "key usage %s on a%s key", ku_names[b],
			    is_rsa ? "n RSA" : "n EC");
			return ESTCA_ERR_REFUSED;
		}
	return 0;
}

int
estca_profile_key_usage(const struct estca_profile *p,
    const struct estca_keyinfo *ki, unsigned *ku, char *reason, size_t reasonlen)
{
	char why[128];
	int nids[NPURPOSES];
	size_t n;
	unsigned allowed = 0;

	*ku = 0;
	if (p->ku != 0) {
		for (int b = 0; b < 9; b++)
			if ((p->ku & (1u << b)) &&
			    estca_ku_key_check(1u << b, ki->is_rsa, why, sizeof(why)) != 0) {
				snprintf(reason, reasonlen, "profile %s key usage does not "
				    "fit a%s key: %s", p->name, ki->is_rsa ? "n RSA" : "n EC",
				    ku_names[b]);
				return ESTCA_ERR_REFUSED;
			}
		*ku = p->ku;
		return 0;
	}
	/* no extendedKeyUsage: any purpose, so any bit the key can do */
	n = profile_nids(p->eku, nids);
	for (size_t i = 0; i < n; i++)
		allowed |= purposes[purpose_index(nids[i])].ku;
	*ku = ESTCA_KU_DIGITAL_SIGNATURE;
	if (ki->is_rsa && (n == 0 || (allowed & ESTCA_KU_KEY_ENCIPHERMENT)))
		*ku |= ESTCA_KU_KEY_ENCIPHERMENT;
	return 0;
}

/*
 * Start-up check of a loaded profile: the key usage it asks for, and the
 * one it gives each key type it accepts, fit its extended key usage.
 */
static int
check_usage(const struct estca_profile *p, char *err, size_t errlen)
{
	static const struct estca_keyinfo kinds[2] = {
		{ .is_rsa = 1, .bits = 2048 },
		{ .is_rsa = 0, .bits = 256, .curve_nid = NID_X9_62_prime256v1 },
	};
	char why[256];
	int nids[NPURPOSES];
	size_t n = profile_nids(p->eku, nids);

	if (p->ku != 0 && estca_ku_eku_check(p->ku, nids, n, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "profile %s: %s", p->name, why);
		return ESTCA_ERR_CONFIG;
	}
	for (int i = 0; i < 2; i++) {
		unsigned ku;

		if (kinds[i].is_rsa ? !p->allow_rsa : !(p->allow_p256 || p->allow_p384))
			continue;
		/* a key_usage the key cannot do refuses such keys when they come */
		if (estca_profile_key_usage(p, &kinds[i], &ku, why, sizeof(why)) != 0)
			continue;
		if (estca_ku_eku_check(ku, nids, n, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "profile %s: %s keys: %s", p->name,
			    kinds[i].is_rsa ? "RSA" : "EC", why);
			return ESTCA_ERR_CONFIG;
		}
	}
	return 0;
}

/* ---- subjectAltName values ---- */

#define SAN_DNS_MAX 253
#define SAN_LABEL_MAX 63
#define SAN_EMAIL_MAX 254
#define SAN_LOCAL_MAX 64
#define SAN_URI_MAX 1024

static int
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A host name of LDH labels; wildcard: "*." may start it. */
static const char *
dns_syntax(const unsigned char *v, size_t n, int wildcard)
{
	size_t i = 0, labels = 0, start;
	int star = 0, numeric = 0;

	if (n == 0)
		return "empty";
	if (n > SAN_DNS_MAX)
		return "longer than 253 characters";
	if (wildcard && n >= 2 && v[0] == '*' && v[1] == '.') {
		star = 1;
		i = 2;
	}
	for (;;) {
		start = i;
		numeric = 1;
		for (; i < n && v[i] != '.'; i++) {
			unsigned char c = v[i];

			if (c == '*')
				return "wildcard only as the whole first label";
			if (!is_alpha(c) && !is_digit(c) && c != '-')
				return "character other than letter, digit, hyphen or dot";
			if (!is_digit(c))
				numeric = 0;
		}
		if (i == start)
			return "empty label";
		if (i - start > SAN_LABEL_MAX)
			return "label longer than 63 characters";
		if (v[start] == '-' || v[i - 1] == '-')
			return "label starts or ends with a hyphen";
		labels++;
		if (i == n)
			break;
		i++;   /* the dot; a trailing one leaves an empty label */
	}
	if (numeric)
		return "last label is all digits";
	if (star && labels < 2)
		return "wildcard needs two labels after it";
	return NULL;
}

static const char *
email_syntax(const unsigned char *v, size_t n)
{
	const unsigned char *at;
	size_t local;

	if (n == 0)
		return "empty";
	if (n > SAN_EMAIL_MAX)
		return "longer than 254 characters";
	if ((at = memchr(v, '@', n)) == NULL)
		return "no '@'";
	local = (size_t)(at - v);
	if (local == 0)
		return "empty local part";
	if (local > SAN_LOCAL_MAX)
		return "local part longer than 64 characters";
	for (size_t i = 0; i < local; i++)
		if (v[i] <= 0x20 || v[i] >= 0x7f)
			return "local part not printable ASCII without spaces";
	if (memchr(at + 1, '@', n - local - 1) != NULL)
		return "more than one '@'";
	if (dns_syntax(at + 1, n - local - 1, 0) != NULL)
		return "domain is not a valid host name";
	return NULL;
}

static const char *
uri_syntax(const unsigned char *v, size_t n)
{
	static const char other[] = "-._~:/?#[]@!$&'()*+,;=";
	size_t i = 0;

	if (n == 0)
		return "empty";
	if (n > SAN_URI_MAX)
		return "longer than 1024 characters";
	if (!is_alpha(v[0]))
		return "no scheme";
	while (i < n && (is_alpha(v[i]) || is_digit(v[i]) || v[i] == '+' ||
	    v[i] == '-' || v[i] == '.'))
		i++;
	if (i == n || v[i] != ':')
		return "no scheme";
	if (i + 1 == n)
		return "nothing after the scheme";
	for (i++; i < n; i++) {
		unsigned char c = v[i];

		if (c == '%') {
			if (i + 2 >= n || !is_hex(v[i + 1]) || !is_hex(v[i + 2]))
				return "'%' not followed by two hex digits";
			i += 2;
		} else if (!is_alpha(c) && !is_digit(c) &&
		    (c == 0 || strchr(other, c) == NULL)) {
			return c <= 0x20 || c >= 0x7f ?
			    "space, control or non-ASCII character" :
			    "character not allowed in a URI";
		}
	}
	return NULL;
}

const char *
estca_san_syntax(int gen_type, const unsigned char *v, size_t n)
{
	switch (gen_type) {
	case GEN_IPADD:
		return n == 4 || n == 16 ? NULL : "not 4 (IPv4) or 16 (IPv6) bytes";
	case GEN_DNS:
		return dns_syntax(v, n, 1);
	case GEN_EMAIL:
		return email_syntax(v, n);
	case GEN_URI:
		return uri_syntax(v, n);
	default:
		return "type not supported";
	}
}

/*
 * Check g's value; on refusal, shown gets it for the reason: quoted and
 * escaped (it came from the request), or its length for an iPAddress.
 */
static const char *
san_value_syntax(const GENERAL_NAME *g, char *shown, size_t shownlen)
{
	const ASN1_STRING *s = NULL;
	const unsigned char *v;
	size_t n;
	const char *why;
	char esc[80];

	switch (g->type) {
	case GEN_DNS: s = g->d.dNSName; break;
	case GEN_IPADD: s = g->d.iPAddress; break;
	case GEN_EMAIL: s = g->d.rfc822Name; break;
	case GEN_URI: s = g->d.uniformResourceIdentifier; break;
	default: break;
	}
	v = s != NULL ? ASN1_STRING_get0_data(s) : (const unsigned char *)"";
	n = s != NULL ? (size_t)ASN1_STRING_length(s) : 0;
	if ((why = estca_san_syntax(g->type, v, n)) == NULL)
		return NULL;
	if (g->type == GEN_IPADD)
		snprintf(shown, shownlen, "of %zu bytes", n);
	else
		snprintf(shown, shownlen, "'%s'", estca_log_escape(esc, sizeof(esc), v, n));
	return why;
}

int
estca_profile_check_sans(const struct estca_profile *p,
    const STACK_OF(GENERAL_NAME) *sans, char *reason, size_t reasonlen)
{
	int n = sans ? sk_GENERAL_NAME_num(sans) : 0;

	if (n > ESTCA_MAX_SANS) {
		snprintf(reason, reasonlen, "too many subjectAltNames (%d)", n);
		return ESTCA_ERR_REFUSED;
	}
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		unsigned need;
		const char *what, *why;
		char shown[96];

		switch (g->type) {
		case GEN_DNS: need = ESTCA_SAN_DNS; what = "DNS"; break;
		case GEN_IPADD: need = ESTCA_SAN_IP; what = "IP"; break;
		case GEN_EMAIL: need = ESTCA_SAN_EMAIL; what = "email"; break;
		case GEN_URI: need = ESTCA_SAN_URI; what = "URI"; break;
		default: need = 0; what = "other"; break;
		}
		if (need == 0 || (p->san_types & need) == 0) {
			snprintf(reason, reasonlen,
			    "subjectAltName of type %s not allowed by profile %s",
			    what, p->name);
			return ESTCA_ERR_REFUSED;
		}
		if ((why = san_value_syntax(g, shown, sizeof(shown))) != NULL) {
			snprintf(reason, reasonlen, "subjectAltName %s %s refused: %s",
			    what, shown, why);
			return ESTCA_ERR_REFUSED;
		}
	}
	return 0;
}
