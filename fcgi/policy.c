/*
 * policy.c - see policy.h.  Owns the meaning of "the request matches what
 * the end entity is registered for" and the order in which enrollment
 * checks are made.  Must never do I/O or see an enrollment code: it only
 * learns whether the code was right.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include "policy.h"

#define DN_MAX_AVAS 64
#define DN_VALUE_MAX 1024
#define DN_TYPE_MAX 64

/* Copy [s, s+n) into dst as printable ASCII, '?' for anything else. */
static void
printable(char *dst, size_t dstlen, const unsigned char *s, size_t n)
{
	size_t i;

	if (dstlen == 0)
		return;
	for (i = 0; i < n && i + 1 < dstlen; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	dst[i] = 0;
}

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

static void
decide(struct estca_decision *d, int err, const char *reason,
    const char *audit_fmt, ...) __attribute__((format(printf, 4, 5)));

static void
decide(struct estca_decision *d, int err, const char *reason,
    const char *audit_fmt, ...)
{
	va_list ap;

	d->err = err;
	d->reason = reason;
	va_start(ap, audit_fmt);
	vsnprintf(d->audit, sizeof(d->audit), audit_fmt, ap);
	va_end(ap);
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

struct ava {
	int rdn;                              /* index in the string's order */
	char type[DN_TYPE_MAX];
	unsigned char value[DN_VALUE_MAX];
	size_t len;
};

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

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
				} else if ((hi = hexval(s[0])) >= 0 &&
				    (lo = hexval(s[1])) >= 0) {
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
	 * The string lists the last RDN first; walk its RDNs backwards and
	 * the AVAs of each forwards, next to the entries in encoding order.
	 */
	last_rdn = n > 0 ? avas[n - 1].rdn : 0;
	for (int rdn = last_rdn; rdn >= 0; rdn--) {
		for (size_t i = 0; i < n; i++) {
			const X509_NAME_ENTRY *e;
			int eq;

			if (avas[i].rdn != rdn)
				continue;
			e = X509_NAME_get_entry(name, (int)k);
			/* same grouping: a new RDN here exactly when there */
			if (k > 0) {
				int same_set = X509_NAME_ENTRY_set(e) ==
				    X509_NAME_ENTRY_set(X509_NAME_get_entry(name,
				    (int)k - 1));
				int same_rdn = i > 0 && avas[i - 1].rdn == rdn;

				if (same_set != same_rdn)
					goto out;
			}
			if ((eq = ava_eq(e, &avas[i])) != 1) {
				r = eq < 0 ? eq : 0;
				goto out;
			}
			k++;
		}
	}
	r = 1;
out:
	OPENSSL_clear_free(avas, DN_MAX_AVAS * sizeof(*avas));
	return r;
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
	printable(buf + o, sizeof(buf) - o, ASN1_STRING_get0_data(s),
	    (size_t)ASN1_STRING_length(s));
	snprintf(dst, dstlen, "%s", buf);
}

/* Is every SAN of sans one of reg?  On no, the first stranger in bad. */
static int
sans_subset(const GENERAL_NAMES *sans, const char *const *reg, size_t nreg,
    char *bad, size_t badlen)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		int found = 0;

		for (size_t k = 0; k < nreg && !found; k++)
			found = estca_san_match(gn, reg[k]);
		if (!found) {
			estca_san_text(gn, bad, badlen);
			return 0;
		}
	}
	return 1;
}

/* Does every member of a occur in b (GENERAL_NAME_cmp)? */
static int
sans_within(const GENERAL_NAMES *a, const GENERAL_NAMES *b)
{
	for (int i = 0; i < sk_GENERAL_NAME_num(a); i++) {
		int found = 0;

		for (int k = 0; k < sk_GENERAL_NAME_num(b) && !found; k++)
			found = GENERAL_NAME_cmp(sk_GENERAL_NAME_value(a, i),
			    sk_GENERAL_NAME_value(b, k)) == 0;
		if (!found)
			return 0;
	}
	return 1;
}

/* ---- decisions ---------------------------------------------------- */

int
estca_policy_enroll_mode(const struct estca_alias *a, struct estca_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (estca_policy_code_mode(a) || strcmp(a->enroll_mode, "ra") == 0 ||
	    strcmp(a->enroll_mode, "vendor") == 0)
		return 0;
	decide(d, ESTCA_ERR_UNSUPPORTED, "this alias's enrollment mode is not "
	    "supported", "unknown enrollment mode %s", a->enroll_mode);
	return d->err;
}

bool
estca_policy_code_mode(const struct estca_alias *a)
{
	return strcmp(a->enroll_mode, "challenge_password") == 0 ||
	    strcmp(a->enroll_mode, "dn_part_password") == 0;
}

