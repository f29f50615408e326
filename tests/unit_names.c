/*
 * unit_names.c - reading and matching certificate names in the web tier
 * (fcgi/names.c): a subject against a registered RFC 4514 string, one
 * attribute of a subject, a subject without one, its text, and a SAN
 * against a registered SAN.  Prints TAP; exits 1 if any case fails.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "names.h"
#include "fixtures.h"
#include "tap.h"

/* ---- names and SANs ---------------------------------------------------- */

static void
test_names(void)
{
	static const char *subj[] = { "C", "SE", "O", "Ex, Inc.", "OU", "Dev",
	    "serialNumber", "s3cr3t", "CN", "device1", NULL };
	static const char *two_cn[] = { "CN", "a", "CN", "b", NULL };
	static const struct {
		const char *dn;
		int want;
	} dns[] = {
		{ "CN=device1,serialNumber=s3cr3t,OU=Dev,O=Ex\\, Inc.,C=SE", 1 },
		{ "CN=device1, serialNumber=s3cr3t, OU=Dev, O=Ex\\2C Inc., C=SE", 1 },
		{ "commonName=device1,2.5.4.5=s3cr3t,OU=Dev,O=Ex\\, Inc.,C=SE", 1 },
		{ "CN=Device1,serialNumber=s3cr3t,OU=Dev,O=Ex\\, Inc.,C=SE", 0 },
		{ "CN=device1,OU=Dev,O=Ex\\, Inc.,C=SE", 0 },
		{ "C=SE,O=Ex\\, Inc.,OU=Dev,serialNumber=s3cr3t,CN=device1", 0 },
		{ "CN=device1+serialNumber=s3cr3t,OU=Dev,O=Ex\\, Inc.,C=SE", 0 },
		{ "CN=device1,serialNumber=s3cr3t,OU=Dev,O=Ex, Inc.,C=SE",
		    ESTCA_ERR_MALFORMED },
		{ "CN=#0403616263", ESTCA_ERR_MALFORMED },
		{ "CN=\"x\"", ESTCA_ERR_MALFORMED },
		{ "NoSuchType=x", ESTCA_ERR_MALFORMED },
		{ "CN", ESTCA_ERR_MALFORMED },
		{ "CN=a\\", ESTCA_ERR_MALFORMED },
		{ "", 0 },
	};
	X509_NAME *n = name_of(subj), *n2 = name_of(two_cn), *stripped = NULL,
	    *empty = X509_NAME_new();
	char v[64];

	for (size_t i = 0; i < sizeof(dns) / sizeof(dns[0]); i++) {
		int got = estca_dn_match(n, dns[i].dn);

		tap_ok(got == dns[i].want, "dn_match \"%s\" -> %d (want %d)",
		    dns[i].dn, got, dns[i].want);
	}
	tap_ok(estca_dn_match(empty, "") == 1, "empty DN matches empty subject");

	tap_ok(estca_name_field(n, "CN", v, sizeof(v)) == 0 &&
	    strcmp(v, "device1") == 0, "username field CN");
	tap_ok(estca_name_field(n, "serialNumber", v, sizeof(v)) == 0 &&
	    strcmp(v, "s3cr3t") == 0, "code field serialNumber");
	tap_ok(estca_name_field(n, "UID", v, sizeof(v)) == ESTCA_ERR_NOT_FOUND,
	    "absent field");
	tap_ok(estca_name_field(n2, "CN", v, sizeof(v)) == ESTCA_ERR_REFUSED &&
	    v[0] == 0, "repeated field refused");
	tap_ok(estca_name_field(n, "NoSuchField", v, sizeof(v)) == ESTCA_ERR_CONFIG,
	    "unknown field type");
	tap_ok(estca_name_field(n, "CN", v, 4) == ESTCA_ERR_REFUSED,
	    "field longer than the buffer refused");
	tap_ok(estca_name_without(n, "serialNumber", &stripped) == 0 &&
	    estca_dn_match(stripped, "CN=device1,OU=Dev,O=Ex\\, Inc.,C=SE") == 1,
	    "code field removed from the subject");
	tap_ok(estca_name_text(stripped, v, sizeof(v)) == 0 &&
	    strcmp(v, "CN=device1,OU=Dev,O=Ex\\, Inc.,C=SE") == 0,
	    "RFC 4514 text of a name (%s)", v);
	X509_NAME_free(stripped);
	/* A multi-valued RDN (a SET): its AVAs in any order, as RFC 4514 2.2
	 * allows and as estca_name_text prints them (reversed); found by
	 * fuzz/fuzz_names (fuzz/corpus/names/regress-multi-rdn). */
	{
		X509_NAME *mv = X509_NAME_new();
		char t[128];

		X509_NAME_add_entry_by_txt(mv, "O", MBSTRING_UTF8,
		    (const unsigned char *)"Acme", -1, -1, 0);
		X509_NAME_add_entry_by_txt(mv, "OU", MBSTRING_UTF8,
		    (const unsigned char *)"Plant", -1, -1, 0);
		X509_NAME_add_entry_by_txt(mv, "CN", MBSTRING_UTF8,
		    (const unsigned char *)"x", -1, -1, -1);
		tap_ok(estca_name_text(mv, t, sizeof(t)) == 0 &&
		    estca_dn_match(mv, t) == 1,
		    "multi-valued RDN matches its own text (%s)", t);
		tap_ok(estca_dn_match(mv, "OU=Plant+CN=x,O=Acme") == 1 &&
		    estca_dn_match(mv, "CN=x+OU=Plant,O=Acme") == 1,
		    "AVAs of one RDN in either order");
		tap_ok(estca_dn_match(mv, "OU=Plant+CN=y,O=Acme") == 0 &&
		    estca_dn_match(mv, "OU=Plant+OU=Plant,O=Acme") == 0 &&
		    estca_dn_match(mv, "OU=Plant,CN=x,O=Acme") == 0 &&
		    estca_dn_match(mv, "OU=Plant+CN=x+O=Acme") == 0,
		    "a multi-valued RDN still needs its values and grouping");
		X509_NAME_free(mv);
	}
	/* an empty subject prints as "" (fuzz/corpus/names/regress-empty-name:
	 * no memcpy from the NULL an empty memory BIO hands out) */
	tap_ok(estca_name_text(empty, v, sizeof(v)) == 0 && v[0] == 0,
	    "RFC 4514 text of an empty name");
	X509_NAME_free(n);
	X509_NAME_free(n2);
	X509_NAME_free(empty);
}

