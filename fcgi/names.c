/*
 * names.c - see names.h.  Owns how a subject and its SANs are read,
 * printed and compared: estca_name_* and estca_san_* (a SAN against a
 * registered one).  RFC 4514 text against a subject is lib/dn.c's.
 * Decides nothing (policy.c does) and must never do I/O; must never fold
 * case or spaces where identity is decided (estca_name_der_eq).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include "names.h"
#include "str.h"

#define DN_TYPE_MAX 64

static unsigned char
lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* ASCII case-insensitive equality of two byte strings. */
static int
caseeq(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
	if (an != bn)
		return 0;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

static int
streq_nocase(const char *a, const char *b)
{
	return caseeq((const unsigned char *)a, strlen(a),
	    (const unsigned char *)b, strlen(b));
}

/* ---- names ----------------------------------------------------------- */

/* The attribute type named field, or NULL (caller frees). */
static ASN1_OBJECT *
field_obj(const char *field)
{
	if (field == NULL || field[0] == 0 || strlen(field) >= DN_TYPE_MAX)
		return NULL;
	return OBJ_txt2obj(field, 0);
}

int
estca_name_field(const X509_NAME *name, const char *field, char *dst,
    size_t dstlen)
{
	ASN1_OBJECT *obj;
	const X509_NAME_ENTRY *e;
	unsigned char *u = NULL;
	int idx, len, r;

	if (dstlen > 0)
		dst[0] = 0;
	if ((obj = field_obj(field)) == NULL)
		return ESTCA_ERR_CONFIG;
	idx = X509_NAME_get_index_by_OBJ(name, obj, -1);
	if (idx < 0) {
		r = ESTCA_ERR_NOT_FOUND;
	} else if (X509_NAME_get_index_by_OBJ(name, obj, idx) >= 0) {
		r = ESTCA_ERR_REFUSED;
	} else {
		e = X509_NAME_get_entry(name, idx);
		len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
		if (len <= 0 || (size_t)len >= dstlen ||
		    memchr(u, 0, (size_t)len) != NULL) {
			r = ESTCA_ERR_REFUSED;
		} else {
			memcpy(dst, u, (size_t)len);
			dst[len] = 0;
			r = 0;
		}
		if (u != NULL)
			OPENSSL_clear_free(u, len > 0 ? (size_t)len : 0);
	}
	ASN1_OBJECT_free(obj);
	if (r != 0 && dstlen > 0)
		OPENSSL_cleanse(dst, dstlen);
	return r;
}

int
estca_name_without(const X509_NAME *name, const char *field, X509_NAME **out)
{
	ASN1_OBJECT *obj;
	X509_NAME *n;
	int idx;

	*out = NULL;
	if ((obj = field_obj(field)) == NULL)
		return ESTCA_ERR_CONFIG;
	if ((n = X509_NAME_dup(name)) == NULL) {
		ASN1_OBJECT_free(obj);
		return ESTCA_ERR_NOMEM;
	}
	idx = X509_NAME_get_index_by_OBJ(n, obj, -1);
	if (idx < 0 || X509_NAME_get_index_by_OBJ(n, obj, idx) >= 0) {
		ASN1_OBJECT_free(obj);
		X509_NAME_free(n);
		return ESTCA_ERR_REFUSED;
	}
	ASN1_OBJECT_free(obj);
	X509_NAME_ENTRY_free(X509_NAME_delete_entry(n, idx));
	*out = n;
	return 0;
}

int
estca_name_text(const X509_NAME *name, char *dst, size_t dstlen)
{
	BIO *b;
	char *p;
	long n;
	int r = 0;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return ESTCA_ERR_NOMEM;
	/* RFC 4514 order and escaping; UTF-8 left as it is. */
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 &
	    ~ASN1_STRFLGS_ESC_MSB) < 0) {
		BIO_free(b);
		return ESTCA_ERR_INTERNAL;
	}
	n = BIO_get_mem_data(b, &p);
	if (n < 0 || (size_t)n >= dstlen)
		r = ESTCA_ERR_TOO_LARGE;
	else {
		/* an empty name prints nothing, and p may then be NULL */
		if (n > 0)
			memcpy(dst, p, (size_t)n);
		dst[n] = 0;
	}
	BIO_free(b);
	return r;
}

int
estca_name_der_eq(const X509_NAME *a, const X509_NAME *b)
{
	unsigned char *da = NULL, *db = NULL;
	int la, lb, eq;

	la = i2d_X509_NAME(a, &da);
	lb = i2d_X509_NAME(b, &db);
	if (la < 0 || lb < 0)
		eq = ESTCA_ERR_INTERNAL;
	else
		eq = la == lb && memcmp(da, db, (size_t)la) == 0;
	OPENSSL_free(da);
	OPENSSL_free(db);
	return eq;
}

