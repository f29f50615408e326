/*
 * ku.c - keyUsage and extendedKeyUsage: the RFC 5280 4.2.1.12 table of
 * the key purposes estca issues, the checks against it and against the
 * key type, the keyUsage a profile gives a key, and the start-up check
 * of a loaded profile (profile_int.h).  Used by profile.c, issue.c and
 * the lint (lint.c); nothing here signs.
 */
#include <stdio.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>
#include "profile.h"
#include "profile_int.h"

#define KU_DS ESTCA_KU_DIGITAL_SIGNATURE
#define KU_NR ESTCA_KU_NON_REPUDIATION
#define KU_KE ESTCA_KU_KEY_ENCIPHERMENT
#define KU_KA ESTCA_KU_KEY_AGREEMENT

/* RFC 5280 4.2.1.12: the keyUsage bits that may be consistent with each
 * key purpose ("KeyPurposeId ... Key usage bits that may be consistent"). */
static const struct {
	int nid;
	const char *name;
	unsigned profile_eku;   /* ESTCA_EKU_* when a profile can name it */
	unsigned ku;
} purposes[] = {
	{ NID_server_auth, "serverAuth", ESTCA_EKU_SERVER, KU_DS | KU_KE | KU_KA },
	{ NID_client_auth, "clientAuth", ESTCA_EKU_CLIENT, KU_DS | KU_KA },
	{ NID_code_sign, "codeSigning", 0, KU_DS },
	{ NID_email_protect, "emailProtection", 0, KU_DS | KU_NR | KU_KE | KU_KA },
	{ NID_time_stamp, "timeStamping", 0, KU_DS | KU_NR },
	{ NID_OCSP_sign, "OCSPSigning", 0, KU_DS | KU_NR },
};
#define NPURPOSES (sizeof(purposes) / sizeof(purposes[0]))

static const char *const ku_names[9] = { "digitalSignature", "nonRepudiation",
	"keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign",
	"cRLSign", "encipherOnly", "decipherOnly" };

const char *
estca_ku_name(int bit)
{
	return bit >= 0 && bit < 9 ? ku_names[bit] : "?";
}

static int
purpose_index(int nid)
{
	for (size_t i = 0; i < NPURPOSES; i++)
		if (purposes[i].nid == nid)
			return (int)i;
	return -1;
}

/* The purposes of a profile's ESTCA_EKU_* bits, as NIDs, in the
 * certificate's order; returns how many. */
static size_t
profile_nids(unsigned eku, int nids[NPURPOSES])
{
	size_t n = 0;

	for (size_t i = 0; i < NPURPOSES; i++)
		if (purposes[i].profile_eku & eku)
			nids[n++] = purposes[i].nid;
	return n;
}

int
estca_ku_eku_check(unsigned ku, const int *nids, size_t n, char *why, size_t whylen)
{
	char list[160];
	size_t o = 0;

	if (n == 0)
		return 0;
	list[0] = 0;
	for (size_t i = 0; i < n; i++) {
		int k = purpose_index(nids[i]);

		if (k < 0) {
			const char *sn = nids[i] != NID_undef ? OBJ_nid2sn(nids[i]) : NULL;

			snprintf(why, whylen, "extended key usage %s is not one estca issues",
			    sn ? sn : "(unknown OID)");
			return ESTCA_ERR_REFUSED;
		}
		if (o < sizeof(list))
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s",
			    o ? ", " : "", purposes[k].name);
	}
	for (int b = 0; b < 9; b++) {
		int fits = 0;

		if (!(ku & (1u << b)))
			continue;
		for (size_t i = 0; i < n && !fits; i++)
			fits = (purposes[purpose_index(nids[i])].ku & (1u << b)) != 0;
		if (!fits) {
			snprintf(why, whylen, "key usage %s is not consistent with "
			    "extended key usage %s (RFC 5280 4.2.1.12)", ku_names[b], list);
			return ESTCA_ERR_REFUSED;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const int k = purpose_index(nids[i]);

		if ((purposes[k].ku & ku) == 0) {
			snprintf(why, whylen, "extended key usage %s has no consistent "
			    "key usage (RFC 5280 4.2.1.12)", purposes[k].name);
			return ESTCA_ERR_REFUSED;
		}
	}
	if ((ku & KU_KE) && (ku & KU_KA)) {
		snprintf(why, whylen, "key usage keyEncipherment and keyAgreement "
		    "together with extended key usage %s (RFC 5280 4.2.1.12: one or "
		    "the other)", list);
		return ESTCA_ERR_REFUSED;
	}
	return 0;
}

