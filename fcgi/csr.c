/*
 * csr.c - see csr.h.  The first code to look at the bytes of an
 * enrollment request: decodes with OpenSSL's d2i only, never by hand
 * beyond base64, and never keeps the challengePassword anywhere but the
 * one wiped buffer it returns.
 */
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/asn1t.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include "b64.h"
#include "csr.h"

/*
 * The request with the shape of OpenSSL's own X509_REQ templates (x_req.c:
 * the same fields and tags, the attributes OPTIONAL as there), with one
 * difference: the SubjectPublicKeyInfo stays its two fields.  OpenSSL
 * 3.0's X509_PUBKEY turns it into a key inside the d2i, through its
 * provider decoders, at about 100 µs for a P-256 key; csr_key() makes the
 * key from the fields directly for named-curve EC and RSA keys.  Both
 * SEQUENCEs that are signed or hashed keep their encoding as received
 * (the _enc variants), so the signature is checked over the bytes the
 * client signed, as X509_REQ_verify does.
 */
typedef struct {
	ASN1_ENCODING enc;
	X509_ALGOR *alg;
	ASN1_BIT_STRING *key;
} CSR_SPKI;

ASN1_SEQUENCE_enc(CSR_SPKI, enc, NULL) = {
	ASN1_SIMPLE(CSR_SPKI, alg, X509_ALGOR),
	ASN1_SIMPLE(CSR_SPKI, key, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END_ref(CSR_SPKI, CSR_SPKI)

typedef struct {
	ASN1_ENCODING enc;
	ASN1_INTEGER *version;
	X509_NAME *subject;
	CSR_SPKI *spki;
	STACK_OF(X509_ATTRIBUTE) *attributes;
} CSR_INFO;

ASN1_SEQUENCE_enc(CSR_INFO, enc, NULL) = {
	ASN1_SIMPLE(CSR_INFO, version, ASN1_INTEGER),
	ASN1_SIMPLE(CSR_INFO, subject, X509_NAME),
	ASN1_SIMPLE(CSR_INFO, spki, CSR_SPKI),
	ASN1_IMP_SET_OF_OPT(CSR_INFO, attributes, X509_ATTRIBUTE, 0),
} static_ASN1_SEQUENCE_END_ref(CSR_INFO, CSR_INFO)

typedef struct estca_csr_req CSR_REQ;

struct estca_csr_req {
	CSR_INFO *info;
	X509_ALGOR *sig_alg;
	ASN1_BIT_STRING *signature;
};

ASN1_SEQUENCE(CSR_REQ) = {
	ASN1_SIMPLE(CSR_REQ, info, CSR_INFO),
	ASN1_SIMPLE(CSR_REQ, sig_alg, X509_ALGOR),
	ASN1_SIMPLE(CSR_REQ, signature, ASN1_BIT_STRING),
} static_ASN1_SEQUENCE_END(CSR_REQ)


/* RSAPublicKey (RFC 8017 A.1.1) */
typedef struct {
	ASN1_INTEGER *n;
	ASN1_INTEGER *e;
} CSR_RSA_PUB;

ASN1_SEQUENCE(CSR_RSA_PUB) = {
	ASN1_SIMPLE(CSR_RSA_PUB, n, ASN1_INTEGER),
	ASN1_SIMPLE(CSR_RSA_PUB, e, ASN1_INTEGER),
} static_ASN1_SEQUENCE_END(CSR_RSA_PUB)


static void
say(char *why, size_t whylen, const char *s)
{
	size_t n = strlen(s);

	if (whylen == 0)
		return;
	if (n >= whylen)
		n = whylen - 1;
	memcpy(why, s, n);
	why[n] = 0;
}

bool
estca_media_type_is(const char *ctype, const char *want)
{
	size_t n = strlen(want), i;

	if (ctype == NULL)
		return false;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	for (i = 0; i < n; i++) {
		unsigned char a = (unsigned char)ctype[i], b = (unsigned char)want[i];

		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (a != b)
			return false;
	}
	while (ctype[i] == ' ' || ctype[i] == '\t')
		i++;
	return ctype[i] == 0 || ctype[i] == ';';
}

/* The challengePassword attribute as UTF-8 into c->challenge. */
static int
get_challenge(struct estca_csr *c, char *why, size_t whylen)
{
	X509_ATTRIBUTE *at;
	const ASN1_TYPE *t;
	unsigned char *u = NULL;
	int idx, len;

	idx = X509at_get_attr_by_NID(c->req->info->attributes,
	    NID_pkcs9_challengePassword, -1);
	if (idx < 0)
		return 0;
	if (X509at_get_attr_by_NID(c->req->info->attributes,
	    NID_pkcs9_challengePassword, idx) >= 0) {
		say(why, whylen, "more than one challengePassword attribute");
		return ESTCA_ERR_MALFORMED;
	}
	at = X509at_get_attr(c->req->info->attributes, idx);
	if (X509_ATTRIBUTE_count(at) != 1 ||
	    (t = X509_ATTRIBUTE_get0_type(at, 0)) == NULL) {
		say(why, whylen, "challengePassword must have exactly one value");
		return ESTCA_ERR_MALFORMED;
	}
	switch (t->type) {
	case V_ASN1_UTF8STRING:
	case V_ASN1_PRINTABLESTRING:
	case V_ASN1_T61STRING:
	case V_ASN1_IA5STRING:
	case V_ASN1_BMPSTRING:
	case V_ASN1_UNIVERSALSTRING:
		break;
	default:
		say(why, whylen, "challengePassword is not a text string");
		return ESTCA_ERR_MALFORMED;
	}
	len = ASN1_STRING_to_UTF8(&u, t->value.asn1_string);
	if (len < 0 || len > ESTCA_CODE_MAX || memchr(u, 0, (size_t)len) != NULL) {
		if (u != NULL)
			OPENSSL_clear_free(u, len > 0 ? (size_t)len : 0);
		say(why, whylen, "challengePassword unusable (too long or binary)");
		return ESTCA_ERR_MALFORMED;
	}
	/* plain heap, wiped when freed (no secure heap is set up; the
	 * worker's allocator wipes everything OpenSSL frees anyway) */
	if ((c->challenge = OPENSSL_zalloc((size_t)len + 1)) == NULL) {
		OPENSSL_clear_free(u, (size_t)len);
		return ESTCA_ERR_NOMEM;
	}
	memcpy(c->challenge, u, (size_t)len);
	OPENSSL_clear_free(u, (size_t)len);
	return 0;
}

/* Is der[0..len) exactly one DER TLV?  Its header length into *hdr. */
static int
one_tlv(const unsigned char *der, long len, int *tag, int *cls, long *hdr)
{
	const unsigned char *p = der;
	long body;
	int ret;

	ret = ASN1_get_object(&p, &body, tag, cls, len);
	if (ret & 0x80 || ret & 0x01)   /* error, or indefinite length */
		return 0;
	*hdr = (long)(p - der);
	return *hdr + body == len;
}

int
estca_csn_decode(const unsigned char *der, size_t len, X509_NAME **subject,
    GENERAL_NAMES **sans, char *why, size_t whylen)
{
	const unsigned char *p, *end;
	long hdr, ihdr, elen;
	int tag, cls, n = 0;

	*subject = NULL;
	*sans = NULL;
	if (len == 0 || len > 0x100000 ||
	    !one_tlv(der, (long)len, &tag, &cls, &hdr) ||
	    tag != V_ASN1_SEQUENCE || cls != V_ASN1_UNIVERSAL)
		goto bad;
	p = der + hdr;
	end = der + len;
	while (p < end) {
		const unsigned char *start = p, *q;
		int itag, icls;

		/* each element: a universal SEQUENCE, whole */
		q = p;
		if (ASN1_get_object(&q, &elen, &itag, &icls, end - p) & 0x81 ||
		    itag != V_ASN1_SEQUENCE || icls != V_ASN1_UNIVERSAL)
			goto bad;
		ihdr = (long)(q - p);
		if (++n > 2)
			goto bad;
		/* Name when its first element is a SET or it is empty;
		 * GeneralNames when it is context-specific. */
		if (elen == 0 || q[0] == 0x31) {
			if (*subject != NULL || *sans != NULL)
				goto bad;
			*subject = d2i_X509_NAME(NULL, &p, ihdr + elen);
			if (*subject == NULL)
				goto bad;
		} else if ((q[0] & 0xc0) == 0x80) {
			if (*sans != NULL)
				goto bad;
			*sans = d2i_GENERAL_NAMES(NULL, &p, ihdr + elen);
			if (*sans == NULL)
				goto bad;
		} else {
			goto bad;
		}
		if (p != start + ihdr + elen)
			goto bad;
	}
	if (*subject == NULL && *sans == NULL)
		goto bad;
	return 0;
bad:
	X509_NAME_free(*subject);
	GENERAL_NAMES_free(*sans);
	*subject = NULL;
	*sans = NULL;
	ERR_clear_error();
	say(why, whylen, "ChangeSubjectName does not decode");
	return ESTCA_ERR_MALFORMED;
}

/* The ChangeSubjectName attribute into c->csn, c->csn_subject, c->csn_sans. */
static int
get_csn(struct estca_csr *c, char *why, size_t whylen)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(ESTCA_OID_CHANGE_SUBJECT_NAME, 1);
	X509_ATTRIBUTE *at;
	const ASN1_TYPE *t;
	int idx;

	if (obj == NULL)
		return ESTCA_ERR_NOMEM;
	idx = X509at_get_attr_by_OBJ(c->req->info->attributes, obj, -1);
	if (idx >= 0 &&
	    X509at_get_attr_by_OBJ(c->req->info->attributes, obj, idx) >= 0) {
		ASN1_OBJECT_free(obj);
		say(why, whylen, "more than one ChangeSubjectName attribute");
		return ESTCA_ERR_MALFORMED;
	}
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return 0;
	at = X509at_get_attr(c->req->info->attributes, idx);
	if (X509_ATTRIBUTE_count(at) != 1 ||
	    (t = X509_ATTRIBUTE_get0_type(at, 0)) == NULL ||
	    t->type != V_ASN1_SEQUENCE) {
		say(why, whylen, "ChangeSubjectName must have exactly one value, "
		    "a SEQUENCE");
		return ESTCA_ERR_MALFORMED;
	}
	c->csn = true;
	return estca_csn_decode(ASN1_STRING_get0_data(t->value.sequence),
	    (size_t)ASN1_STRING_length(t->value.sequence), &c->csn_subject,
	    &c->csn_sans, why, whylen);
}

/* params into a public key of type name; NULL when they do not import. */
static EVP_PKEY *
key_fromdata(const char *name, OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, name, NULL);
	EVP_PKEY *k = NULL;

	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &k, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* A named-curve EC key: an uncompressed point of the curve's size (the
 * import checks that it is on the curve); NULL for anything else. */
