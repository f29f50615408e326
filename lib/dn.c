/*
 * dn.c - see dn.h.  Owns the one RFC 4514 parser: estca_dn_match (RFC 4514
 * text against a subject) and estca_dn_build (the subject RFC 4514 text
 * names), for the web tier's registered subjects and estca-ca's
 * --subject.
 * Must never do I/O; must never fold case where identity is decided.
 */
#include <stdbool.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/objects.h>
#include "dn.h"
#include "str.h"

#define DN_MAX_AVAS 64
#define DN_VALUE_MAX 1024
#define DN_TYPE_MAX 64

struct ava {
	int rdn;                              /* index in the string's order */
	char type[DN_TYPE_MAX];
	unsigned char value[DN_VALUE_MAX];
	size_t len;
};

/*
 * Parse RFC 4514 text into avas (string order).  Blanks around ',', '+'
 * and '=' are ignored; a value's own leading or trailing blank must be
 * escaped.  Hex ('#') and quoted values are refused.
 */
static int
parse_dn(const char *s, struct ava *avas, size_t *navas)
{
	size_t n = 0;
	int rdn = 0;

	*navas = 0;
	while (*s == ' ')
		s++;
	if (*s == 0)
		return 0;
	for (;;) {
		struct ava *a;
		size_t t = 0, keep = 0;

		if (n == DN_MAX_AVAS)
			return ESTCA_ERR_MALFORMED;
		a = &avas[n];
		a->rdn = rdn;
		a->len = 0;
		while (*s == ' ')
			s++;
		while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '-') {
			if (t + 1 >= sizeof(a->type))
				return ESTCA_ERR_MALFORMED;
			a->type[t++] = *s++;
		}
		a->type[t] = 0;
		while (*s == ' ')
			s++;
		if (t == 0 || *s != '=')
			return ESTCA_ERR_MALFORMED;
		s++;
		while (*s == ' ')
			s++;
		if (*s == '#' || *s == '"')
			return ESTCA_ERR_MALFORMED;
		while (*s != 0 && *s != ',' && *s != '+') {
			unsigned char c = (unsigned char)*s;
			int escaped = 0;

			if (c == ';' || c == '"' || c == '<' || c == '>')
				return ESTCA_ERR_MALFORMED;
			if (c == '\\') {
				int hi, lo;

				s++;
				if (*s != 0 && strchr(" \"#+,;<=>\\", *s) != NULL) {
					c = (unsigned char)*s++;
				} else if ((hi = estca_hexval(s[0])) >= 0 &&
				    (lo = estca_hexval(s[1])) >= 0) {
					c = (unsigned char)(hi << 4 | lo);
					s += 2;
				} else {
					return ESTCA_ERR_MALFORMED;
				}
				escaped = 1;
			} else {
				s++;
			}
			if (a->len >= sizeof(a->value))
				return ESTCA_ERR_MALFORMED;
			a->value[a->len++] = c;
			if (c != ' ' || escaped)
				keep = a->len;
		}
		a->len = keep;     /* unescaped trailing blanks are not value */
		if (memchr(a->value, 0, a->len) != NULL)
			return ESTCA_ERR_MALFORMED;
		n++;
		if (*s == 0)
			break;
		if (*s == ',')
			rdn++;
		s++;
	}
	*navas = n;
	return 0;
}

/* Equality of the entry e and the parsed ava a (type by OID, value as
 * UTF-8 bytes). */
static int
ava_eq(const X509_NAME_ENTRY *e, const struct ava *a)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(a->type, 0);
	unsigned char *u = NULL;
	int len, eq = 0;

	if (obj == NULL)
		return ESTCA_ERR_MALFORMED;
	if (OBJ_cmp(obj, X509_NAME_ENTRY_get_object(e)) == 0) {
		len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
		eq = len >= 0 && (size_t)len == a->len &&
		    memcmp(u, a->value, a->len) == 0;
		OPENSSL_free(u);
	}
	ASN1_OBJECT_free(obj);
	return eq;
}

