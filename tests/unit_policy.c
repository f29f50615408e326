/*
 * unit_policy.c - the enrollment policy (fcgi/policy.c), the request
 * decoder (fcgi/csr.c) and the credential checks (fcgi/cred.c) driven by
 * tables, without HTTP, database or engine.
 * Requests and certificates are made in memory with OpenSSL.  Prints
 * TAP-style "ok N - ..." lines; exits 1 if any case fails.
 */
#include <crypt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "cred.h"
#include "b64.h"
#include "csr.h"
#include "policy.h"
#include "tap.h"


/* ---- base64 and media types ------------------------------------------ */

static void
test_base64(void)
{
	static const struct {
		const char *in;
		const char *want;   /* NULL: must be refused */
	} cases[] = {
		{ "TWFu", "Man" },
		{ "TWE=", "Ma" },
		{ "TWE", "Ma" },
		{ "TQ==", "M" },
		{ "TQ", "M" },
		{ "TW\r\nFu\n", "Man" },
		{ " T W F u ", "Man" },
		{ "TWFuTWFu\nTWFu\n", "ManManMan" },
		{ "", "" },
		{ "T", NULL },
		{ "TQ=", NULL },
		{ "TQ===", NULL },
		{ "TQ==TQ==", NULL },
		{ "TW-u", NULL },
		{ "TWFu!", NULL },
		{ "TR==", NULL },          /* non-zero bits after the last byte */
		{ "-----BEGIN", NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct estca_buf b;
		int r;

		estca_buf_init(&b, 1024, false);
		r = estca_base64_decode((const unsigned char *)cases[i].in,
		    strlen(cases[i].in), &b);
		if (cases[i].want == NULL)
			tap_ok(r == ESTCA_ERR_MALFORMED, "base64 case %zu refused",
			    i);
		else
			tap_ok(r == 0 && b.len == strlen(cases[i].want) &&
			    (b.len == 0 || memcmp(b.data, cases[i].want, b.len) == 0),
			    "base64 case %zu decodes", i);
		estca_buf_free(&b);
	}
	{
		struct estca_buf b;

		estca_buf_init(&b, 2, false);
		tap_ok(estca_base64_decode((const unsigned char *)"TWFu", 4, &b) ==
		    ESTCA_ERR_TOO_LARGE && b.data == NULL, "base64 respects the cap");
	}
	tap_ok(estca_media_type_is("application/pkcs10", "application/pkcs10"),
	    "media type exact");
	tap_ok(estca_media_type_is("Application/PKCS10; charset=x", "application/pkcs10"),
	    "media type case and parameters");
	tap_ok(!estca_media_type_is("application/pkcs10x", "application/pkcs10"),
	    "media type prefix refused");
	tap_ok(!estca_media_type_is("application/x-www-form-urlencoded",
	    "application/pkcs10"), "media type form refused");
	tap_ok(!estca_media_type_is(NULL, "application/pkcs10"), "no media type");
}

/* ---- requests made in memory -------------------------------------------- */

static EVP_PKEY *key1, *key2;

static X509_NAME *
name_of(const char *const *kv)
{
	X509_NAME *n = X509_NAME_new();

	for (size_t i = 0; kv[i] != NULL; i += 2)
		X509_NAME_add_entry_by_txt(n, kv[i], MBSTRING_UTF8,
		    (const unsigned char *)kv[i + 1], -1, -1, 0);
	return n;
}

static GENERAL_NAMES *
sans_of(const char *conf)
{
	X509_EXTENSION *ext;
	GENERAL_NAMES *g;

	if (conf == NULL)
		return NULL;
	ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, conf);
	g = X509V3_EXT_d2i(ext);
	X509_EXTENSION_free(ext);
	return g;
}

/* DER of a CSR signed by key; sans in openssl's config syntax or NULL;
 * challenge may be NULL. */
static unsigned char *
make_csr(EVP_PKEY *key, const char *const *subj, const char *sans,
    const char *challenge, int *len)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = name_of(subj);
	unsigned char *der = NULL;

	X509_REQ_set_version(req, 0);
	X509_REQ_set_subject_name(req, n);
	X509_NAME_free(n);
	X509_REQ_set_pubkey(req, key);
	if (sans != NULL) {
		STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();

		sk_X509_EXTENSION_push(exts, X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, sans));
		X509_REQ_add_extensions(req, exts);
		sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	}
	if (challenge != NULL)
		X509_REQ_add1_attr_by_NID(req, NID_pkcs9_challengePassword,
		    MBSTRING_UTF8, (const unsigned char *)challenge, -1);
	X509_REQ_sign(req, key, EVP_sha256());
	*len = i2d_X509_REQ(req, &der);
	X509_REQ_free(req);
	return der;
}