/* The code steps of estca_policy_enroll: true when d is decided. */
static bool
code_refused(const struct estca_alias *a, const struct estca_ee_facts *ee,
    const struct estca_enroll_facts *f, struct estca_decision *d)
{
	if (!ee->found) {
		decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
		    "unknown end entity");
		return true;
	}
	if (!ee->has_code) {
		decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
		    "end entity has no enrollment code");
		return true;
	}
	if (!f->code_present || !f->code_ok) {
		const char *what = f->code_present ? "wrong enrollment code" :
		    "no enrollment code in the request";

		decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
		    "%s", what);
		/* A locked or disabled entity's counter stays as it is. */
		if (f->code_present && strcmp(ee->status, "active") == 0) {
			int n = ee->failed_attempts + 1;

			d->count_failure = true;
			d->lock = n >= a->max_failed_attempts;
			decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
			    "%s (failed attempt %d of %d%s)", what, n,
			    a->max_failed_attempts, d->lock ?
			    "; end entity now locked" : "");
		} else if (f->code_present) {
			decide(d, ESTCA_ERR_REFUSED, ESTCA_POLICY_BAD_CREDENTIALS,
			    "%s for %s end entity (not counted)", what,
			    ee->status);
		}
		return true;
	}
	return false;
}

void
estca_policy_enroll(const struct estca_alias *a, const struct estca_ee_facts *ee,
    const struct estca_enroll_facts *f, struct estca_decision *d)
{
	bool code = estca_policy_code_mode(a);
	char bad[200];
	int m;

	if (estca_policy_enroll_mode(a, d) != 0)
		return;
	if (code && code_refused(a, ee, f, d))
		return;
	/*
	 * From here on the caller knew the code, or is an authenticated RA
	 * or vendor device: say what is wrong.
	 */
	if (!ee->found) {
		decide(d, ESTCA_ERR_REFUSED, "no such end entity registered "
		    "under this alias", "unknown end entity");
		return;
	}
	if (strcmp(ee->status, "locked") == 0) {
		decide(d, ESTCA_ERR_REFUSED, "end entity locked after too many "
		    "failed attempts; ask the administrator to unlock it",
		    "end entity locked");
		return;
	}
	if (strcmp(ee->status, "active") != 0) {
		decide(d, ESTCA_ERR_REFUSED, "end entity disabled",
		    "end entity %s", ee->status);
		return;
	}
	if (ee->uses_left <= 0) {
		if (code)
			decide(d, ESTCA_ERR_REFUSED, "enrollment code already used",
			    "enrollment code has no uses left");
		else
			decide(d, ESTCA_ERR_REFUSED, "end entity has no "
			    "enrollments left; ask the administrator",
			    "end entity has no uses left");
		return;
	}
	if (ee->subject_dn != NULL) {
		m = estca_dn_match(f->subject, ee->subject_dn);
		if (m < 0) {
			decide(d, ESTCA_ERR_INTERNAL, "end entity registration "
			    "unusable; ask the administrator",
			    "registered subject_dn does not parse (RFC 4514)");
			return;
		}
		if (m == 0) {
			char got[200];

			if (estca_name_text(f->subject, got, sizeof(got)) != 0)
				snprintf(got, sizeof(got), "(too long)");
			decide(d, ESTCA_ERR_REFUSED,
			    "subject does not match the registered subject",
			    "subject mismatch: asked \"%s\"", got);
			return;
		}
	} else if (strcmp(a->enroll_mode, "vendor") == 0) {
		/*
		 * The vendor certificate named the end entity, not the
		 * subject: without a registered subject, the subject must
		 * still name it, or a device could take another's name.
		 */
		char v[ESTCA_DB_USERNAME_MAX + 1];

		if (f->username == NULL ||
		    estca_name_field(f->subject, a->username_dn_field, v,
		    sizeof(v)) != 0 || strcmp(v, f->username) != 0) {
			decide(d, ESTCA_ERR_REFUSED, "subject does not name the "
			    "end entity of the vendor certificate",
			    "subject does not name the end entity (%s)",
			    a->username_dn_field);
			return;
		}
	}
	if (f->sans != NULL && !sans_subset(f->sans, ee->sans, ee->nsans, bad,
	    sizeof(bad))) {
		decide(d, ESTCA_ERR_REFUSED,
		    "subjectAltName not registered for this end entity",
		    "SAN not registered: %s", bad);
		return;
	}
	decide(d, 0, "ok", "enrollment accepted");
}

