/*
 * lint.c - the RFC 5280 checks of a built certificate before it is
 * signed (estca_lint, issue.h).  It reads the certificate itself, not the
 * profile it was built from; refusing here means nothing is signed.
 */
#include <stdio.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "issue.h"

/*
 * keyUsage against the key type and, when there is an extendedKeyUsage,
 * against RFC 5280 4.2.1.12 (estca_ku_eku_check), decoded from x itself
 * whatever the profile said.
 */
static int
lint_usage(const X509 *x, char *reason, size_t reasonlen)
{
	ASN1_BIT_STRING *kus;
	EXTENDED_KEY_USAGE *ekus;
	ASN1_OBJECT *alg = NULL;
	char why[256];
	int crit = -1, nids[16], alg_nid, r = 0;
	unsigned ku = 0;
	size_t n = 0;

	if ((kus = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL)) == NULL) {
		if (crit == -1)
			return 0;     /* none: nothing to be inconsistent with */
		snprintf(reason, reasonlen, "lint: keyUsage does not decode");
		return ESTCA_ERR_REFUSED;
	}
	for (int b = 0; b < 9; b++)
		if (ASN1_BIT_STRING_get_bit(kus, b))
			ku |= 1u << b;
	ASN1_BIT_STRING_free(kus);
	if (!X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x))) {
		snprintf(reason, reasonlen, "lint: public key algorithm unreadable");
		return ESTCA_ERR_REFUSED;
	}
	alg_nid = OBJ_obj2nid(alg);
	if ((alg_nid == NID_rsaEncryption || alg_nid == NID_X9_62_id_ecPublicKey) &&
	    estca_ku_key_check(ku, alg_nid == NID_rsaEncryption, why, sizeof(why)) != 0) {
		snprintf(reason, reasonlen, "lint: %s", why);
		return ESTCA_ERR_REFUSED;
	}
	crit = -1;
	if ((ekus = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL)) == NULL) {
		if (crit == -1)
			return 0;
		snprintf(reason, reasonlen, "lint: extendedKeyUsage does not decode");
		return ESTCA_ERR_REFUSED;
	}
	if (sk_ASN1_OBJECT_num(ekus) < 1 ||
	    (size_t)sk_ASN1_OBJECT_num(ekus) > sizeof(nids) / sizeof(nids[0])) {
		snprintf(reason, reasonlen, "lint: extendedKeyUsage of %d purposes",
		    sk_ASN1_OBJECT_num(ekus));
		r = ESTCA_ERR_REFUSED;
	}
	for (int i = 0; r == 0 && i < sk_ASN1_OBJECT_num(ekus); i++)
		nids[n++] = OBJ_obj2nid(sk_ASN1_OBJECT_value(ekus, i));
	EXTENDED_KEY_USAGE_free(ekus);
	if (r == 0 && estca_ku_eku_check(ku, nids, n, why, sizeof(why)) != 0) {
		snprintf(reason, reasonlen, "lint: %s", why);
		r = ESTCA_ERR_REFUSED;
	}
	return r;
}

int
estca_lint(const X509 *x, const X509 *issuer, char *reason, size_t reasonlen)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);
	AUTHORITY_KEYID *akid;
	ASN1_OCTET_STRING *iski;
	int n = X509_get_ext_count(x), ok;

	if (sn == NULL || ASN1_STRING_length(sn) < 1 ||
	    ASN1_STRING_length(sn) > 20 || sn->type == V_ASN1_NEG_INTEGER) {
		snprintf(reason, reasonlen, "lint: serial must be positive, at most 20 octets");
		return ESTCA_ERR_REFUSED;
	}
	if (ASN1_TIME_compare(X509_get0_notBefore(x), X509_get0_notAfter(x)) >= 0) {
		snprintf(reason, reasonlen, "lint: notBefore is not before notAfter");
		return ESTCA_ERR_REFUSED;
	}
	for (int i = 0; i < n; i++) {
		const ASN1_OBJECT *oi = X509_EXTENSION_get_object(X509_get_ext(x, i));

		for (int j = i + 1; j < n; j++)
			if (OBJ_cmp(oi, X509_EXTENSION_get_object(X509_get_ext(x, j))) == 0) {
				snprintf(reason, reasonlen, "lint: duplicate extension");
				return ESTCA_ERR_REFUSED;
			}
	}
	if (X509_NAME_entry_count(X509_get_subject_name(x)) == 0) {
		int crit = -1;
		GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);

		GENERAL_NAMES_free(g);
		if (g == NULL || crit != 1) {
			snprintf(reason, reasonlen,
			    "lint: empty subject needs a critical subjectAltName");
			return ESTCA_ERR_REFUSED;
		}
	}
	/* decode afresh: the cached extension values may predate our edits */
	akid = X509_get_ext_d2i(x, NID_authority_key_identifier, NULL, NULL);
	iski = X509_get_ext_d2i(issuer, NID_subject_key_identifier, NULL, NULL);
	ok = akid != NULL && akid->keyid != NULL && iski != NULL &&
	    ASN1_OCTET_STRING_cmp(akid->keyid, iski) == 0;
	AUTHORITY_KEYID_free(akid);
	ASN1_OCTET_STRING_free(iski);
	if (!ok) {
		snprintf(reason, reasonlen,
		    "lint: authorityKeyIdentifier does not match the issuer's key id");
		return ESTCA_ERR_REFUSED;
	}
	return lint_usage(x, reason, reasonlen);
}