int
estca_ku_key_check(unsigned ku, int is_rsa, char *why, size_t whylen)
{
	const unsigned never = is_rsa ? ESTCA_KU_KEY_AGREEMENT |
	    ESTCA_KU_ENCIPHER_ONLY | ESTCA_KU_DECIPHER_ONLY :
	    ESTCA_KU_KEY_ENCIPHERMENT | ESTCA_KU_DATA_ENCIPHERMENT;

	for (int b = 0; b < 9; b++)
		if (ku & never & (1u << b)) {
			snprintf(why, whylen, "key usage %s on a%s key", ku_names[b],
			    is_rsa ? "n RSA" : "n EC");
			return ESTCA_ERR_REFUSED;
		}
	return 0;
}

int
estca_profile_key_usage(const struct estca_profile *p,
    const struct estca_keyinfo *ki, unsigned *ku, char *reason, size_t reasonlen)
{
	char why[128];
	int nids[NPURPOSES];
	size_t n;
	unsigned allowed = 0;

	*ku = 0;
	if (p->ku != 0) {
		for (int b = 0; b < 9; b++)
			if ((p->ku & (1u << b)) &&
			    estca_ku_key_check(1u << b, ki->is_rsa, why, sizeof(why)) != 0) {
				snprintf(reason, reasonlen, "profile %s key usage does not "
				    "fit a%s key: %s", p->name, ki->is_rsa ? "n RSA" : "n EC",
				    ku_names[b]);
				return ESTCA_ERR_REFUSED;
			}
		*ku = p->ku;
		return 0;
	}
	/* no extendedKeyUsage: any purpose, so any bit the key can do */
	n = profile_nids(p->eku, nids);
	for (size_t i = 0; i < n; i++)
		allowed |= purposes[purpose_index(nids[i])].ku;
	*ku = ESTCA_KU_DIGITAL_SIGNATURE;
	if (ki->is_rsa && (n == 0 || (allowed & ESTCA_KU_KEY_ENCIPHERMENT)))
		*ku |= ESTCA_KU_KEY_ENCIPHERMENT;
	return 0;
}

/*
 * Start-up check of a loaded profile: the key usage it asks for, and the
 * one it gives each key type it accepts, fit its extended key usage.
 */
int
check_usage(const struct estca_profile *p, char *err, size_t errlen)
{
	static const struct estca_keyinfo kinds[2] = {
		{ .is_rsa = 1, .bits = 2048 },
		{ .is_rsa = 0, .bits = 256, .curve_nid = NID_X9_62_prime256v1 },
	};
	char why[256];
	int nids[NPURPOSES];
	size_t n = profile_nids(p->eku, nids);

	if (p->ku != 0 && estca_ku_eku_check(p->ku, nids, n, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "profile %s: %s", p->name, why);
		return ESTCA_ERR_CONFIG;
	}
	for (int i = 0; i < 2; i++) {
		unsigned ku;

		if (kinds[i].is_rsa ? !p->allow_rsa : !(p->allow_p256 || p->allow_p384))
			continue;
		/* a key_usage the key cannot do refuses such keys when they come */
		if (estca_profile_key_usage(p, &kinds[i], &ku, why, sizeof(why)) != 0)
			continue;
		if (estca_ku_eku_check(ku, nids, n, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "profile %s: %s keys: %s", p->name,
			    kinds[i].is_rsa ? "RSA" : "EC", why);
			return ESTCA_ERR_CONFIG;
		}
	}
	return 0;
}
