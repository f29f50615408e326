/*
 * san.c - subjectAltName checks of the engine: the types a profile
 * allows, and the syntax of each value (estca_san_syntax), whatever the
 * web tier already checked.  The value came from the request: a refusal
 * shows it escaped.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/x509v3.h>
#include "log.h"
#include "profile.h"

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
