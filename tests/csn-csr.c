/*
 * csn-csr.c - test helper: add a ChangeSubjectName attribute (RFC 6402
 * 2.8) to a PKCS#10 request and sign it again, since `openssl req` can
 * only add text attributes.
 *
 *   csn-csr KEY.pem IN.der NEW.der OUT.der [subject|sans|both|empty]
 *
 * The new subject and SANs are taken from the request NEW.der (made with
 * `openssl req` for the purpose); the last argument says which of the two
 * the ChangeSubjectName carries (default both; "empty" writes an empty
 * SEQUENCE, which must be refused).  Exits 0 on success.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static X509_REQ *
read_req(const char *path)
{
	FILE *f = fopen(path, "rb");
	X509_REQ *r;

	if (f == NULL)
		return NULL;
	r = d2i_X509_REQ_fp(f, NULL);
	fclose(f);
	return r;
}

int
main(int argc, char **argv)
{
	const char *what = argc > 5 ? argv[5] : "both";
	unsigned char body[8192], val[8300], *p;
	int blen = 0, n, vlen;
	X509_REQ *in, *tmpl;
	EVP_PKEY *key;
	FILE *f;
	ASN1_OBJECT *obj;
	STACK_OF(X509_EXTENSION) *exts;
	GENERAL_NAMES *sans = NULL;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: csn-csr KEY.pem IN.der NEW.der OUT.der "
		    "[subject|sans|both|empty]\n");
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL ||
	    (key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		fprintf(stderr, "csn-csr: cannot read key %s\n", argv[1]);
		return 1;
	}
	fclose(f);
	if ((in = read_req(argv[2])) == NULL || (tmpl = read_req(argv[3])) == NULL) {
		fprintf(stderr, "csn-csr: cannot read the requests\n");
		return 1;
	}
	if (strcmp(what, "subject") == 0 || strcmp(what, "both") == 0) {
		p = body + blen;
		n = i2d_X509_NAME(X509_REQ_get_subject_name(tmpl), &p);
		if (n <= 0)
			return 1;
		blen += n;
	}
	exts = X509_REQ_get_extensions(tmpl);
	if (exts != NULL)
		sans = X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	if ((strcmp(what, "sans") == 0 || strcmp(what, "both") == 0) && sans != NULL) {
		p = body + blen;
		n = i2d_GENERAL_NAMES(sans, &p);
		if (n <= 0)
			return 1;
		blen += n;
	}
	GENERAL_NAMES_free(sans);
	p = val;
	ASN1_put_object(&p, 1, blen, V_ASN1_SEQUENCE, V_ASN1_UNIVERSAL);
	memcpy(p, body, (size_t)blen);
	vlen = (int)(p - val) + blen;
	obj = OBJ_txt2obj("1.3.6.1.5.5.7.7.36", 1);
	if (obj == NULL ||
	    !X509_REQ_add1_attr_by_OBJ(in, obj, V_ASN1_SEQUENCE, val, vlen) ||
	    !X509_REQ_sign(in, key, EVP_sha256())) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	if ((f = fopen(argv[4], "wb")) == NULL || !i2d_X509_REQ_fp(f, in)) {
		fprintf(stderr, "csn-csr: cannot write %s\n", argv[4]);
		return 1;
	}
	fclose(f);
	ASN1_OBJECT_free(obj);
	X509_REQ_free(in);
	X509_REQ_free(tmpl);
	EVP_PKEY_free(key);
	return 0;
}
