/*
 * sign_ee.c - signing a built end-entity certificate with the CA key
 * (estca_sign_ee, issue.h): the signature AlgorithmIdentifier (PKCS#1
 * v1.5, RSASSA-PSS, ECDSA), the token's signature of the TBS digest and
 * its check, and the certificate's DER.  It signs only what issue.c
 * built and lint.c passed.
 */
#include <stdio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "buf.h"
#include "hsm.h"
#include "issue.h"
#include "log.h"

/*
 * AlgorithmIdentifier rsassaPss with RSASSA-PSS-params: hash md, MGF1
 * with md, salt as long as the digest, trailer 1 (RFC 4055 section 3.1).
 */
static X509_ALGOR *
pss_algor(const EVP_MD *md)
{
	RSA_PSS_PARAMS *pp = RSA_PSS_PARAMS_new();
	X509_ALGOR *mgfmd = X509_ALGOR_new(), *a = X509_ALGOR_new();
	ASN1_STRING *mgfp = NULL, *ps = NULL;
	int ok = 0;

	if (pp == NULL || mgfmd == NULL || a == NULL ||
	    (pp->hashAlgorithm = X509_ALGOR_new()) == NULL ||
	    (pp->maskGenAlgorithm = X509_ALGOR_new()) == NULL ||
	    (pp->saltLength = ASN1_INTEGER_new()) == NULL)
		goto out;
	X509_ALGOR_set_md(pp->hashAlgorithm, md);
	X509_ALGOR_set_md(mgfmd, md);
	if ((mgfp = ASN1_item_pack(mgfmd, ASN1_ITEM_rptr(X509_ALGOR), NULL)) == NULL ||
	    !X509_ALGOR_set0(pp->maskGenAlgorithm, OBJ_nid2obj(NID_mgf1),
	    V_ASN1_SEQUENCE, mgfp))
		goto out;
	mgfp = NULL;
	if (!ASN1_INTEGER_set(pp->saltLength, EVP_MD_get_size(md)) ||
	    (ps = ASN1_item_pack(pp, ASN1_ITEM_rptr(RSA_PSS_PARAMS), NULL)) == NULL ||
	    !X509_ALGOR_set0(a, OBJ_nid2obj(NID_rsassaPss), V_ASN1_SEQUENCE, ps))
		goto out;
	ps = NULL;
	ok = 1;
out:
	ASN1_STRING_free(mgfp);
	ASN1_STRING_free(ps);
	X509_ALGOR_free(mgfmd);
	RSA_PSS_PARAMS_free(pp);
	if (!ok) {
		X509_ALGOR_free(a);
		return NULL;
	}
	return a;
}

/* The AlgorithmIdentifier of the CA's signatures. */
static X509_ALGOR *
sig_algor(const struct estca_ca *ca)
{
	X509_ALGOR *a;
	int nid = 0;

	if (ca->pss)
		return pss_algor(ca->md);
	if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(ca->md),
	    EVP_PKEY_get_base_id(X509_get0_pubkey(ca->cert))) || (a = X509_ALGOR_new()) == NULL)
		return NULL;
	/* RSA PKCS#1 v1.5 carries NULL parameters; ECDSA none (RFC 5758) */
	if (!X509_ALGOR_set0(a, OBJ_nid2obj(nid),
	    EVP_PKEY_get_base_id(X509_get0_pubkey(ca->cert)) == EVP_PKEY_RSA ?
	    V_ASN1_NULL : V_ASN1_UNDEF, NULL)) {
		X509_ALGOR_free(a);
		return NULL;
	}
	return a;
}

/* The token's signature of the digest md: libp11's key, or CKM_RSA_PKCS_PSS. */
static int
hsm_sign_digest(const struct estca_ca *ca, const unsigned char *md, size_t mdlen,
    unsigned char *sig, size_t *siglen)
{
	EVP_PKEY_CTX *pc;
	int ok;

	/*
	 * PSS does not go through libp11: its legacy key path hands the token
	 * a raw RSA operation (CKM_RSA_X_509) on a block OpenSSL padded, which
	 * HSMs under a FIPS policy refuse.
	 */
	if (ca->pss)
		return estca_hsm_sign_pss(ca->hsm, ca->key_label, EVP_MD_get_type(ca->md),
		    md, mdlen, sig, siglen) == 0 ? 0 : ESTCA_ERR_UNAVAILABLE;
	pc = EVP_PKEY_CTX_new(ca->key, NULL);
	ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(pc, ca->md) == 1 &&
	    EVP_PKEY_sign(pc, sig, siglen, md, mdlen) == 1;
	EVP_PKEY_CTX_free(pc);
	if (!ok)
		estca_log_ssl(ESTCA_LOG_ERR, "HSM signature failed");
	return ok ? 0 : ESTCA_ERR_UNAVAILABLE;
}