/* ---- subjectAltNames ----------------------------------------------- */

int
estca_san_match(const GENERAL_NAME *gn, const char *reg)
{
	const char *colon = strchr(reg, ':');
	char prefix[8];
	const char *v;
	const unsigned char *d;
	size_t plen, vlen, dlen;
	unsigned char ip[16];

	if (colon == NULL || (plen = (size_t)(colon - reg)) >= sizeof(prefix))
		return 0;
	memcpy(prefix, reg, plen);
	prefix[plen] = 0;
	v = colon + 1;
	vlen = strlen(v);
	switch (gn->type) {
	case GEN_DNS:
		if (!streq_nocase(prefix, "DNS"))
			return 0;
		d = ASN1_STRING_get0_data(gn->d.dNSName);
		dlen = (size_t)ASN1_STRING_length(gn->d.dNSName);
		return caseeq(d, dlen, (const unsigned char *)v, vlen);
	case GEN_IPADD:
		if (!streq_nocase(prefix, "IP"))
			return 0;
		d = ASN1_STRING_get0_data(gn->d.iPAddress);
		dlen = (size_t)ASN1_STRING_length(gn->d.iPAddress);
		if (dlen == 4 && inet_pton(AF_INET, v, ip) == 1)
			return memcmp(d, ip, 4) == 0;
		if (dlen == 16 && inet_pton(AF_INET6, v, ip) == 1)
			return memcmp(d, ip, 16) == 0;
		return 0;
	case GEN_EMAIL: {
		const unsigned char *at_d, *at_v;
		size_t ld, lv;

		if (!streq_nocase(prefix, "email"))
			return 0;
		d = ASN1_STRING_get0_data(gn->d.rfc822Name);
		dlen = (size_t)ASN1_STRING_length(gn->d.rfc822Name);
		/* local part exactly, domain ignoring case */
		at_d = NULL;
		for (size_t i = 0; i < dlen; i++)
			if (d[i] == '@')
				at_d = d + i;
		at_v = (const unsigned char *)strrchr(v, '@');
		if (at_d == NULL || at_v == NULL)
			return dlen == vlen && memcmp(d, v, vlen) == 0;
		ld = (size_t)(at_d - d);
		lv = (size_t)(at_v - (const unsigned char *)v);
		return ld == lv && memcmp(d, v, ld) == 0 &&
		    caseeq(at_d, dlen - ld, at_v, vlen - lv);
	}
	case GEN_URI:
		if (!streq_nocase(prefix, "URI"))
			return 0;
		d = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		dlen = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		return dlen == vlen && memcmp(d, v, vlen) == 0;
	default:
		return 0;
	}
}

void
estca_san_text(const GENERAL_NAME *gn, char *dst, size_t dstlen)
{
	const ASN1_STRING *s = NULL;
	const char *prefix = NULL;
	char buf[300];
	size_t o;

	switch (gn->type) {
	case GEN_DNS:
		prefix = "DNS:";
		s = gn->d.dNSName;
		break;
	case GEN_EMAIL:
		prefix = "email:";
		s = gn->d.rfc822Name;
		break;
	case GEN_URI:
		prefix = "URI:";
		s = gn->d.uniformResourceIdentifier;
		break;
	case GEN_IPADD: {
		char a[INET6_ADDRSTRLEN];
		int len = ASN1_STRING_length(gn->d.iPAddress);
		const unsigned char *p = ASN1_STRING_get0_data(gn->d.iPAddress);

		if ((len == 4 && inet_ntop(AF_INET, p, a, sizeof(a)) != NULL) ||
		    (len == 16 && inet_ntop(AF_INET6, p, a, sizeof(a)) != NULL))
			snprintf(dst, dstlen, "IP:%s", a);
		else
			snprintf(dst, dstlen, "IP:(%d bytes)", len);
		return;
	}
	case GEN_OTHERNAME:
		snprintf(dst, dstlen, "otherName");
		return;
	case GEN_DIRNAME:
		snprintf(dst, dstlen, "dirName");
		return;
	case GEN_RID:
		snprintf(dst, dstlen, "registeredID");
		return;
	default:
		snprintf(dst, dstlen, "SAN type %d", gn->type);
		return;
	}
	o = strlen(prefix);
	memcpy(buf, prefix, o);
	estca_printable(buf + o, sizeof(buf) - o, ASN1_STRING_get0_data(s),
	    (size_t)ASN1_STRING_length(s));
	snprintf(dst, dstlen, "%s", buf);
}