static char *
b64(const unsigned char *p, int n, int breaks)
{
	char *out = OPENSSL_malloc((size_t)n * 2 + 8), *o = out;
	int w = EVP_EncodeBlock((unsigned char *)out, p, n);

	if (!breaks)
		return out;
	/* a line break every 64 characters, CRLF */
	{
		char *copy = OPENSSL_strdup(out);
		size_t k = 0;

		for (int i = 0; i < w; i++) {
			o[k++] = copy[i];
			if (i % 64 == 63) {
				o[k++] = '\r';
				o[k++] = '\n';
			}
		}
		o[k] = 0;
		OPENSSL_free(copy);
	}
	return out;
}

static void
test_csr(void)
{
	static const char *subj[] = { "CN", "device1", "O", "Example", NULL };
	struct estca_csr c;
	char why[200];
	unsigned char *der;
	char *text;
	int len;

	der = make_csr(key1, subj, "DNS:a.example,IP:192.0.2.1", "sesame", &len);
	tap_ok(estca_csr_decode(der, (size_t)len, &c, why, sizeof(why)) == 0,
	    "raw DER request decodes");
	tap_ok(c.challenge != NULL && strcmp(c.challenge, "sesame") == 0,
	    "challengePassword found");
	tap_ok(sk_GENERAL_NAME_num(c.sans) == 2, "two SANs found");
	estca_csr_free(&c);

	text = b64(der, len, 0);
	tap_ok(estca_csr_decode((unsigned char *)text, strlen(text), &c, why,
	    sizeof(why)) == 0, "base64 without line breaks decodes");
	estca_csr_free(&c);
	OPENSSL_free(text);
	text = b64(der, len, 1);
	tap_ok(estca_csr_decode((unsigned char *)text, strlen(text), &c, why,
	    sizeof(why)) == 0, "base64 with CRLF line breaks decodes");
	estca_csr_free(&c);
	OPENSSL_free(text);

	/* flip a bit of the signature (the last byte of the DER) */
	der[len - 1] ^= 1;
	text = b64(der, len, 0);
	tap_ok(estca_csr_decode((unsigned char *)text, strlen(text), &c, why,
	    sizeof(why)) == ESTCA_ERR_MALFORMED &&
	    strstr(why, "signature") != NULL, "bad signature refused (%s)", why);
	OPENSSL_free(text);
	der[len - 1] ^= 1;

	{
		unsigned char *more = OPENSSL_malloc((size_t)len + 2);

		memcpy(more, der, (size_t)len);
		more[len] = 0;
		more[len + 1] = 0;
		tap_ok(estca_csr_decode(more, (size_t)len + 2, &c, why,
		    sizeof(why)) == ESTCA_ERR_MALFORMED,
		    "bytes after the request refused (%s)", why);
		OPENSSL_free(more);
	}
	tap_ok(estca_csr_decode((const unsigned char *)"aGVsbG8=", 8, &c, why,
	    sizeof(why)) == ESTCA_ERR_MALFORMED, "base64 of no request refused");
	tap_ok(estca_csr_decode((const unsigned char *)"", 0, &c, why,
	    sizeof(why)) == ESTCA_ERR_MALFORMED, "empty body refused");
	OPENSSL_free(der);

	der = make_csr(key1, subj, NULL, NULL, &len);
	tap_ok(estca_csr_decode(der, (size_t)len, &c, why, sizeof(why)) == 0 &&
	    c.challenge == NULL && c.sans == NULL,
	    "request without challengePassword and SANs");
	estca_csr_free(&c);
	OPENSSL_free(der);
}

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

/* ---- decisions ------------------------------------------------------- */

