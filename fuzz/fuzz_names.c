/*
 * fuzz_names.c - the RFC 4514 parser and matcher estca_dn_match(), which
 * compares a subject with a DN a DBA registered.
 *
 * The input up to its first NUL is the DN text, matched against fixed
 * subjects (one of them multi-valued); what follows the NUL, if it is
 * the DER of a Name, is a subject too: it is matched against the text,
 * and against its own RFC 4514 text (estca_name_text).
 *
 * Invariants: the answer is 1, 0 or an error; a text that matches a
 * subject matches it again (no state); a subject whose values are all
 * plain text (UTF-8 without NUL, known attribute types) matches its own
 * text, which is how a DBA may copy it from the audit rows.
 */
#include <stdint.h>
#include <openssl/err.h>
#include "fuzz.h"
#include "names.h"

static X509_NAME *fixed[3];

static X509_NAME *
make(const char *const *kv)
{
	X509_NAME *n = X509_NAME_new();

	FUZZ_CHECK(n != NULL);
	for (; kv[0] != NULL; kv += 3)
		FUZZ_CHECK(X509_NAME_add_entry_by_txt(n, kv[0], MBSTRING_UTF8,
		    (const unsigned char *)kv[1], -1, -1, kv[2][0] == '+') == 1);
	return n;
}

static void
init(void)
{
	static const char *const a[] = { "C", "DE", "", "O", "Acme, Inc.", "",
	    "CN", "device 42", "", NULL };
	static const char *const b[] = { "DC", "example", "", "OU", "plant",
	    "", "serialNumber", "A1", "+", "CN", "m\xc3\xbc ller", "", NULL };
	static const char *const c[] = { NULL };

	fixed[0] = make(a);
	fixed[1] = make(b);
	fixed[2] = make(c);
}

static int
check(const X509_NAME *name, const char *dn)
{
	int r = estca_dn_match(name, dn);

	FUZZ_CHECK(r == 1 || r == 0 || r == ESTCA_ERR_MALFORMED ||
	    r == ESTCA_ERR_NOMEM);
	FUZZ_CHECK(estca_dn_match(name, dn) == r);
	return r;
}

/* Every value plain text: converts to UTF-8, no NUL, a string type of
 * an attribute OpenSSL knows (others print as #hex, which registrations
 * may not use). */
static int
plain(const X509_NAME *name)
{
	for (int i = 0; i < X509_NAME_entry_count(name); i++) {
		const ASN1_STRING *v = X509_NAME_ENTRY_get_data(
		    X509_NAME_get_entry(name, i));
		unsigned char *u = NULL;
		int len;

		if (OBJ_obj2nid(X509_NAME_ENTRY_get_object(
		    X509_NAME_get_entry(name, i))) == NID_undef)
			return 0;
		switch (ASN1_STRING_type(v)) {
		case V_ASN1_UTF8STRING:
		case V_ASN1_PRINTABLESTRING:
		case V_ASN1_IA5STRING:
		case V_ASN1_BMPSTRING:
		case V_ASN1_UNIVERSALSTRING:
			break;
		default:
			return 0;
		}
		len = ASN1_STRING_to_UTF8(&u, v);
		if (len < 0)
			return 0;
		if (memchr(u, 0, (size_t)len) != NULL || len > 1000) {
			OPENSSL_free(u);
			return 0;
		}
		OPENSSL_free(u);
	}
	return X509_NAME_entry_count(name) <= 64;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s[2], *mem;
	const uint8_t *nul;
	int r;

	if (fixed[0] == NULL)
		init();
	if (size > 16 * 1024)
		return 0;
	fuzz_split(data, size, s, 2, &mem);
	if (mem == NULL)
		return 0;
	for (int i = 0; i < 3; i++)
		check(fixed[i], s[0]);
	nul = memchr(data, 0, size);
	if (nul != NULL) {
		const unsigned char *p = nul + 1;
		size_t rest = size - (size_t)(p - data);
		X509_NAME *name = d2i_X509_NAME(NULL, &p, (long)rest);
		char text[8192];

		if (name != NULL) {
			check(name, s[0]);
			/* OpenSSL leaves a value that is just "#" unescaped
			 * (its first-character escape is overridden by the
			 * last-character rule), which reads as a hex value:
			 * refused, never a mismatch */
			if (estca_name_text(name, text, sizeof(text)) == 0 &&
			    plain(name)) {
				r = check(name, text);
				FUZZ_CHECK(r == 1 || (r == ESTCA_ERR_MALFORMED &&
				    strstr(text, "=#") != NULL));
			}
			X509_NAME_free(name);
		}
	}
	free(mem);
	ERR_clear_error();
	return 0;
}
