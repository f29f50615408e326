/*
 * unit_dn.c - lib/dn.c's estca_dn_build, the subject an RFC 4514 string
 * names (estca-ca's --subject, the web tier's registered subjects): RDN
 * order and grouping, escapes, and what it refuses.  estca_dn_match is
 * driven by unit_names.c.  Prints TAP; exits 1 if any case fails.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include "dn.h"
#include "tap.h"

/* "sn=value" of entry i of n, and whether it starts a new RDN. */
static void
entry_text(const X509_NAME *n, int i, char *dst, size_t dstlen, int *newset)
{
	const X509_NAME_ENTRY *e = X509_NAME_get_entry(n, i);
	unsigned char *u = NULL;
	int len;

	dst[0] = 0;
	*newset = -1;
	if (e == NULL)
		return;
	len = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(e));
	snprintf(dst, dstlen, "%s=%.*s",
	    OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e))),
	    len > 0 ? len : 0, len > 0 ? (const char *)u : "");
	OPENSSL_free(u);
	*newset = i == 0 || X509_NAME_ENTRY_set(e) !=
	    X509_NAME_ENTRY_set(X509_NAME_get_entry(n, i - 1));
}

/* Does dn build into exactly want[] (encoding order, "+" before an entry
 * that joins the RDN before it)? */
static int
builds(const char *dn, const char *const *want)
{
	X509_NAME *n = NULL;
	int i, cnt, ok = 1;

	if (estca_dn_build(dn, &n) != 0)
		return 0;
	cnt = X509_NAME_entry_count(n);
	for (i = 0; want[i] != NULL; i++) {
		char got[128];
		int newset;

		entry_text(n, i, got, sizeof(got), &newset);
		if (i >= cnt || newset != (want[i][0] != '+') ||
		    strcmp(got, want[i] + (want[i][0] == '+')) != 0)
			ok = 0;
	}
	if (i != cnt || estca_dn_match(n, dn) != 1)
		ok = 0;
	X509_NAME_free(n);
	return ok;
}

int
main(void)
{
	static const char *const two[] = { "O=Example", "CN=Example Root CA",
	    NULL };
	static const char *const multi[] = { "C=SE", "O=Example", "+OU=Test",
	    "CN=x", NULL };
	static const char *const esc[] = { "O=Ex, Inc.", "CN= a+b ", NULL };
	static const char *const hex[] = { "CN=\xc3\xa9t\xc3\xa9", NULL };
	static const char *const oid[] = { "serialNumber=123", "CN=d", NULL };
	static const char *const bad[] = {
		"/CN=old form/O=Example",  /* the form estca-ca took before */
		"CN=a,,O=b", "CN", "=x", "NoSuchType=x", "CN=#0403616263",
		"CN=\"x\"", "CN=a\\", "CN=a\\00b", "CN=a;O=b",
		/* 65 characters: longer than a commonName may be */
		"CN=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};
	X509_NAME *n = NULL;

	tap_ok(builds("CN=Example Root CA,O=Example", two),
	    "last RDN written is the first in the certificate");
	tap_ok(builds("  CN=Example Root CA , O = Example ", two),
	    "blanks around ',' and '=' are not part of a value");
	tap_ok(builds("CN=x,O=Example+OU=Test,C=SE", multi),
	    "'+' makes one multi-valued RDN");
	tap_ok(builds("CN=\\ a\\+b\\ ,O=Ex\\, Inc.", esc),
	    "escaped ',', '+' and blanks belong to the value");
	tap_ok(builds("CN=\\C3\\A9t\\c3\\a9", hex),
	    "hex escapes in either case make UTF-8 bytes");
	tap_ok(builds("CN=d,2.5.4.5=123", oid), "a dotted OID names the type");
	tap_ok(estca_dn_build("", &n) == 0 && n != NULL &&
	    X509_NAME_entry_count(n) == 0, "empty string: empty subject");
	X509_NAME_free(n);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = (X509_NAME *)1;
		tap_ok(estca_dn_build(bad[i], &n) == ESTCA_ERR_MALFORMED &&
		    n == NULL, "refused: \"%.40s\"", bad[i]);
	}
	return tap_done();
}