static EVP_PKEY *
ec_key(const ASN1_OBJECT *curve, const unsigned char *pub, size_t len)
{
	static const struct {
		int nid;
		const char *name;
		size_t field;
	} groups[] = {
		{ NID_X9_62_prime256v1, "prime256v1", 32 },
		{ NID_secp384r1, "secp384r1", 48 },
		{ NID_secp521r1, "secp521r1", 66 },
	};
	int nid = OBJ_obj2nid(curve);

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		OSSL_PARAM params[3];

		if (groups[i].nid != nid)
			continue;
		if (len != 1 + 2 * groups[i].field || pub[0] != 0x04)
			return NULL;
		params[0] = OSSL_PARAM_construct_utf8_string(
		    OSSL_PKEY_PARAM_GROUP_NAME, (char *)groups[i].name, 0);
		params[1] = OSSL_PARAM_construct_octet_string(
		    OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, len);
		params[2] = OSSL_PARAM_construct_end();
		return key_fromdata("EC", params);
	}
	return NULL;
}

/* An RSA key: exactly one RSAPublicKey, modulus and exponent above zero;
 * NULL for anything else. */
static EVP_PKEY *
rsa_key(const unsigned char *pub, size_t len)
{
	const unsigned char *p = pub;
	CSR_RSA_PUB *rp = (CSR_RSA_PUB *)ASN1_item_d2i(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(CSR_RSA_PUB));
	BIGNUM *n = NULL, *e = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY *k = NULL;

	if (rp != NULL && p == pub + len &&
	    (n = ASN1_INTEGER_to_BN(rp->n, NULL)) != NULL &&
	    (e = ASN1_INTEGER_to_BN(rp->e, NULL)) != NULL &&
	    !BN_is_negative(n) && !BN_is_zero(n) &&
	    !BN_is_negative(e) && !BN_is_zero(e) &&
	    (bld = OSSL_PARAM_BLD_new()) != NULL &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) &&
	    (params = OSSL_PARAM_BLD_to_param(bld)) != NULL)
		k = key_fromdata("RSA", params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	ASN1_item_free((ASN1_VALUE *)rp, ASN1_ITEM_rptr(CSR_RSA_PUB));
	return k;
}