static void
test_enroll(void)
{
	static const char *subj[] = { "O", "Example", "CN", "device1", NULL };
	static const char *const reg_sans[] = { "DNS:a.example", "IP:192.0.2.1" };
	struct estca_alias a;
	struct estca_ee_facts ee, ee0;
	struct estca_enroll_facts f, f0;
	struct estca_decision d;
	X509_NAME *n = name_of(subj);
	GENERAL_NAMES *ok_sans = sans_of("DNS:A.example"),
	    *bad_sans = sans_of("DNS:a.example,DNS:evil.example");

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "est");
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "challenge_password");
	a.mode = estca_mode_parse("challenge_password");
	a.max_failed_attempts = 3;
	memset(&ee0, 0, sizeof(ee0));
	ee0.found = true;
	ee0.status = "active";
	ee0.has_code = true;
	ee0.uses_left = 1;
	ee0.subject_dn = "CN=device1,O=Example";
	ee0.sans = reg_sans;
	ee0.nsans = 2;
	memset(&f0, 0, sizeof(f0));
	f0.code_present = true;
	f0.code_ok = true;
	f0.subject = n;
	f0.sans = ok_sans;

	ee = ee0, f = f0;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "right code, registered subject and SANs: accept");

	ee = ee0, f = f0;
	ee.found = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0 &&
	    strstr(d.audit, "unknown end entity") != NULL,
	    "unknown end entity: same reason as a wrong code, audit says which");

	ee = ee0, f = f0;
	f.code_ok = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && d.count_failure && !d.lock &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0,
	    "wrong code: counted, not locked (%s)", d.audit);
	ee.failed_attempts = 2;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && d.count_failure && d.lock,
	    "third wrong code of three: locks (%s)", d.audit);

	ee = ee0, f = f0;
	f.code_present = false;
	f.code_ok = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure,
	    "no code: refused, not counted");

	ee = ee0, f = f0;
	ee.has_code = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0,
	    "end entity without a code: refused");

	ee = ee0, f = f0;
	ee.status = "locked";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "locked") != NULL,
	    "locked, right code: says locked");
	f.code_ok = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure &&
	    strcmp(d.reason, ESTCA_POLICY_BAD_CREDENTIALS) == 0,
	    "locked, wrong code: generic reason, not counted");

	ee = ee0, f = f0;
	ee.status = "disabled";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "disabled") != NULL,
	    "disabled: refused");

	ee = ee0, f = f0;
	ee.uses_left = 0;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "already used") != NULL,
	    "used-up code: refused");

	ee = ee0, f = f0;
	ee.subject_dn = "CN=device2,O=Example";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject mismatch: refused (%s)", d.audit);
	ee.subject_dn = NULL;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "no registered subject: any subject");
	ee.subject_dn = "CN=#00";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_INTERNAL, "unparsable registered subject: 500");

	ee = ee0, f = f0;
	f.sans = bad_sans;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strstr(d.audit, "evil.example") != NULL,
	    "unregistered SAN: refused (%s)", d.audit);
	f.sans = NULL;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "no SANs asked: fewer than registered is fine");
	ee.nsans = 0;
	f.sans = ok_sans;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "SANs asked, none registered: refused");

	ee = ee0, f = f0;
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "ra");
	a.mode = estca_mode_parse("ra");
	f.code_present = false;
	f.code_ok = false;
	ee.has_code = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0 && !estca_policy_code_mode(&a),
	    "ra mode: no code needed, no code registered: accept");
	ee.uses_left = 0;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strstr(d.reason, "no enrollments left") != NULL,
	    "ra mode: uses still apply (%s)", d.reason);
	ee = ee0;
	ee.found = false;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && !d.count_failure &&
	    strstr(d.reason, "no such end entity") != NULL,
	    "ra mode: unknown end entity said plainly to the RA");
	ee = ee0;
	ee.status = "locked";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "locked") != NULL,
	    "ra mode: locked end entity refused");
	ee = ee0;
	ee.subject_dn = "CN=device2,O=Example";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "ra mode: subject still matched against the registration");
	ee = ee0, f = f0;
	f.sans = bad_sans;
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "ra mode: SANs still matched");

	ee = ee0, f = f0;
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "vendor");
	a.mode = estca_mode_parse("vendor");
	f.code_present = false;
	f.username = "device1";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "vendor mode: registered subject: accept");
	ee.subject_dn = NULL;
	snprintf(a.username_dn_field, sizeof(a.username_dn_field), "CN");
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "vendor mode, any subject: subject names the end entity");
	f.username = "device9";
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED,
	    "vendor mode, any subject: subject naming another end entity refused");

	ee = ee0, f = f0;
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "nosuchmode");
	a.mode = estca_mode_parse("nosuchmode");
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == ESTCA_ERR_UNSUPPORTED, "unknown mode: 501");
	snprintf(a.enroll_mode, sizeof(a.enroll_mode), "dn_part_password");
	a.mode = estca_mode_parse("dn_part_password");
	estca_policy_enroll(&a, &ee, &f, &d);
	tap_ok(d.err == 0, "dn_part_password: same rules");

	X509_NAME_free(n);
	GENERAL_NAMES_free(ok_sans);
	GENERAL_NAMES_free(bad_sans);
}

/* A certificate for key with subject and SANs (self-signed will do: the
 * policy sees only what the chain check found). */
static X509 *
make_cert(EVP_PKEY *key, const char *const *subj, const char *sans)
{
	X509 *x = X509_new();
	X509_NAME *n = name_of(subj);

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 42);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_NAME_free(n);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	if (sans != NULL) {
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_subject_alt_name, sans);

		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, key, EVP_sha256());
	return x;
}

