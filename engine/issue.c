/*
 * issue.c - certificate construction (issue.h): end-entity certificates
 * from a profile and a request, CA certificates for estca-ca.  The lint
 * of a built certificate is in lint.c, the HSM's signature of an
 * end-entity certificate in sign_ee.c.
 *
 * The request's public key is copied into the certificate as encoded
 * (algorithm, parameters, key bits) rather than re-encoded from an
 * EVP_PKEY: same bytes, and much cheaper.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "buf.h"
#include "issue.h"
#include "log.h"

/* Certificates start this long before they are made, for clients whose
 * clocks run a little behind. */
#define BACKDATE_SECS 60

const EVP_MD *
estca_md_for_key(const EVP_PKEY *pub)
{
	if (EVP_PKEY_is_a(pub, "EC") && EVP_PKEY_get_bits(pub) > 256)
		return EVP_sha384();
	return EVP_sha256();
}

int
estca_serial_from_random(unsigned char serial[ESTCA_SERIAL_LEN])
{
	serial[0] &= 0x7f;
	for (int i = 0; i < ESTCA_SERIAL_LEN; i++)
		if (serial[i] != 0)
			return 0;
	return ESTCA_ERR_INTERNAL;
}

static int
set_serial(X509 *x, const unsigned char serial[ESTCA_SERIAL_LEN])
{
	BIGNUM *bn = BN_bin2bn(serial, ESTCA_SERIAL_LEN, NULL);
	ASN1_INTEGER *ai;
	int ok;

	if (bn == NULL)
		return 0;
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (ai == NULL)
		return 0;
	ok = X509_set_serialNumber(x, ai);
	ASN1_INTEGER_free(ai);
	return ok;
}

/* SHA-1 of the subjectPublicKey bits (RFC 5280 4.2.1.2 method 1). */
static ASN1_OCTET_STRING *
key_id(const X509_PUBKEY *pub)
{
	const unsigned char *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int pklen;
	ASN1_OCTET_STRING *os;

	if (!X509_PUBKEY_get0_param(NULL, &pk, &pklen, NULL, (X509_PUBKEY *)pub))
		return NULL;
	if (!EVP_Digest(pk, (size_t)pklen, md, &mdlen, EVP_sha1(), NULL))
		return NULL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL)
		return NULL;
	if (!ASN1_OCTET_STRING_set(os, md, (int)mdlen)) {
		ASN1_OCTET_STRING_free(os);
		return NULL;
	}
	return os;
}

/* Copy the encoded public key into the certificate, as it is. */
static int
copy_pubkey(X509 *x, const ESTCA_SPKI *src)
{
	const ASN1_OBJECT *aobj;
	int ptype;
	const void *pval;
	void *nval = NULL;
	unsigned char *nk;
	ASN1_OBJECT *nobj;
	int pklen = ASN1_STRING_length(src->key);

	X509_ALGOR_get0(&aobj, &ptype, &pval, src->alg);
	switch (ptype) {
	case V_ASN1_UNDEF:
	case V_ASN1_NULL:
		break;
	case V_ASN1_OBJECT:
		if ((nval = OBJ_dup(pval)) == NULL)
			return 0;
		break;
	default:
		return 0;
	}
	nobj = OBJ_dup(aobj);
	nk = OPENSSL_memdup(ASN1_STRING_get0_data(src->key), (size_t)pklen);
	if (nobj == NULL || nk == NULL || pklen <= 0 ||
	    !X509_PUBKEY_set0_param(X509_get_X509_PUBKEY(x), nobj, ptype, nval,
	    nk, pklen)) {
		ASN1_OBJECT_free(nobj);
		OPENSSL_free(nk);
		ASN1_OBJECT_free(nval);
		return 0;
	}
	return 1;
}

static int
add_basic_constraints(X509 *x, int ca, int pathlen)
{
	BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
	int ok = 0;

	if (bc == NULL)
		return 0;
	bc->ca = ca ? 0xff : 0;
	if (ca && pathlen >= 0) {
		if ((bc->pathlen = ASN1_INTEGER_new()) == NULL ||
		    !ASN1_INTEGER_set(bc->pathlen, pathlen))
			goto out;
	}
	ok = X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1, X509V3_ADD_DEFAULT) == 1;
out:
	BASIC_CONSTRAINTS_free(bc);
	return ok;
}

