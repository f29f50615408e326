/*
 * profile.c - the built-in certificate profiles and their key and SAN
 * checks.  Nothing here signs; issue.c applies a profile to a request.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include "profile.h"

#define DAY 86400L

static const struct estca_profile builtin[] = {
	{
		.name = "device",
		.default_validity_secs = 365 * DAY,
		.max_validity_secs = 825 * DAY,
		.eku = ESTCA_EKU_CLIENT,
		.san_types = ESTCA_SAN_DNS | ESTCA_SAN_IP | ESTCA_SAN_EMAIL |
		    ESTCA_SAN_URI,
		.min_rsa_bits = 2048,
		.max_rsa_bits = 8192,
		.allow_p256 = 1,
		.allow_p384 = 1,
	},
	{
		.name = "tls-server",
		.default_validity_secs = 365 * DAY,
		.max_validity_secs = 397 * DAY,
		.eku = ESTCA_EKU_SERVER | ESTCA_EKU_CLIENT,
		.san_types = ESTCA_SAN_DNS | ESTCA_SAN_IP,
		.min_rsa_bits = 2048,
		.max_rsa_bits = 8192,
		.allow_p256 = 1,
		.allow_p384 = 1,
	},
};

const struct estca_profile *
estca_profile_find(const char *name)
{
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(builtin[i].name, name) == 0)
			return &builtin[i];
	return NULL;
}

int
estca_profile_check_key(const struct estca_profile *p, const EVP_PKEY *pk,
    char *reason, size_t reasonlen)
{
	if (pk == NULL) {
		snprintf(reason, reasonlen, "public key does not decode");
		return ESTCA_ERR_MALFORMED;
	}
	if (EVP_PKEY_is_a(pk, "RSA")) {
		int bits = EVP_PKEY_get_bits(pk);

		if (bits < p->min_rsa_bits || bits > p->max_rsa_bits) {
			snprintf(reason, reasonlen,
			    "RSA key of %d bits outside profile %s (%d..%d)", bits,
			    p->name, p->min_rsa_bits, p->max_rsa_bits);
			return ESTCA_ERR_REFUSED;
		}
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "EC")) {
		char curve[64];
		size_t n = 0;

		if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
		    curve, sizeof(curve), &n)) {
			snprintf(reason, reasonlen, "EC key without a named curve");
			return ESTCA_ERR_REFUSED;
		}
		if ((strcmp(curve, "prime256v1") == 0 && p->allow_p256) ||
		    (strcmp(curve, "secp384r1") == 0 && p->allow_p384))
			return 0;
		snprintf(reason, reasonlen, "EC curve %s not allowed by profile %s",
		    curve, p->name);
		return ESTCA_ERR_REFUSED;
	}
	snprintf(reason, reasonlen, "key type %s not allowed by profile %s",
	    EVP_PKEY_get0_type_name(pk) ? EVP_PKEY_get0_type_name(pk) : "?",
	    p->name);
	return ESTCA_ERR_REFUSED;
}

int
estca_profile_check_sans(const struct estca_profile *p,
    const STACK_OF(GENERAL_NAME) *sans, char *reason, size_t reasonlen)
{
	int n = sans ? sk_GENERAL_NAME_num(sans) : 0;

	if (n > 64) {
		snprintf(reason, reasonlen, "too many subjectAltNames (%d)", n);
		return ESTCA_ERR_REFUSED;
	}
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		unsigned need;

		switch (g->type) {
		case GEN_DNS: need = ESTCA_SAN_DNS; break;
		case GEN_IPADD: need = ESTCA_SAN_IP; break;
		case GEN_EMAIL: need = ESTCA_SAN_EMAIL; break;
		case GEN_URI: need = ESTCA_SAN_URI; break;
		default: need = 0; break;
		}
		if (need == 0 || (p->san_types & need) == 0) {
			snprintf(reason, reasonlen,
			    "subjectAltName type %d not allowed by profile %s",
			    g->type, p->name);
			return ESTCA_ERR_REFUSED;
		}
	}
	return 0;
}