void
estca_policy_ra(const struct estca_alias *a, const struct estca_ra_facts *f,
    struct estca_decision *d)
{
	memset(d, 0, sizeof(*d));
	(void)a;
	switch (f->how) {
	case ESTCA_RA_NONE:
		decide(d, ESTCA_WEB_ERR_AUTH, "RA credentials required (HTTP "
		    "Basic or an RA client certificate)", "no RA credentials");
		return;
	case ESTCA_RA_BASIC:
		if (f->malformed) {
			decide(d, ESTCA_WEB_ERR_AUTH, "unusable Basic credentials",
			    "RA Basic credentials malformed");
		} else if (!f->known || !f->password_ok) {
			decide(d, ESTCA_WEB_ERR_AUTH, "unknown RA user or wrong "
			    "password", "%s", f->known ? "wrong RA password" :
			    "unknown RA user");
		} else {
			decide(d, 0, "ok", "RA authenticated by password");
		}
		return;
	case ESTCA_RA_CERT:
		if (f->malformed) {
			decide(d, ESTCA_ERR_REFUSED, "client certificate unusable",
			    "RA client certificate does not parse");
		} else if (!f->known) {
			decide(d, ESTCA_ERR_REFUSED, "client certificate is not a "
			    "member of an RA role of this alias",
			    "client certificate of no RA role member");
		} else if (!f->chain_ok) {
			decide(d, ESTCA_ERR_REFUSED, "RA client certificate does "
			    "not verify", "RA client certificate does not verify: %s",
			    f->chain_why != NULL ? f->chain_why : "?");
		} else if (f->revoked) {
			decide(d, ESTCA_ERR_REFUSED, "RA client certificate revoked",
			    "RA client certificate revoked");
		} else {
			decide(d, 0, "ok", "RA authenticated by certificate");
		}
		return;
	}
	decide(d, ESTCA_ERR_INTERNAL, NULL, "RA facts unset");
}

void
estca_policy_vendor(const struct estca_alias *a,
    const struct estca_vendor_facts *f, struct estca_decision *d)
{
	memset(d, 0, sizeof(*d));
	if (!f->cert_present) {
		decide(d, ESTCA_ERR_REFUSED, "vendor mode needs the vendor "
		    "certificate as TLS client certificate", "no client certificate");
		return;
	}
	if (f->cert_malformed) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "vendor certificate does not parse");
		return;
	}
	if (!f->chain_ok) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate does not chain "
		    "to a vendor CA of this alias",
		    "vendor certificate does not verify: %s",
		    f->chain_why != NULL ? f->chain_why : "?");
		return;
	}
	if (f->revoked) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate revoked",
		    "vendor certificate revoked");
		return;
	}
	if (f->username_r == ESTCA_ERR_CONFIG) {
		decide(d, ESTCA_ERR_CONFIG, NULL, "alias misconfigured: unknown "
		    "username_dn_field %s", a->username_dn_field);
		return;
	}
	if (f->username_r != 0) {
		decide(d, ESTCA_ERR_REFUSED, "the vendor certificate's subject "
		    "does not name an end entity",
		    "vendor certificate has no single usable %s",
		    a->username_dn_field);
		return;
	}
	if (f->csn && !a->change_subject_name) {
		decide(d, ESTCA_ERR_REFUSED, "ChangeSubjectName is not allowed "
		    "for this alias", "ChangeSubjectName refused by the alias");
		return;
	}
	if (f->csn && !f->csn_subject) {
		decide(d, ESTCA_ERR_REFUSED, "ChangeSubjectName must carry a "
		    "subject", "ChangeSubjectName without a subject");
		return;
	}
	decide(d, 0, "ok", "vendor certificate accepted");
}

const X509_NAME *
estca_vendor_subject(const X509_NAME *csr_subject, const X509_NAME *csn_subject,
    const X509_NAME *vendor_subject)
{
	if (csn_subject != NULL)
		return csn_subject;
	if (X509_NAME_entry_count(csr_subject) > 0)
		return csr_subject;
	return vendor_subject;
}

void
estca_policy_renew(const struct estca_alias *a, const struct estca_renew_facts *f,
    struct estca_decision *d)
{
	GENERAL_NAMES *old;
	int crit = -1, same;
	bool keep_name;