/* keyUsage from ESTCA_KU_* style bits (bit n = RFC 5280 bit n). */
static int
add_key_usage(X509 *x, unsigned bits)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int ok = 1;

	if (ku == NULL)
		return 0;
	for (int i = 0; i < 9 && ok; i++)
		if (bits & (1u << i))
			ok = ASN1_BIT_STRING_set_bit(ku, i, 1);
	if (ok)
		ok = X509_add1_ext_i2d(x, NID_key_usage, ku, 1, X509V3_ADD_DEFAULT) == 1;
	ASN1_BIT_STRING_free(ku);
	return ok;
}

static int
add_eku(X509 *x, unsigned eku)
{
	EXTENDED_KEY_USAGE *st = sk_ASN1_OBJECT_new_null();
	int ok = 1;

	if (st == NULL)
		return 0;
	if (eku & ESTCA_EKU_SERVER)
		ok = sk_ASN1_OBJECT_push(st, OBJ_nid2obj(NID_server_auth)) > 0;
	if (ok && (eku & ESTCA_EKU_CLIENT))
		ok = sk_ASN1_OBJECT_push(st, OBJ_nid2obj(NID_client_auth)) > 0;
	if (ok && sk_ASN1_OBJECT_num(st) > 0)
		ok = X509_add1_ext_i2d(x, NID_ext_key_usage, st, 0, X509V3_ADD_DEFAULT) == 1;
	/* built-in objects: nothing to free but the stack */
	sk_ASN1_OBJECT_free(st);
	return ok;
}

static int
add_key_ids(X509 *x, const X509 *issuer)
{
	ASN1_OCTET_STRING *ski = key_id(X509_get_X509_PUBKEY(x));
	AUTHORITY_KEYID *aki = NULL;
	const ASN1_OCTET_STRING *iski;
	int ok = 0;

	if (ski == NULL)
		return 0;
	if (X509_add1_ext_i2d(x, NID_subject_key_identifier, ski, 0,
	    X509V3_ADD_DEFAULT) != 1)
		goto out;
	iski = issuer ? X509_get0_subject_key_id((X509 *)issuer) : ski;
	if (iski == NULL) {
		log_err("issuer certificate has no subjectKeyIdentifier");
		goto out;
	}
	if ((aki = AUTHORITY_KEYID_new()) == NULL ||
	    (aki->keyid = ASN1_OCTET_STRING_dup(iski)) == NULL)
		goto out;
	ok = X509_add1_ext_i2d(x, NID_authority_key_identifier, aki, 0,
	    X509V3_ADD_DEFAULT) == 1;
out:
	AUTHORITY_KEYID_free(aki);
	ASN1_OCTET_STRING_free(ski);
	return ok;
}

static int
add_urls(X509 *x, const struct estca_profile *p)
{
	int ok = 1;

	if (p->crl_url[0]) {
		CRL_DIST_POINTS *dps = sk_DIST_POINT_new_null();
		DIST_POINT *dp = DIST_POINT_new();
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *uri = ASN1_IA5STRING_new();

		ok = dps && dp && gn && uri &&
		    ASN1_STRING_set(uri, p->crl_url, -1) &&
		    (GENERAL_NAME_set0_value(gn, GEN_URI, uri), uri = NULL, 1) &&
		    (dp->distpoint = DIST_POINT_NAME_new()) != NULL &&
		    (dp->distpoint->type = 0,
		     dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null()) != NULL &&
		    sk_GENERAL_NAME_push(dp->distpoint->name.fullname, gn) > 0 &&
		    (gn = NULL, sk_DIST_POINT_push(dps, dp) > 0) &&
		    (dp = NULL, X509_add1_ext_i2d(x, NID_crl_distribution_points, dps,
		    0, X509V3_ADD_DEFAULT) == 1);
		ASN1_IA5STRING_free(uri);
		GENERAL_NAME_free(gn);
		DIST_POINT_free(dp);
		sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	}
	if (ok && (p->ocsp_url[0] || p->ca_issuers_url[0])) {
		AUTHORITY_INFO_ACCESS *aia = sk_ACCESS_DESCRIPTION_new_null();
		const char *urls[2] = { p->ocsp_url, p->ca_issuers_url };
		int nids[2] = { NID_ad_OCSP, NID_ad_ca_issuers };

		ok = aia != NULL;
		for (int i = 0; i < 2 && ok; i++) {
			ACCESS_DESCRIPTION *ad;
			ASN1_IA5STRING *uri;

			if (!urls[i][0])
				continue;
			ad = ACCESS_DESCRIPTION_new();
			uri = ASN1_IA5STRING_new();
			ok = ad && uri && ASN1_STRING_set(uri, urls[i], -1);
			if (ok) {
				ASN1_OBJECT_free(ad->method);
				ad->method = OBJ_nid2obj(nids[i]);
				GENERAL_NAME_set0_value(ad->location, GEN_URI, uri);
				uri = NULL;
				ok = sk_ACCESS_DESCRIPTION_push(aia, ad) > 0;
				if (ok)
					ad = NULL;
			}
			ASN1_IA5STRING_free(uri);
			ACCESS_DESCRIPTION_free(ad);
		}
		if (ok)
			ok = X509_add1_ext_i2d(x, NID_info_access, aia, 0,
			    X509V3_ADD_DEFAULT) == 1;
		sk_ACCESS_DESCRIPTION_pop_free(aia, ACCESS_DESCRIPTION_free);
	}
	return ok;
}

