/*
 * issue.h - building and signing certificates.  The engine never signs
 * anything a caller hands it ready-made: it builds the TBSCertificate here
 * from a profile and the few facts of a request, lints it, has the HSM key
 * sign it, and checks the signature before anyone sees it.  issue.c
 * builds, lint.c lints, sign_ee.c signs end-entity certificates.
 */
#ifndef ESTCA_ISSUE_H
#define ESTCA_ISSUE_H

#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "buf.h"
#include "errors.h"
#include "profile.h"
#include "wire.h"

struct estca_hsm;

#define ESTCA_SERIAL_LEN 20

/* A CA the engine signs for.  key lives in the HSM. */
struct estca_ca {
	char name[64];
	char key_label[128];
	EVP_PKEY *key;            /* private key, signing in the token */
	X509 *cert;               /* this CA's certificate */
	STACK_OF(X509) *chain;    /* cert first, then its issuers */
	const EVP_MD *md;         /* digest matching the CA key */
	EVP_MD *md_fetched;       /* md fetched from the provider, owned; or NULL */
	int pss;                  /* RSA CA: sign RSASSA-PSS, not PKCS#1 v1.5 */
	struct estca_hsm *hsm;    /* token for PSS (CKM_RSA_PKCS_PSS), by key_label */
};

/* What a caller may say about an end-entity certificate. */
struct estca_ee_req {
	const X509_NAME *subject;
	const STACK_OF(GENERAL_NAME) *sans;   /* NULL: none */
	const ESTCA_SPKI *spki;
	long validity_secs;                   /* 0: profile default */
	const struct estca_curves *curves;    /* NULL: built per call */
	int verify;                           /* check the HSM's signature */
};

/* Digest for a CA key: SHA-384 for P-384, else SHA-256. */
const EVP_MD *estca_md_for_key(const EVP_PKEY *pub);

/*
 * Turn 20 random bytes into a positive serial of at most 159 bits.
 * Returns ESTCA_ERR_INTERNAL if the bytes are all zero (ask again).
 */
int estca_serial_from_random(unsigned char serial[ESTCA_SERIAL_LEN]) ESTCA_WUR;

/*
 * Build, lint and sign an end-entity certificate.  On refusal returns
 * ESTCA_ERR_REFUSED (or MALFORMED) with a one-line reason.
 * estca_build_ee() does the checks, the building and the lint without
 * the HSM; estca_sign_ee() then signs x with the CA key (and verifies the
 * signature when verify is set), appending the certificate's DER to der
 * unless it is NULL.  estca_issue_ee() is both in turn.
 */
int estca_build_ee(const struct estca_ca *ca, const struct estca_profile *p,
    const struct estca_ee_req *rq, const unsigned char serial[ESTCA_SERIAL_LEN],
    X509 **out, char *reason, size_t reasonlen) ESTCA_WUR;
int estca_sign_ee(const struct estca_ca *ca, X509 *x, int verify,
    struct estca_buf *der, char *reason, size_t reasonlen) ESTCA_WUR;
int estca_issue_ee(const struct estca_ca *ca, const struct estca_profile *p,
    const struct estca_ee_req *rq, const unsigned char serial[ESTCA_SERIAL_LEN],
    X509 **out, char *reason, size_t reasonlen) ESTCA_WUR;

/*
 * Build and sign a CA certificate for subject_pub.  issuer NULL means
 * self-signed (sign_key must then match subject_pub).  pathlen < 0: none.
 */
int estca_issue_ca(EVP_PKEY *sign_key, const EVP_MD *md, const X509 *issuer,
    EVP_PKEY *subject_pub, const X509_NAME *subject, long days, int pathlen,
    const unsigned char serial[ESTCA_SERIAL_LEN], X509 **out,
    char *reason, size_t reasonlen) ESTCA_WUR;

/*
 * Sign data with key through libp11 (PKCS#1 v1.5 or ECDSA), into sig
 * (*siglen in: its size).  For the engine's start-up self-test; PSS CAs
 * are tested with estca_hsm_sign_pss().
 */
int estca_sign_probe(EVP_PKEY *key, const EVP_MD *md, const unsigned char *data,
    size_t len, unsigned char *sig, size_t *siglen) ESTCA_WUR;

/*
 * RFC 5280 checks of a built certificate before it is signed: serial,
 * validity order, no duplicate extension, empty subject only with a
 * critical subjectAltName, authorityKeyIdentifier = the issuer's key id,
 * keyUsage the key type can do (estca_ku_key_check) and consistent with
 * the extendedKeyUsage (estca_ku_eku_check, RFC 5280 4.2.1.12).  0, or
 * ESTCA_ERR_REFUSED and a one-line reason starting "lint: ".
 */
int estca_lint(const X509 *x, const X509 *issuer, char *reason, size_t reasonlen) ESTCA_WUR;

#endif