static void
test_renew(void)
{
	static const char *subj[] = { "CN", "device1", NULL };
	static const char *other[] = { "CN", "device2", NULL };
	struct estca_alias a;
	struct estca_renew_facts f0, f;
	struct estca_decision d;
	X509 *cert = make_cert(key1, subj, "DNS:a.example,IP:192.0.2.1");
	X509 *nosan = make_cert(key1, subj, NULL);
	static const char *upper_subj[] = { "CN", "DEVICE1", NULL };
	static const char *spaced_subj[] = { "CN", "device1 ", NULL };
	X509_NAME *n = name_of(subj), *n2 = name_of(other),
	    *upper = name_of(upper_subj), *spaced = name_of(spaced_subj),
	    *printable = X509_NAME_new(), *empty = X509_NAME_new();
	GENERAL_NAMES *same = sans_of("IP:192.0.2.1,DNS:a.example"),
	    *fewer = sans_of("DNS:a.example"),
	    *upper_sans = sans_of("IP:192.0.2.1,DNS:A.example");
	X509_PUBKEY *spki1 = NULL, *spki2 = NULL;

	X509_PUBKEY_set(&spki1, key1);
	X509_PUBKEY_set(&spki2, key2);
	X509_NAME_add_entry_by_txt(printable, "CN", V_ASN1_PRINTABLESTRING,
	    (const unsigned char *)"device1", -1, -1, 0);
	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "est");
	memset(&f0, 0, sizeof(f0));
	f0.chain_ok = true;
	f0.known = true;
	f0.same_alias = true;
	f0.ee_status = "active";
	f0.cert = cert;
	f0.subject = n;
	f0.sans = same;
	f0.spki = spki2;

	f = f0;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "renewal with a new key, same subject and SANs: accept");

	f = f0;
	f.chain_ok = false;
	f.chain_why = "unable to get local issuer certificate";
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.audit, "local issuer") != NULL,
	    "foreign certificate: refused");
	f = f0;
	f.known = false;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "certificate not recorded: refused");
	f = f0;
	f.same_alias = false;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "certificate of another alias: refused");
	f = f0;
	f.revoked = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "revoked") != NULL,
	    "revoked: refused");
	f = f0;
	f.expired = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "expired") != NULL,
	    "expired: refused");
	f = f0;
	f.ee_status = NULL;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "end entity deleted: refused");
	f = f0;
	f.ee_status = "disabled";
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "end entity disabled: refused");
	f = f0;
	f.ee_status = "locked";
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "end entity locked by code failures: renewal still works");
	f = f0;
	f.subject = n2;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "other subject: refused");
	f = f0;
	f.subject = upper;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject differing in case only: refused");
	f.subject = spaced;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject differing in spaces only: refused");
	f.subject = printable;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "subject") != NULL,
	    "subject differing in string type only: refused");
	f.subject = empty;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "empty subject, same SANs: accept");
	f.sans = NULL;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "empty subject, no SANs: accept (the certificate's)");
	f.sans = fewer;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "empty subject, fewer SANs: refused");
	f = f0;
	f.sans = upper_sans;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "SAN differing in case only: refused");
	tap_ok(estca_name_der_eq(n, upper) == 0 && estca_name_der_eq(n, n) == 1,
	    "estca_name_der_eq: case matters, equal names equal");
	f = f0;
	f.sans = fewer;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "fewer SANs: refused");
	f.sans = NULL;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED, "no SANs: refused");
	f.cert = nosan;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "no SANs in either: accept");
	f = f0;
	f.spki = spki1;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED && strstr(d.reason, "same public key") != NULL,
	    "same key, alias forbids: refused");
	a.allow_same_key_renewal = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == 0, "same key, alias allows: accept");
	f = f0;
	f.csn = true;
	a.change_subject_name = true;
	estca_policy_renew(&a, &f, &d);
	tap_ok(d.err == ESTCA_ERR_REFUSED &&
	    strstr(d.reason, "ChangeSubjectName") != NULL,
	    "ChangeSubjectName on renewal: refused even where the alias allows it");

	X509_free(cert);
	X509_free(nosan);
	X509_NAME_free(n);
	X509_NAME_free(n2);
	X509_NAME_free(upper);
	X509_NAME_free(spaced);
	X509_NAME_free(printable);
	X509_NAME_free(empty);
	GENERAL_NAMES_free(same);
	GENERAL_NAMES_free(fewer);
	GENERAL_NAMES_free(upper_sans);
	X509_PUBKEY_free(spki1);
	X509_PUBKEY_free(spki2);
}


/* ---- RA and vendor decisions ------------------------------------------ */