/* notBefore = now - BACKDATE, notAfter = now + secs, capped at cap. */
static int
set_validity(X509 *x, long secs, const ASN1_TIME *cap)
{
	time_t now = time(NULL);

	if (X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_SECS, &now) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)(secs / 86400),
	    secs % 86400, &now) == NULL)
		return 0;
	if (cap != NULL && ASN1_TIME_compare(X509_get0_notAfter(x), cap) > 0)
		return X509_set1_notAfter(x, cap);
	return 1;
}

/* A digest-sign context for key (PKCS#1 v1.5 or ECDSA through libp11). */
static EVP_MD_CTX *
sign_ctx(EVP_PKEY *key, const EVP_MD *md)
{
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	if (m == NULL || EVP_DigestSignInit(m, NULL, md, NULL, key) != 1) {
		EVP_MD_CTX_free(m);
		return NULL;
	}
	return m;
}

int
estca_sign_probe(EVP_PKEY *key, const EVP_MD *md, const unsigned char *data,
    size_t len, unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *m = sign_ctx(key, md);
	int ok = m != NULL && EVP_DigestSign(m, sig, siglen, data, len) == 1;

	EVP_MD_CTX_free(m);
	return ok ? 0 : ESTCA_ERR_HSM;
}

/*
 * Sign x (CA certificates, estca-ca); verify_with NULL skips the check of
 * the HSM's signature.  End-entity certificates go through estca_sign_ee.
 */
static int
sign_and_check(X509 *x, EVP_PKEY *key, const EVP_MD *md, EVP_PKEY *verify_with,
    char *reason, size_t reasonlen)
{
	EVP_MD_CTX *m = sign_ctx(key, md);
	int ok = m != NULL && X509_sign_ctx(x, m) > 0;

	EVP_MD_CTX_free(m);
	if (!ok) {
		estca_log_ssl(ESTCA_LOG_ERR, "HSM signature failed");
		snprintf(reason, reasonlen, "HSM signature failed");
		return ESTCA_ERR_UNAVAILABLE;
	}
	if (verify_with != NULL && X509_verify(x, verify_with) != 1) {
		estca_log_ssl(ESTCA_LOG_ERR, "signature made by the HSM does not verify");
		snprintf(reason, reasonlen, "HSM produced a bad signature");
		return ESTCA_ERR_HSM;
	}
	return 0;
}

