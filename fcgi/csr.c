/*
 * csr.c - see csr.h.  The first code to look at the bytes of an
 * enrollment request: decodes with OpenSSL's d2i only, never by hand
 * beyond base64, and never keeps the challengePassword anywhere but the
 * one wiped buffer it returns.
 */
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include "b64.h"
#include "csr.h"

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

	idx = X509_REQ_get_attr_by_NID(c->req, NID_pkcs9_challengePassword, -1);
	if (idx < 0)
		return 0;
	if (X509_REQ_get_attr_by_NID(c->req, NID_pkcs9_challengePassword, idx) >= 0) {
		say(why, whylen, "more than one challengePassword attribute");
		return ESTCA_ERR_MALFORMED;
	}
	at = X509_REQ_get_attr(c->req, idx);
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
	idx = X509_REQ_get_attr_by_OBJ(c->req, obj, -1);
	if (idx >= 0 && X509_REQ_get_attr_by_OBJ(c->req, obj, idx) >= 0) {
		ASN1_OBJECT_free(obj);
		say(why, whylen, "more than one ChangeSubjectName attribute");
		return ESTCA_ERR_MALFORMED;
	}
	ASN1_OBJECT_free(obj);
	if (idx < 0)
		return 0;
	at = X509_REQ_get_attr(c->req, idx);
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

int
estca_csr_decode(const unsigned char *body, size_t len, struct estca_csr *c,
    char *why, size_t whylen)
{
	struct estca_buf der;
	STACK_OF(X509_EXTENSION) *exts;
	const unsigned char *p;
	EVP_PKEY *pk;
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
	c->req = d2i_X509_REQ(NULL, &p, (long)der.len);
	if (c->req == NULL || p != der.data + der.len) {
		say(why, whylen, c->req == NULL ? "body is not a PKCS#10 request" :
		    "bytes after the PKCS#10 request");
		r = ESTCA_ERR_MALFORMED;
		goto fail;
	}
	if ((pk = X509_REQ_get0_pubkey(c->req)) == NULL) {
		say(why, whylen, "request public key unusable");
		r = ESTCA_ERR_MALFORMED;
		goto fail;
	}
	if (X509_REQ_verify(c->req, pk) != 1) {
		say(why, whylen, "request signature does not verify");
		r = ESTCA_ERR_MALFORMED;
		goto fail;
	}
	c->subject = X509_REQ_get_subject_name(c->req);
	c->spki = X509_REQ_get_X509_PUBKEY(c->req);
	exts = X509_REQ_get_extensions(c->req);
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
	X509_REQ_free(c->req);
	memset(c, 0, sizeof(*c));
}