/* Does sig verify as the CA's signature of the digest md? */
static int
check_digest_sig(const struct estca_ca *ca, const unsigned char *md, size_t mdlen,
    const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *vc = EVP_PKEY_CTX_new(X509_get0_pubkey(ca->cert), NULL);
	int ok = vc != NULL && EVP_PKEY_verify_init(vc) == 1 &&
	    EVP_PKEY_CTX_set_signature_md(vc, ca->md) == 1 &&
	    (!ca->pss || (EVP_PKEY_CTX_set_rsa_padding(vc, RSA_PKCS1_PSS_PADDING) == 1 &&
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(vc, RSA_PSS_SALTLEN_DIGEST) == 1)) &&
	    EVP_PKEY_verify(vc, sig, siglen, md, mdlen) == 1;

	EVP_PKEY_CTX_free(vc);
	return ok;
}

/* Append a DER tag and the length octets of n to b. */
static int
der_header(struct estca_buf *b, unsigned char tag, size_t n)
{
	unsigned char h[6];
	size_t k = 0;

	h[k++] = tag;
	if (n < 0x80) {
		h[k++] = (unsigned char)n;
	} else {
		int bytes = n > 0xffffff ? 4 : n > 0xffff ? 3 : n > 0xff ? 2 : 1;

		h[k++] = (unsigned char)(0x80 | bytes);
		for (int i = bytes - 1; i >= 0; i--)
			h[k++] = (unsigned char)(n >> (8 * i));
	}
	return estca_buf_add(b, h, k);
}

static size_t
der_header_len(size_t n)
{
	return n < 0x80 ? 2 : n > 0xffffff ? 6 : n > 0xffff ? 5 : n > 0xff ? 4 : 3;
}

int
estca_sign_ee(const struct estca_ca *ca, X509 *x, int verify, struct estca_buf *der,
    char *reason, size_t reasonlen)
{
	X509_ALGOR *alg = sig_algor(ca);
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	unsigned char *tbs = NULL, *algder = NULL, md[EVP_MAX_MD_SIZE], sig[1024];
	unsigned int mdlen = 0;
	size_t siglen = sizeof(sig), body;
	int tbslen = 0, alglen = 0, r = ESTCA_ERR_INTERNAL;

	ERR_clear_error();
	/*
	 * What X509_sign() does, with the HSM's signature of a digest: the
	 * algorithm in both places, the TBS encoded once, hashed, signed.  x is
	 * the engine's own certificate, still being built, hence the casts.
	 */
	X509_get0_signature(&csig, &calg, x);
	if (alg == NULL || !X509_ALGOR_copy((X509_ALGOR *)X509_get0_tbs_sigalg(x), alg) ||
	    !X509_ALGOR_copy((X509_ALGOR *)calg, alg) ||
	    (tbslen = i2d_re_X509_tbs(x, &tbs)) <= 0 ||
	    (alglen = i2d_X509_ALGOR(alg, &algder)) <= 0 ||
	    !EVP_Digest(tbs, (size_t)tbslen, md, &mdlen, ca->md, NULL)) {
		estca_log_ssl(ESTCA_LOG_ERR, "preparing the signature");
		snprintf(reason, reasonlen, "building the certificate failed");
		goto out;
	}
	if ((r = hsm_sign_digest(ca, md, mdlen, sig, &siglen)) != 0) {
		snprintf(reason, reasonlen, "HSM signature failed");
		goto out;
	}
	if (verify && !check_digest_sig(ca, md, mdlen, sig, siglen)) {
		estca_log_ssl(ESTCA_LOG_ERR, "signature made by the HSM does not verify");
		snprintf(reason, reasonlen, "HSM produced a bad signature");
		r = ESTCA_ERR_HSM;
		goto out;
	}
	r = ESTCA_ERR_NOMEM;
	if (!ASN1_BIT_STRING_set((ASN1_BIT_STRING *)csig, sig, (int)siglen)) {
		snprintf(reason, reasonlen, "building the certificate failed");
		goto out;
	}
	/* a whole number of octets: no unused bits */
	((ASN1_BIT_STRING *)csig)->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	((ASN1_BIT_STRING *)csig)->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	/* Certificate ::= SEQUENCE { tbs, signatureAlgorithm, BIT STRING } */
	body = (size_t)tbslen + (size_t)alglen + der_header_len(siglen + 1) + siglen + 1;
	if (der != NULL) {
		static const unsigned char no_unused_bits = 0;

		if ((r = der_header(der, 0x30, body)) != 0 ||
		    (r = estca_buf_add(der, tbs, (size_t)tbslen)) != 0 ||
		    (r = estca_buf_add(der, algder, (size_t)alglen)) != 0 ||
		    (r = der_header(der, 0x03, siglen + 1)) != 0 ||
		    (r = estca_buf_add(der, &no_unused_bits, 1)) != 0 ||
		    (r = estca_buf_add(der, sig, siglen)) != 0) {
			snprintf(reason, reasonlen, "encoding the certificate failed");
			goto out;
		}
	}
	r = 0;
out:
	X509_ALGOR_free(alg);
	OPENSSL_free(tbs);
	OPENSSL_free(algder);
	return r;
}