static void
test_sans(void)
{
	static const struct {
		const char *san;   /* openssl config syntax, one name */
		const char *reg;
		int want;
	} cases[] = {
		{ "DNS:a.example", "DNS:a.example", 1 },
		{ "DNS:A.Example", "dns:a.example", 1 },
		{ "DNS:a.example", "DNS:b.example", 0 },
		{ "DNS:a.example", "DNS:a.example.", 0 },
		{ "DNS:a.example", "URI:a.example", 0 },
		{ "IP:192.0.2.1", "IP:192.0.2.1", 1 },
		{ "IP:192.0.2.1", "IP:192.0.2.10", 0 },
		{ "IP:2001:db8::1", "IP:2001:DB8:0::1", 1 },
		{ "email:Joe@Example.COM", "email:Joe@example.com", 1 },
		{ "email:joe@example.com", "email:Joe@example.com", 0 },
		{ "URI:urn:x:1", "URI:urn:x:1", 1 },
		{ "URI:urn:x:1", "URI:URN:x:1", 0 },
		{ "RID:1.2.3.4", "RID:1.2.3.4", 0 },
		{ "DNS:a.example", "a.example", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		GENERAL_NAMES *g = sans_of(cases[i].san);
		int got = g != NULL ?
		    estca_san_match(sk_GENERAL_NAME_value(g, 0), cases[i].reg) : -9;

		tap_ok(got == cases[i].want, "san_match %s vs %s -> %d",
		    cases[i].san, cases[i].reg, got);
		GENERAL_NAMES_free(g);
	}
}

int
main(void)
{
	test_names();
	test_sans();
	return tap_done();
}
