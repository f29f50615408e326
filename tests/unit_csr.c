/*
 * unit_csr.c - the request decoder of the web tier (fcgi/csr.c): media
 * types, PKCS#10 bodies as DER and base64, and the ChangeSubjectName
 * attribute.  Requests are made in memory with OpenSSL.  Prints TAP;
 * exits 1 if any case fails.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "csr.h"
#include "fixtures.h"
#include "tap.h"

/* ---- media types ------------------------------------------------------- */

static void
test_media_type(void)
{
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
	/* Ed25519 signs without a separate digest */
	X509_REQ_sign(req, key, EVP_PKEY_is_a(key, "ED25519") ? NULL : EVP_sha256());
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

/* The key and its encodings as the decoder gives them: kind names it. */
static void
key_case(EVP_PKEY *key, const char *kind)
{
	static const char *subj[] = { "CN", "keys", NULL };
	struct estca_csr c;
	unsigned char *der, *again = NULL, *spki = NULL, *want = NULL;
	char why[200];
	int len, n, m;

	if (key == NULL) {
		tap_ok(0, "%s: no key made", kind);
		return;
	}
	der = make_csr(key, subj, NULL, NULL, &len);
	tap_ok(der != NULL && estca_csr_decode(der, (size_t)len, &c, why,
	    sizeof(why)) == 0, "%s: request decodes (%s)", kind, der ? why : "-");
	tap_ok(c.key != NULL && EVP_PKEY_eq(c.key, key) == 1,
	    "%s: the request's key", kind);
	n = c.spki != NULL ? i2d_X509_PUBKEY(c.spki, &spki) : -1;
	m = i2d_PUBKEY(key, &want);
	tap_ok(n > 0 && n == m && want != NULL &&
	    memcmp(spki, want, (size_t)n) == 0,
	    "%s: its SubjectPublicKeyInfo as sent", kind);
	n = estca_csr_der(&c, &again);
	tap_ok(n == len && again != NULL && memcmp(again, der, (size_t)len) == 0,
	    "%s: the request re-encodes to the bytes sent", kind);
	estca_csr_free(&c);
	OPENSSL_free(again);
	OPENSSL_free(spki);
	OPENSSL_free(want);
	OPENSSL_free(der);
}

/*
 * Named-curve EC keys (uncompressed) and RSA keys are made from the
 * request's fields; a compressed point, Ed25519 and RSA-PSS keys go
 * through OpenSSL's decoders: the same facts either way.  A key that is
 * not one, and a request signed with another key, are refused.
 */
static void
test_keys(void)
{
	static const char *subj[] = { "CN", "keys", NULL };
	EVP_PKEY *p384 = EVP_EC_gen("P-384"), *rsa = EVP_RSA_gen(2048),
	    *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
	    *pss = NULL,
	    *comp = EVP_EC_gen("P-256");
	struct estca_csr c;
	unsigned char *der;
	char why[200];
	int len;

	EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);

	if (pctx == NULL || EVP_PKEY_keygen_init(pctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_keygen_bits(pctx, 2048) != 1 ||
	    EVP_PKEY_generate(pctx, &pss) != 1)
		pss = NULL;
	EVP_PKEY_CTX_free(pctx);
	tap_ok(p384 && rsa && ed && pss && comp, "test keys made");
	key_case(key1, "P-256");
	key_case(p384, "P-384");
	key_case(rsa, "RSA 2048");
	key_case(ed, "Ed25519");
	key_case(pss, "RSA-PSS");
	tap_ok(EVP_PKEY_set_utf8_string_param(comp, "point-format",
	    "compressed") == 1, "P-256 key set to encode its point compressed");
	key_case(comp, "P-256, compressed point");

	/* the point's last byte changed: not on the curve, no key */
	der = make_csr(key1, subj, NULL, NULL, &len);
	{
		const unsigned char *p = der;
		X509_REQ *r = d2i_X509_REQ(NULL, &p, len);
		unsigned char *spki = NULL;
		int n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(r), &spki);
		unsigned char *at = NULL;

		for (int i = 0; n > 0 && i + n <= len; i++)
			if (memcmp(der + i, spki, (size_t)n) == 0)
				at = der + i + n - 1;
		tap_ok(at != NULL, "the key found in the request");
		if (at != NULL)
			*at ^= 1;
		X509_REQ_free(r);
		OPENSSL_free(spki);
	}
	tap_ok(estca_csr_decode(der, (size_t)len, &c, why, sizeof(why)) ==
	    ESTCA_ERR_MALFORMED && strcmp(why, "request public key unusable") == 0,
	    "a point off the curve refused (%s)", why);
	OPENSSL_free(der);

	/* key1 in the request, signed with key2 */
	{
		X509_REQ *req = X509_REQ_new();
		unsigned char *d = NULL;

		X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
		    MBSTRING_ASC, (const unsigned char *)"other", -1, -1, 0);
		X509_REQ_set_pubkey(req, key1);
		X509_REQ_sign(req, key2, EVP_sha256());
		len = i2d_X509_REQ(req, &d);
		tap_ok(estca_csr_decode(d, (size_t)len, &c, why, sizeof(why)) ==
		    ESTCA_ERR_MALFORMED && strstr(why, "signature") != NULL,
		    "a request signed with another key refused (%s)", why);
		X509_REQ_free(req);
		OPENSSL_free(d);
	}
	EVP_PKEY_free(p384);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(pss);
	EVP_PKEY_free(comp);
}

int
main(void)
{
	if (fixture_keys(&key1, &key2) != 0)
		return 1;
	test_media_type();
	test_csr();
	test_keys();
	test_csn();
	fixture_keys_free(key1, key2);
	return tap_done();
}