static void
test_ra_vendor(void)
{
	static const struct {
		struct estca_ra_facts f;
		int want;
		const char *name;
	} ra[] = {
		{ { .how = ESTCA_RA_NONE }, ESTCA_WEB_ERR_AUTH, "no credentials: 401" },
		{ { .how = ESTCA_RA_BASIC, .malformed = true }, ESTCA_WEB_ERR_AUTH,
		    "malformed Basic: 401" },
		{ { .how = ESTCA_RA_BASIC, .known = false }, ESTCA_WEB_ERR_AUTH,
		    "unknown RA user: 401" },
		{ { .how = ESTCA_RA_BASIC, .known = true, .password_ok = false },
		    ESTCA_WEB_ERR_AUTH, "wrong RA password: 401" },
		{ { .how = ESTCA_RA_BASIC, .known = true, .password_ok = true }, 0,
		    "right RA password: accept" },
		{ { .how = ESTCA_RA_CERT, .malformed = true }, ESTCA_ERR_REFUSED,
		    "unparsable RA certificate: 403" },
		{ { .how = ESTCA_RA_CERT, .known = false, .chain_ok = true },
		    ESTCA_ERR_REFUSED, "certificate of no member (even if it "
		    "verifies): 403" },
		{ { .how = ESTCA_RA_CERT, .known = true, .chain_ok = false,
		    .chain_why = "certificate has expired" }, ESTCA_ERR_REFUSED,
		    "member certificate that does not verify: 403" },
		{ { .how = ESTCA_RA_CERT, .known = true, .chain_ok = true }, 0,
		    "member certificate that verifies: accept" },
		{ { .how = ESTCA_RA_CERT, .known = true, .chain_ok = true,
		    .revoked = true }, ESTCA_ERR_REFUSED,
		    "member certificate of this CA, revoked: 403" },
	};
	static const struct {
		struct estca_vendor_facts f;
		bool allow_csn;
		int want;
		const char *name;
	} ven[] = {
		{ { .cert_present = false }, false, ESTCA_ERR_REFUSED,
		    "vendor: no certificate: 403" },
		{ { .cert_present = true, .cert_malformed = true }, false,
		    ESTCA_ERR_REFUSED, "vendor: unparsable certificate: 403" },
		{ { .cert_present = true, .chain_ok = false, .chain_why = "x" },
		    false, ESTCA_ERR_REFUSED, "vendor: does not chain: 403" },
		{ { .cert_present = true, .chain_ok = true,
		    .username_r = ESTCA_ERR_NOT_FOUND }, false, ESTCA_ERR_REFUSED,
		    "vendor: no username field: 403" },
		{ { .cert_present = true, .chain_ok = true,
		    .username_r = ESTCA_ERR_CONFIG }, false, ESTCA_ERR_CONFIG,
		    "vendor: unknown username field: config error" },
		{ { .cert_present = true, .chain_ok = true }, false, 0,
		    "vendor: chains, names an end entity: accept" },
		{ { .cert_present = true, .chain_ok = true, .revoked = true },
		    false, ESTCA_ERR_REFUSED,
		    "vendor: certificate of this CA, revoked: 403" },
		{ { .cert_present = true, .chain_ok = true, .csn = true,
		    .csn_subject = true }, false, ESTCA_ERR_REFUSED,
		    "vendor: ChangeSubjectName, alias disallows: 403" },
		{ { .cert_present = true, .chain_ok = true, .csn = true,
		    .csn_subject = true }, true, 0,
		    "vendor: ChangeSubjectName, alias allows: accept" },
		{ { .cert_present = true, .chain_ok = true, .csn = true,
		    .csn_subject = false }, true, ESTCA_ERR_REFUSED,
		    "vendor: ChangeSubjectName without a subject: 403" },
	};
	static const char *s1[] = { "CN", "csr", NULL };
	static const char *s2[] = { "CN", "csn", NULL };
	static const char *s3[] = { "CN", "vendor", NULL };
	struct estca_alias a;
	struct estca_decision d;
	X509_NAME *csr = name_of(s1), *csn = name_of(s2), *ven_n = name_of(s3),
	    *empty = X509_NAME_new();

	memset(&a, 0, sizeof(a));
	snprintf(a.name, sizeof(a.name), "x");
	snprintf(a.username_dn_field, sizeof(a.username_dn_field), "CN");
	for (size_t i = 0; i < sizeof(ra) / sizeof(ra[0]); i++) {
		estca_policy_ra(&a, &ra[i].f, &d);
		tap_ok(d.err == ra[i].want && (d.err == 0 || d.reason != NULL),
		    "ra: %s (%s)", ra[i].name, d.audit);
	}
	for (size_t i = 0; i < sizeof(ven) / sizeof(ven[0]); i++) {
		a.change_subject_name = ven[i].allow_csn;
		estca_policy_vendor(&a, &ven[i].f, &d);
		tap_ok(d.err == ven[i].want, "%s (%s)", ven[i].name, d.audit);
	}
	tap_ok(estca_vendor_subject(csr, csn, ven_n) == csn,
	    "vendor subject: ChangeSubjectName's first");
	tap_ok(estca_vendor_subject(csr, NULL, ven_n) == csr,
	    "vendor subject: else the CSR's");
	tap_ok(estca_vendor_subject(empty, NULL, ven_n) == ven_n,
	    "vendor subject: empty CSR subject takes the vendor certificate's");
	X509_NAME_free(csr);
	X509_NAME_free(csn);
	X509_NAME_free(ven_n);
	X509_NAME_free(empty);
}

/* ---- ChangeSubjectName ------------------------------------------------- */