/* The fields of s as an X509_PUBKEY that encodes to the same bytes (its
 * key is not decoded: the caller has it); NULL when out of memory. */
static X509_PUBKEY *
spki_fields(const CSR_SPKI *s, int ptype, const void *pval)
{
	const ASN1_OBJECT *aobj;
	X509_PUBKEY *pk = X509_PUBKEY_new();
	ASN1_OBJECT *a = NULL, *v = NULL;
	unsigned char *bits = NULL;
	int len = ASN1_STRING_length(s->key);

	X509_ALGOR_get0(&aobj, NULL, NULL, s->alg);
	if (pk == NULL || (a = OBJ_dup(aobj)) == NULL ||
	    (ptype == V_ASN1_OBJECT && (v = OBJ_dup(pval)) == NULL) ||
	    (bits = OPENSSL_memdup(ASN1_STRING_get0_data(s->key), (size_t)len)) == NULL ||
	    !X509_PUBKEY_set0_param(pk, a, ptype, v, bits, len)) {
		X509_PUBKEY_free(pk);
		ASN1_OBJECT_free(a);
		ASN1_OBJECT_free(v);
		OPENSSL_free(bits);
		return NULL;
	}
	return pk;
}

/*
 * The request's public key (*key) and its SubjectPublicKeyInfo as an
 * X509_PUBKEY for those who encode it (*pub).  Named-curve EC keys (as
 * an uncompressed point) and RSA keys (NULL parameters) are made from
 * their fields; any other key, or another form of these, goes through
 * OpenSSL's decoders on the bytes as received, which is what the
 * X509_REQ d2i would have done.  0; ESTCA_ERR_MALFORMED when there is no
 * usable key; ESTCA_ERR_NOMEM.
 */