	memset(d, 0, sizeof(*d));
	if (f->csn) {
		decide(d, ESTCA_ERR_REFUSED, "ChangeSubjectName is not allowed "
		    "on renewal", "renewal with ChangeSubjectName refused");
		return;
	}
	if (!f->chain_ok) {
		decide(d, ESTCA_ERR_REFUSED,
		    "client certificate not issued by this alias's CA",
		    "client certificate does not verify: %s",
		    f->chain_why != NULL ? f->chain_why : "?");
		return;
	}
	if (!f->known) {
		decide(d, ESTCA_ERR_REFUSED,
		    "client certificate not issued through EST by this CA",
		    "client certificate not in est.certificate");
		return;
	}
	if (!f->same_alias) {
		decide(d, ESTCA_ERR_REFUSED,
		    "client certificate was issued under another alias",
		    "client certificate of another alias");
		return;
	}
	if (f->revoked) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate revoked",
		    "client certificate revoked");
		return;
	}
	if (f->expired) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate expired",
		    "client certificate expired");
		return;
	}
	if (f->ee_status == NULL) {
		decide(d, ESTCA_ERR_REFUSED, "end entity no longer registered",
		    "client certificate has no end entity (deleted)");
		return;
	}
	if (strcmp(f->ee_status, "disabled") == 0) {
		decide(d, ESTCA_ERR_REFUSED, "end entity disabled",
		    "end entity disabled");
		return;
	}
	/* An empty subject asks for the certificate's own name. */
	keep_name = X509_NAME_entry_count(f->subject) == 0;
	if (!keep_name && (same = estca_name_der_eq(X509_get_subject_name(f->cert),
	    f->subject)) != 1) {
		if (same < 0)
			decide(d, ESTCA_ERR_INTERNAL, NULL, "subject does not encode");
		else
			decide(d, ESTCA_ERR_REFUSED,
			    "request subject differs from the client certificate's",
			    "renewal subject mismatch");
		return;
	}
	old = X509_get_ext_d2i(f->cert, NID_subject_alt_name, &crit, NULL);
	if (old == NULL && crit == -2) {
		decide(d, ESTCA_ERR_REFUSED, "client certificate has two "
		    "subjectAltName extensions", "client certificate: duplicate SAN");
		return;
	}
	/* ... and then no SANs in the request means the certificate's. */
	if (keep_name && sk_GENERAL_NAME_num(f->sans) <= 0)
		same = 1;
	else
		same = sans_within(f->sans, old) && sans_within(old, f->sans);
	GENERAL_NAMES_free(old);
	if (!same) {
		decide(d, ESTCA_ERR_REFUSED,
		    "request subjectAltNames differ from the client certificate's",
		    "renewal SAN mismatch");
		return;
	}
	if (!f->server_keygen && !a->allow_same_key_renewal &&
	    X509_PUBKEY_eq(X509_get_X509_PUBKEY(f->cert), f->spki) == 1) {
		decide(d, ESTCA_ERR_REFUSED,
		    "renewal with the same public key is not allowed for this alias",
		    "renewal with the same key refused");
		return;
	}
	decide(d, 0, "ok", "renewal accepted");
}

/* ---- the approval queue ---------------------------------------------- */

void
estca_policy_approval(const struct estca_approval_facts *f,
    enum estca_approval_action *action, struct estca_decision *d)
{
	const char *st = f->status != NULL ? f->status : "";

	memset(d, 0, sizeof(*d));
	if (!f->found) {
		if (!f->required) {
			*action = ESTCA_APPROVAL_NONE;
			decide(d, 0, "ok", "no approval required");
		} else if (f->open_others > 0) {
			/* one open request per end entity: no queue flooding,
			 * and the DBA decides about one key at a time */
			*action = ESTCA_APPROVAL_REFUSE;
			decide(d, ESTCA_ERR_REFUSED, "another request of this end "
			    "entity is waiting for approval", "another request of "
			    "the end entity is open (%lld)", f->open_others);
		} else {
			*action = ESTCA_APPROVAL_QUEUE;
			decide(d, ESTCA_WEB_PENDING, "waiting for approval",
			    "queued for approval");
		}
		return;
	}
	if (strcmp(st, "rejected") == 0) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "request rejected",
		    "queued request was rejected");
	} else if (strcmp(st, "issued") == 0) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "request already issued; send a new "
		    "request", "queued request was issued already");
	} else if (strcmp(st, "pending") != 0 && strcmp(st, "approved") != 0) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "approval request expired; send a new "
		    "request", "queued request is %s", strcmp(st, "expired") == 0 ?
		    "expired" : "in an unknown state");
	} else if (f->expired) {
		*action = ESTCA_APPROVAL_EXPIRE;
		decide(d, ESTCA_ERR_REFUSED, "approval request expired; send a new "
		    "request", "queued request expired while %s", st);
	} else if (!f->same_ee) {
		*action = ESTCA_APPROVAL_REFUSE;
		decide(d, ESTCA_ERR_REFUSED, "end entity no longer registered",
		    "end entity of the queued request is gone or replaced");
	} else if (strcmp(st, "pending") == 0) {
		*action = ESTCA_APPROVAL_WAIT;
		decide(d, ESTCA_WEB_PENDING, "waiting for approval",
		    "queued request still pending");
	} else {
		*action = ESTCA_APPROVAL_RELEASE;
		decide(d, 0, "ok", "queued request approved");
	}
}