int
estca_build_ee(const struct estca_ca *ca, const struct estca_profile *p,
    const struct estca_ee_req *rq, const unsigned char serial[ESTCA_SERIAL_LEN],
    X509 **out, char *reason, size_t reasonlen)
{
	unsigned ku;
	struct estca_keyinfo ki;
	int nsans = rq->sans ? sk_GENERAL_NAME_num(rq->sans) : 0;
	int empty_subject = X509_NAME_entry_count(rq->subject) == 0;
	long validity = rq->validity_secs > 0 ? rq->validity_secs :
	    p->default_validity_secs;
	X509 *x = NULL;
	int r;

	*out = NULL;
	ERR_clear_error();
	if ((r = estca_spki_inspect(rq->spki, rq->curves, &ki, reason, reasonlen)) != 0 ||
	    (r = estca_profile_check_key(p, &ki, reason, reasonlen)) != 0)
		return r;
	if ((r = estca_profile_check_sans(p, rq->sans, reason, reasonlen)) != 0)
		return r;
	if (empty_subject && nsans == 0) {
		snprintf(reason, reasonlen, "empty subject and no subjectAltName");
		return ESTCA_ERR_REFUSED;
	}
	/* keyUsage from the key type and the profile's purposes; never one
	 * the key cannot do (RFC 4055, RFC 8813) */
	if ((r = estca_profile_key_usage(p, &ki, &ku, reason, reasonlen)) != 0)
		return r;
	if (validity > p->max_validity_secs) {
		snprintf(reason, reasonlen,
		    "validity of %ld s beyond profile %s cap of %ld s", validity,
		    p->name, p->max_validity_secs);
		return ESTCA_ERR_REFUSED;
	}

	r = ESTCA_ERR_NOMEM;
	if ((x = X509_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !set_serial(x, serial) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)) ||
	    !X509_set_subject_name(x, (X509_NAME *)rq->subject) ||
	    !set_validity(x, validity, X509_get0_notAfter(ca->cert)) ||
	    !copy_pubkey(x, rq->spki) ||
	    !add_basic_constraints(x, 0, -1) ||
	    !add_key_usage(x, ku) ||
	    !add_eku(x, p->eku) ||
	    !add_key_ids(x, ca->cert) ||
	    !add_urls(x, p))
		goto fail;
	if (nsans > 0 && X509_add1_ext_i2d(x, NID_subject_alt_name,
	    (void *)rq->sans, empty_subject, X509V3_ADD_DEFAULT) != 1)
		goto fail;
	if ((r = estca_lint(x, ca->cert, reason, reasonlen)) != 0)
		goto out;
	*out = x;
	return 0;
fail:
	estca_log_ssl(ESTCA_LOG_ERR, "building certificate failed");
	snprintf(reason, reasonlen, "building the certificate failed");
out:
	X509_free(x);
	return r;
}

int
estca_issue_ee(const struct estca_ca *ca, const struct estca_profile *p,
    const struct estca_ee_req *rq, const unsigned char serial[ESTCA_SERIAL_LEN],
    X509 **out, char *reason, size_t reasonlen)
{
	int r;

	if ((r = estca_build_ee(ca, p, rq, serial, out, reason, reasonlen)) != 0)
		return r;
	if ((r = estca_sign_ee(ca, *out, rq->verify, NULL, reason, reasonlen)) != 0) {
		X509_free(*out);
		*out = NULL;
	}
	return r;
}

int
estca_issue_ca(EVP_PKEY *sign_key, const EVP_MD *md, const X509 *issuer,
    EVP_PKEY *subject_pub, const X509_NAME *subject, long days, int pathlen,
    const unsigned char serial[ESTCA_SERIAL_LEN], X509 **out,
    char *reason, size_t reasonlen)
{
	const unsigned ku = ESTCA_KU_DIGITAL_SIGNATURE | ESTCA_KU_KEY_CERT_SIGN |
	    ESTCA_KU_CRL_SIGN;
	EVP_PKEY *verify_with;
	X509 *x;
	int r = ESTCA_ERR_NOMEM;

	*out = NULL;
	ERR_clear_error();
	if ((x = X509_new()) == NULL ||
	    !X509_set_version(x, X509_VERSION_3) ||
	    !set_serial(x, serial) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) :
	    (X509_NAME *)subject) ||
	    !X509_set_subject_name(x, (X509_NAME *)subject) ||
	    !set_validity(x, days * 86400L, issuer ? X509_get0_notAfter(issuer) : NULL) ||
	    !X509_set_pubkey(x, subject_pub) ||
	    !add_basic_constraints(x, 1, pathlen) ||
	    !add_key_usage(x, ku) ||
	    !add_key_ids(x, issuer))
		goto fail;
	if ((r = estca_lint(x, issuer ? issuer : x, reason, reasonlen)) != 0)
		goto out;
	verify_with = issuer ? X509_get0_pubkey(issuer) : subject_pub;
	if ((r = sign_and_check(x, sign_key, md, verify_with, reason, reasonlen)) != 0)
		goto out;
	*out = x;
	return 0;
fail:
	estca_log_ssl(ESTCA_LOG_ERR, "building CA certificate failed");
	snprintf(reason, reasonlen, "building the CA certificate failed");
out:
	X509_free(x);
	return r;
}