static int
csr_key(CSR_SPKI *s, EVP_PKEY **key, X509_PUBKEY **pub)
{
	const ASN1_OBJECT *aobj;
	const void *pval;
	const unsigned char *bits = ASN1_STRING_get0_data(s->key), *p;
	unsigned char *der = NULL;
	int ptype, nid, len = ASN1_STRING_length(s->key), n;

	*key = NULL;
	*pub = NULL;
	X509_ALGOR_get0(&aobj, &ptype, &pval, s->alg);
	nid = OBJ_obj2nid(aobj);
	/* whole octets only: a BIT STRING with unused bits takes the long way */
	if (len > 0 && (s->key->flags & 0x07) == 0) {
		if (nid == NID_X9_62_id_ecPublicKey && ptype == V_ASN1_OBJECT)
			*key = ec_key(pval, bits, (size_t)len);
		else if (nid == NID_rsaEncryption && ptype == V_ASN1_NULL)
			*key = rsa_key(bits, (size_t)len);
	}
	if (*key != NULL) {
		if ((*pub = spki_fields(s, ptype, pval)) == NULL) {
			EVP_PKEY_free(*key);
			*key = NULL;
			return ESTCA_ERR_NOMEM;
		}
		return 0;
	}
	ERR_clear_error();
	if ((n = ASN1_item_i2d((ASN1_VALUE *)s, &der, ASN1_ITEM_rptr(CSR_SPKI))) <= 0)
		return ESTCA_ERR_NOMEM;
	p = der;
	*pub = d2i_X509_PUBKEY(NULL, &p, n);
	OPENSSL_free(der);
	if (*pub == NULL || (*key = X509_PUBKEY_get0(*pub)) == NULL ||
	    !EVP_PKEY_up_ref(*key)) {
		X509_PUBKEY_free(*pub);
		*pub = NULL;
		*key = NULL;
		return ESTCA_ERR_MALFORMED;
	}
	return 0;
}

/*
 * The requested extensions (PKCS#9 extensionRequest, or Microsoft's),
 * found as X509_REQ_get_extensions finds them; NULL when there are none
 * or they do not decode (the caller treats both as "no extensions").
 */
static STACK_OF(X509_EXTENSION) *
csr_extensions(const STACK_OF(X509_ATTRIBUTE) *attrs)
{
	static const int nids[] = { NID_ext_req, NID_ms_ext_req };
	const ASN1_TYPE *ext = NULL;
	const unsigned char *p;

	for (size_t i = 0; i < sizeof(nids) / sizeof(nids[0]); i++) {
		int idx = X509at_get_attr_by_NID(attrs, nids[i], -1);

		if (idx < 0)
			continue;
		ext = X509_ATTRIBUTE_get0_type(X509at_get_attr(attrs, idx), 0);
		break;
	}
	if (ext == NULL || ext->type != V_ASN1_SEQUENCE)
		return NULL;
	p = ext->value.sequence->data;
	return (STACK_OF(X509_EXTENSION) *)ASN1_item_d2i(NULL, &p,
	    ext->value.sequence->length, ASN1_ITEM_rptr(X509_EXTENSIONS));
}