int
estca_dn_match(const X509_NAME *name, const char *dn)
{
	struct ava *avas;
	size_t n, k = 0;
	int cnt = X509_NAME_entry_count(name), r, last_rdn;

	if ((avas = OPENSSL_malloc(DN_MAX_AVAS * sizeof(*avas))) == NULL)
		return ESTCA_ERR_NOMEM;
	if ((r = parse_dn(dn, avas, &n)) != 0)
		goto out;
	/* Every type must be known even if the names differ in length, so a
	 * bad registration shows up on the first request. */
	for (size_t i = 0; i < n; i++) {
		ASN1_OBJECT *o = OBJ_txt2obj(avas[i].type, 0);

		if (o == NULL) {
			r = ESTCA_ERR_MALFORMED;
			goto out;
		}
		ASN1_OBJECT_free(o);
	}
	r = 0;
	if (cnt < 0 || (size_t)cnt != n)
		goto out;
	/*
	 * The string lists the last RDN first: walk its RDNs backwards, next
	 * to the entries in encoding order.  Within one RDN (a SET) the AVAs
	 * may be written in any order (RFC 4514 2.2; OpenSSL, and so
	 * estca_name_text, prints them reversed): each must equal a different
	 * entry of that same RDN.
	 */
	last_rdn = n > 0 ? avas[n - 1].rdn : 0;
	for (int rdn = last_rdn; rdn >= 0; rdn--) {
		unsigned char used[DN_MAX_AVAS] = { 0 };
		size_t m = 0;

		for (size_t i = 0; i < n; i++)
			m += avas[i].rdn == rdn;
		/* same grouping: entries k..k+m-1 are one whole RDN */
		for (size_t j = 0; j < m; j++) {
			if (k + j > 0 && (X509_NAME_ENTRY_set(X509_NAME_get_entry(
			    name, (int)(k + j))) == X509_NAME_ENTRY_set(
			    X509_NAME_get_entry(name, (int)(k + j - 1)))) != (j > 0))
				goto out;
		}
		for (size_t i = 0; i < n; i++) {
			size_t j;
			int eq = 0;

			if (avas[i].rdn != rdn)
				continue;
			for (j = 0; j < m; j++) {
				if (used[j])
					continue;
				eq = ava_eq(X509_NAME_get_entry(name, (int)(k + j)),
				    &avas[i]);
				if (eq != 0)
					break;
			}
			if (eq != 1) {
				r = eq < 0 ? eq : 0;
				goto out;
			}
			used[j] = 1;
		}
		k += m;
	}
	r = 1;
out:
	OPENSSL_clear_free(avas, DN_MAX_AVAS * sizeof(*avas));
	return r;
}

int
estca_dn_build(const char *dn, X509_NAME **out)
{
	struct ava *avas;
	X509_NAME *name = NULL;
	size_t n;
	int r, last_rdn;

	*out = NULL;
	if ((avas = OPENSSL_malloc(DN_MAX_AVAS * sizeof(*avas))) == NULL)
		return ESTCA_ERR_NOMEM;
	if ((r = parse_dn(dn, avas, &n)) != 0)
		goto out;
	if ((name = X509_NAME_new()) == NULL) {
		r = ESTCA_ERR_NOMEM;
		goto out;
	}
	/* As estca_dn_match walks: RDNs backwards, AVAs of each forwards. */
	last_rdn = n > 0 ? avas[n - 1].rdn : 0;
	for (int rdn = last_rdn; rdn >= 0 && n > 0; rdn--) {
		bool first = true;

		for (size_t i = 0; i < n; i++) {
			ASN1_OBJECT *obj;
			int ok;

			if (avas[i].rdn != rdn)
				continue;
			if ((obj = OBJ_txt2obj(avas[i].type, 0)) == NULL) {
				r = ESTCA_ERR_MALFORMED;
				goto out;
			}
			/* set 0: a new RDN; -1: into the RDN added last */
			ok = X509_NAME_add_entry_by_OBJ(name, obj, MBSTRING_UTF8,
			    avas[i].value, (int)avas[i].len, -1, first ? 0 : -1);
			ASN1_OBJECT_free(obj);
			if (!ok) {
				/* e.g. a value too long for its type */
				r = ESTCA_ERR_MALFORMED;
				goto out;
			}
			first = false;
		}
	}
	if (estca_dn_match(name, dn) != 1) {
		r = ESTCA_ERR_INTERNAL;
		goto out;
	}
	*out = name;
	name = NULL;
	r = 0;
out:
	X509_NAME_free(name);
	OPENSSL_clear_free(avas, DN_MAX_AVAS * sizeof(*avas));
	return r;
}