/* DER of SEQUENCE { parts... } into out; returns its length. */
static int
seq_of(unsigned char *out, const unsigned char *body, int blen)
{
	unsigned char *p = out;

	ASN1_put_object(&p, 1, blen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(p, body, (size_t)blen);
	return (int)(p - out) + blen;
}

static void
test_csn(void)
{
	static const char *subj[] = { "O", "Example", "CN", "new-name", NULL };
	static const char *old[] = { "CN", "old", NULL };
	X509_NAME *n = name_of(subj), *got_n = NULL;
	GENERAL_NAMES *g = sans_of("DNS:new.example,IP:192.0.2.7"), *got_g = NULL;
	unsigned char name_der[512], sans_der[512], body[1100], val[1200], *p;
	int nl, gl, vl;
	char why[120];
	struct estca_csr c;

	p = name_der;
	nl = i2d_X509_NAME(n, &p);
	p = sans_der;
	gl = i2d_GENERAL_NAMES(g, &p);

	/* subject and subjectAlt */
	memcpy(body, name_der, (size_t)nl);
	memcpy(body + nl, sans_der, (size_t)gl);
	vl = seq_of(val, body, nl + gl);
	tap_ok(estca_csn_decode(val, (size_t)vl, &got_n, &got_g, why, sizeof(why)) == 0 &&
	    got_n != NULL && X509_NAME_cmp(got_n, n) == 0 &&
	    sk_GENERAL_NAME_num(got_g) == 2, "CSN with subject and subjectAlt");
	X509_NAME_free(got_n);
	GENERAL_NAMES_free(got_g);
	/* subject only */
	vl = seq_of(val, name_der, nl);
	tap_ok(estca_csn_decode(val, (size_t)vl, &got_n, &got_g, why, sizeof(why)) == 0 &&
	    got_n != NULL && got_g == NULL, "CSN with the subject only");
	X509_NAME_free(got_n);
	/* subjectAlt only: told apart by its context-specific first element */
	vl = seq_of(val, sans_der, gl);
	tap_ok(estca_csn_decode(val, (size_t)vl, &got_n, &got_g, why, sizeof(why)) == 0 &&
	    got_n == NULL && sk_GENERAL_NAME_num(got_g) == 2,
	    "CSN with subjectAlt only");
	GENERAL_NAMES_free(got_g);
	/* refusals */
	vl = seq_of(val, body, 0);
	tap_ok(estca_csn_decode(val, (size_t)vl, &got_n, &got_g, why, sizeof(why)) ==
	    ESTCA_ERR_MALFORMED, "empty CSN refused");
	memcpy(body, sans_der, (size_t)gl);
	memcpy(body + gl, name_der, (size_t)nl);
	vl = seq_of(val, body, nl + gl);
	tap_ok(estca_csn_decode(val, (size_t)vl, &got_n, &got_g, why, sizeof(why)) ==
	    ESTCA_ERR_MALFORMED && got_n == NULL && got_g == NULL,
	    "CSN with subjectAlt before subject refused");
	memcpy(body, name_der, (size_t)nl);
	memcpy(body + nl, name_der, (size_t)nl);
	vl = seq_of(val, body, 2 * nl);
	tap_ok(estca_csn_decode(val, (size_t)vl, &got_n, &got_g, why, sizeof(why)) ==
	    ESTCA_ERR_MALFORMED, "CSN with two subjects refused");
	vl = seq_of(val, name_der, nl);
	val[vl] = 0;
	tap_ok(estca_csn_decode(val, (size_t)vl + 1, &got_n, &got_g, why, sizeof(why)) ==
	    ESTCA_ERR_MALFORMED, "CSN with a byte after it refused");
	body[0] = 0x04;
	body[1] = 0x00;
	vl = seq_of(val, body, 2);
	tap_ok(estca_csn_decode(val, (size_t)vl, &got_n, &got_g, why, sizeof(why)) ==
	    ESTCA_ERR_MALFORMED, "CSN holding an OCTET STRING refused");

	/* in a request, as the attribute */
	{
		X509_REQ *req = X509_REQ_new();
		X509_NAME *on = name_of(old);
		unsigned char *der = NULL;
		int len;

		memcpy(body, name_der, (size_t)nl);
		memcpy(body + nl, sans_der, (size_t)gl);
		vl = seq_of(val, body, nl + gl);
		X509_REQ_set_version(req, 0);
		X509_REQ_set_subject_name(req, on);
		X509_REQ_set_pubkey(req, key1);
		X509_REQ_add1_attr_by_txt(req, ESTCA_OID_CHANGE_SUBJECT_NAME,
		    V_ASN1_SEQUENCE, val, vl);
		X509_REQ_sign(req, key1, EVP_sha256());
		len = i2d_X509_REQ(req, &der);
		tap_ok(estca_csr_decode(der, (size_t)len, &c, why, sizeof(why)) == 0 &&
		    c.csn && c.csn_subject != NULL &&
		    X509_NAME_cmp(c.csn_subject, n) == 0 &&
		    sk_GENERAL_NAME_num(c.csn_sans) == 2 &&
		    X509_NAME_cmp(c.subject, on) == 0,
		    "request with ChangeSubjectName decodes (%s)", why);
		estca_csr_free(&c);
		OPENSSL_free(der);
		der = NULL;
		/* a second ChangeSubjectName attribute (OpenSSL may refuse to
		 * add a duplicate; then this case cannot be built here) */
		if (X509_REQ_add1_attr_by_txt(req, ESTCA_OID_CHANGE_SUBJECT_NAME,
		    V_ASN1_SEQUENCE, val, vl) &&
		    X509_REQ_get_attr_count(req) == 2) {
			X509_REQ_sign(req, key1, EVP_sha256());
			len = i2d_X509_REQ(req, &der);
			tap_ok(estca_csr_decode(der, (size_t)len, &c, why,
			    sizeof(why)) == ESTCA_ERR_MALFORMED,
			    "two ChangeSubjectName attributes refused (%s)", why);
			estca_csr_free(&c);
		} else {
			printf("# duplicate attribute not buildable: %d\n",
			    X509_REQ_get_attr_count(req));
		}
		OPENSSL_free(der);
		X509_REQ_free(req);
		X509_NAME_free(on);
	}
	X509_NAME_free(n);
	GENERAL_NAMES_free(g);
}

/* ---- credentials ----------------------------------------------------------- */

static void
test_cred(void)
{
	static const struct {
		const char *hdr;
		int want;
		const char *user, *pass;
	} basic[] = {
		{ "Basic ZXN0YWRtaW46Zm9vMTIz", 0, "estadmin", "foo123" },
		{ "basic   ZXN0YWRtaW46Zm9vMTIz  ", 0, "estadmin", "foo123" },
		{ "BASIC dTphOmI=", 0, "u", "a:b" },        /* u:a:b */
		{ "Basic dTo=", 0, "u", "" },               /* u: */
		{ "Basic OnB3", ESTCA_ERR_MALFORMED, NULL, NULL },   /* :pw */
		{ "Basic dXNlcg==", ESTCA_ERR_MALFORMED, NULL, NULL }, /* user */
		{ "Basic dQlhOmI=", ESTCA_ERR_MALFORMED, NULL, NULL }, /* u\ta:b */
		{ "Basic ZXN0!", ESTCA_ERR_MALFORMED, NULL, NULL },
		{ "Basic ZXN0YWRtaW46Zm9vMTIz x", ESTCA_ERR_MALFORMED, NULL, NULL },
		{ "Basic", ESTCA_ERR_NOT_FOUND, NULL, NULL },
		{ "Bearer abc", ESTCA_ERR_NOT_FOUND, NULL, NULL },
		{ "Basicx ZXN0", ESTCA_ERR_NOT_FOUND, NULL, NULL },
		{ NULL, ESTCA_ERR_NOT_FOUND, NULL, NULL },
	};
	char user[ESTCA_BASIC_USER_MAX + 1], pass[ESTCA_BASIC_PASS_MAX + 1];
	char setting[64], hash[128];
	struct crypt_data *cd = OPENSSL_zalloc(sizeof(*cd));
	struct estca_ra_cache *cache = OPENSSL_zalloc(sizeof(*cache));
	struct estca_ra_cred k = { .alias = "est", .member_id = 7,
	    .username = "estadmin", .password = "foo123", .hash = NULL };
	const char *h;

	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++) {
		int r = estca_basic_parse(basic[i].hdr, user, pass);

		tap_ok(r == basic[i].want && (r != 0 ||
		    (strcmp(user, basic[i].user) == 0 &&
		    strcmp(pass, basic[i].pass) == 0)) &&
		    (r == 0 || (user[0] == 0 && pass[0] == 0)),
		    "Basic \"%s\" -> %d", basic[i].hdr ? basic[i].hdr : "(none)", r);
	}
	{
		/* a password above the limit */
		static char hdr[2048];
		unsigned char raw[600];
		int n;

		memcpy(raw, "u:", 2);
		memset(raw + 2, 'p', 300);
		memcpy(hdr, "Basic ", 6);
		n = EVP_EncodeBlock((unsigned char *)hdr + 6, raw, 302);
		hdr[6 + n] = 0;
		tap_ok(estca_basic_parse(hdr, user, pass) == ESTCA_ERR_MALFORMED,
		    "Basic password above 255 bytes refused");
	}

	h = crypt_gensalt_rn("$2b$", 4, NULL, 0, setting, sizeof(setting)) ?
	    crypt_r("foo123", setting, cd) : NULL;
	tap_ok(h != NULL && h[0] == '$', "bcrypt hash made for the test");
	snprintf(hash, sizeof(hash), "%s", h != NULL ? h : "*");
	tap_ok(estca_crypt_matches("foo123", hash), "crypt: right password");
	tap_ok(!estca_crypt_matches("foo124", hash), "crypt: wrong password");
	tap_ok(!estca_crypt_matches("foo123", "*0"), "crypt: unusable hash");
	tap_ok(!estca_crypt_matches("foo123", estca_dummy_hash),
	    "crypt: the dummy hash matches nothing we use");

	k.hash = hash;
	tap_ok(!estca_ra_cache_hit(cache, &k, 1000), "cache: empty misses");
	estca_ra_cache_put(cache, &k, 1000);
	tap_ok(estca_ra_cache_hit(cache, &k, 1000 + ESTCA_RA_CACHE_TTL - 1),
	    "cache: hit within the TTL");
	tap_ok(!estca_ra_cache_hit(cache, &k, 1000 + ESTCA_RA_CACHE_TTL),
	    "cache: miss once the TTL passed");
	k.password = "foo124";
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001), "cache: other password misses");
	k.password = "foo123";
	k.hash = estca_dummy_hash;
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001),
	    "cache: a new stored hash (password changed) misses");
	k.hash = hash;
	k.member_id = 8;
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001), "cache: other member misses");
	k.member_id = 7;
	k.alias = "other";
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001), "cache: other alias misses");
	k.alias = "est";
	for (int i = 0; i < ESTCA_RA_CACHE_SLOTS + 1; i++) {
		char u[16];
		struct estca_ra_cred o = k;

		snprintf(u, sizeof(u), "user%d", i);
		o.username = u;
		estca_ra_cache_put(cache, &o, 1002);
	}
	tap_ok(!estca_ra_cache_hit(cache, &k, 1003),
	    "cache: a full cache evicts the oldest");
	{
		tap_ok(memmem(cache, sizeof(*cache), "foo123", 6) == NULL,
		    "cache: never holds the password");
	}
	estca_ra_cache_clear(cache);
	tap_ok(!cache->keyed, "cache: cleared");
	OPENSSL_clear_free(cd, sizeof(*cd));
	OPENSSL_free(cache);
}