int
estca_csr_decode(const unsigned char *body, size_t len, struct estca_csr *c,
    char *why, size_t whylen)
{
	struct estca_buf der;
	STACK_OF(X509_EXTENSION) *exts;
	const unsigned char *p;
	int crit = -1, r;

	memset(c, 0, sizeof(*c));
	say(why, whylen, "");
	estca_buf_init(&der, len, true);
	if (len >= 2 && body[0] == 0x30 && body[1] >= 0x81 && body[1] <= 0x84) {
		r = estca_buf_add(&der, body, len);
	} else {
		r = estca_base64_decode(body, len, &der);
		if (r == ESTCA_ERR_MALFORMED)
			say(why, whylen, "body is neither base64 nor DER");
	}
	if (r != 0)
		goto fail;
	if (der.len == 0 || der.len > 0x7fffffff) {
		say(why, whylen, "empty request");
		r = ESTCA_ERR_MALFORMED;
		goto fail;
	}
	p = der.data;
	c->req = (CSR_REQ *)ASN1_item_d2i(NULL, &p, (long)der.len,
	    ASN1_ITEM_rptr(CSR_REQ));
	if (c->req == NULL || p != der.data + der.len) {
		say(why, whylen, c->req == NULL ? "body is not a PKCS#10 request" :
		    "bytes after the PKCS#10 request");
		r = ESTCA_ERR_MALFORMED;
		goto fail;
	}
	if ((r = csr_key(c->req->info->spki, &c->key, &c->spki)) != 0) {
		if (r == ESTCA_ERR_MALFORMED)
			say(why, whylen, "request public key unusable");
		goto fail;
	}
	/* as X509_REQ_verify: over the request info as received */
	if (ASN1_item_verify_ex(ASN1_ITEM_rptr(CSR_INFO), c->req->sig_alg,
	    c->req->signature, c->req->info, NULL, c->key, NULL, NULL) != 1) {
		say(why, whylen, "request signature does not verify");
		r = ESTCA_ERR_MALFORMED;
		goto fail;
	}
	c->subject = c->req->info->subject;
	exts = csr_extensions(c->req->info->attributes);
	if (exts != NULL) {
		c->sans = X509V3_get_d2i(exts, NID_subject_alt_name, &crit, NULL);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
		if (c->sans == NULL && crit != -1) {
			say(why, whylen, crit == -2 ?
			    "more than one subjectAltName extension" :
			    "subjectAltName does not decode");
			r = ESTCA_ERR_MALFORMED;
			goto fail;
		}
	}
	if ((r = get_challenge(c, why, whylen)) != 0 ||
	    (r = get_csn(c, why, whylen)) != 0)
		goto fail;
	estca_buf_free(&der);
	ERR_clear_error();
	return 0;
fail:
	estca_buf_free(&der);
	estca_csr_free(c);
	ERR_clear_error();
	if (r == ESTCA_ERR_NOMEM)
		say(why, whylen, "out of memory");
	return r;
}

void
estca_csr_free(struct estca_csr *c)
{
	if (c->challenge != NULL)
		OPENSSL_clear_free(c->challenge, strlen(c->challenge) + 1);
	GENERAL_NAMES_free(c->sans);
	X509_NAME_free(c->csn_subject);
	GENERAL_NAMES_free(c->csn_sans);
	/* The request's own copy of the attribute (and its cached
	 * encoding) is wiped by the worker's allocator (main.c). */
	ASN1_item_free((ASN1_VALUE *)c->req, ASN1_ITEM_rptr(CSR_REQ));
	X509_PUBKEY_free(c->spki);
	EVP_PKEY_free(c->key);
	memset(c, 0, sizeof(*c));
}

int
estca_csr_der(const struct estca_csr *c, unsigned char **der)
{
	*der = NULL;
	return c->req != NULL ? ASN1_item_i2d((const ASN1_VALUE *)c->req, der,
	    ASN1_ITEM_rptr(CSR_REQ)) : -1;
}