/* The approval queue's decisions, as a table. */
static void
test_approval(void)
{
	static const struct {
		bool required, found;
		const char *status;
		bool expired, same_ee;
		long long others;
		enum estca_approval_action act;
		int err;
		const char *what;
	} t[] = {
		{ false, false, NULL, false, false, 0, ESTCA_APPROVAL_NONE, 0,
		    "no approval required: issue" },
		{ true, false, NULL, false, false, 0, ESTCA_APPROVAL_QUEUE,
		    ESTCA_WEB_PENDING, "required, new: queue (202)" },
		{ true, false, NULL, false, false, 1, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "required, another request open: 403" },
		{ false, true, "pending", false, true, 0, ESTCA_APPROVAL_WAIT,
		    ESTCA_WEB_PENDING, "queued, pending: 202 again" },
		{ true, true, "approved", false, true, 0, ESTCA_APPROVAL_RELEASE,
		    0, "queued, approved: issue" },
		{ false, true, "approved", false, true, 0, ESTCA_APPROVAL_RELEASE,
		    0, "approved, approval no longer required: still issue" },
		{ true, true, "rejected", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "rejected: 403" },
		{ true, true, "issued", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "issued: 403" },
		{ true, true, "expired", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "marked expired: 403" },
		{ true, true, "pending", true, true, 0, ESTCA_APPROVAL_EXPIRE,
		    ESTCA_ERR_REFUSED, "pending past expiry: expire, 403" },
		{ true, true, "approved", true, true, 0, ESTCA_APPROVAL_EXPIRE,
		    ESTCA_ERR_REFUSED, "approved past expiry: expire, 403" },
		{ true, true, "rejected", true, false, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "rejected and expired: rejected wins" },
		{ true, true, "pending", false, false, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "pending, end entity gone: 403" },
		{ true, true, "approved", false, false, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "approved, end entity replaced: 403" },
		{ true, true, "bogus", false, true, 0, ESTCA_APPROVAL_REFUSE,
		    ESTCA_ERR_REFUSED, "unknown status: 403" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct estca_approval_facts f = {
			.required = t[i].required,
			.found = t[i].found,
			.status = t[i].status,
			.expired = t[i].expired,
			.same_ee = t[i].same_ee,
			.open_others = t[i].others,
		};
		enum estca_approval_action act = ESTCA_APPROVAL_NONE;
		struct estca_decision d;

		estca_policy_approval(&f, &act, &d);
		tap_ok(act == t[i].act && d.err == t[i].err && d.reason != NULL &&
		    d.audit[0] != 0, "approval: %s", t[i].what);
	}
}

int
main(void)
{
	key1 = EVP_EC_gen("P-256");
	key2 = EVP_EC_gen("P-256");
	if (key1 == NULL || key2 == NULL) {
		printf("Bail out! no EC keys\n");
		return 1;
	}
	test_base64();
	test_csr();
	test_names();
	test_sans();
	test_enroll();
	test_renew();
	test_ra_vendor();
	test_csn();
	test_cred();
	test_approval();
	EVP_PKEY_free(key1);
	EVP_PKEY_free(key2);
	return tap_done();
}
