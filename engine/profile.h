/*
 * profile.h - what a certificate profile allows.  The engine builds every
 * end-entity certificate from a profile; the caller's request can only
 * narrow it (a shorter validity, fewer SANs), never widen it.
 * profile.c loads profiles and checks keys, ku.c holds the key usage
 * table and its checks, san.c the subjectAltName checks.
 */
#ifndef ESTCA_PROFILE_H
#define ESTCA_PROFILE_H

#include <stddef.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "conf.h"
#include "errors.h"
#include "wire.h"

enum estca_san_type {
	ESTCA_SAN_DNS = 1 << 0,
	ESTCA_SAN_IP = 1 << 1,
	ESTCA_SAN_EMAIL = 1 << 2,
	ESTCA_SAN_URI = 1 << 3,
};

/* keyUsage bits (bit n is RFC 5280 4.2.1.3 bit n).  Profiles may name the
 * first, second, third and fifth; the others are for the lint and CAs. */
enum estca_ku {
	ESTCA_KU_DIGITAL_SIGNATURE = 1 << 0,
	ESTCA_KU_NON_REPUDIATION = 1 << 1,
	ESTCA_KU_KEY_ENCIPHERMENT = 1 << 2,
	ESTCA_KU_DATA_ENCIPHERMENT = 1 << 3,
	ESTCA_KU_KEY_AGREEMENT = 1 << 4,
	ESTCA_KU_KEY_CERT_SIGN = 1 << 5,
	ESTCA_KU_CRL_SIGN = 1 << 6,
	ESTCA_KU_ENCIPHER_ONLY = 1 << 7,
	ESTCA_KU_DECIPHER_ONLY = 1 << 8,
};

enum estca_eku {
	ESTCA_EKU_CLIENT = 1 << 0,
	ESTCA_EKU_SERVER = 1 << 1,
};

#define ESTCA_MAX_PROFILES 32
#define ESTCA_URL_LEN 256

struct estca_profile {
	char name[64];
	long default_validity_secs;   /* when the request names none */
	long max_validity_secs;       /* cap, whatever the request says */
	unsigned ku;                  /* ESTCA_KU_* bits asked; 0: derived
	                                 (estca_profile_key_usage) */
	unsigned eku;                 /* ESTCA_EKU_* bits */
	unsigned san_types;           /* ESTCA_SAN_* bits allowed */
	int allow_rsa;
	int min_rsa_bits;             /* RSA keys below this are refused */
	int max_rsa_bits;
	int allow_p256, allow_p384;
	char crl_url[ESTCA_URL_LEN];        /* cRLDistributionPoints, "" none */
	char ocsp_url[ESTCA_URL_LEN];       /* AIA id-ad-ocsp, "" none */
	char ca_issuers_url[ESTCA_URL_LEN]; /* AIA id-ad-caIssuers, "" none */
};

struct estca_profiles {
	struct estca_profile p[ESTCA_MAX_PROFILES];
	size_t n;
};

/*
 * The built-in profiles (device, tls-server), then every [profile NAME]
 * section of c (c may be NULL), which replaces a built-in of the same name.
 * Section keys: validity_days, max_validity_days, key_usage, ext_key_usage,
 * san_types, key_types, min_rsa_bits, crl_url, ocsp_url, ca_issuers_url.
 * A profile whose key usage contradicts its extended key usage
 * (estca_ku_eku_check) is refused with a one-line err.
 */
int estca_profiles_load(const struct estca_conf *c, struct estca_profiles *ps,
    char *err, size_t errlen) ESTCA_WUR;

/* The profile called name, or NULL. */
const struct estca_profile *estca_profile_find(const struct estca_profiles *ps,
    const char *name);

/* What the engine needs to know of a public key. */
struct estca_keyinfo {
	int is_rsa;        /* else EC */
	int bits;          /* RSA modulus bits, or curve size */
	int curve_nid;     /* EC: NID_X9_62_prime256v1 or NID_secp384r1 */
};

/* The curves keys may use, built once (EC_GROUP creation is costly). */
struct estca_curves {
	EC_GROUP *p256, *p384;
};

int estca_curves_init(struct estca_curves *c) ESTCA_WUR;
void estca_curves_free(struct estca_curves *c);

/*
 * Look at an encoded public key without building an EVP_PKEY: RSA
 * (modulus size, odd exponent >= 3) or EC on P-256/P-384 (the point must
 * lie on the curve).  Anything else is refused with a one-line reason.
 */
int estca_spki_inspect(const ESTCA_SPKI *s, const struct estca_curves *curves,
    struct estca_keyinfo *ki, char *reason, size_t reasonlen) ESTCA_WUR;

/*
 * Does the profile accept this subject public key?  On refusal, reason
 * says why in one line.
 */
int estca_profile_check_key(const struct estca_profile *p,
    const struct estca_keyinfo *ki, char *reason, size_t reasonlen) ESTCA_WUR;

/*
 * The keyUsage of a certificate for this key under p.  A profile that
 * names its key_usage gets exactly that, and a key that cannot do one of
 * the bits (estca_ku_key_check) is refused.  Otherwise: digitalSignature,
 * plus keyEncipherment for an RSA key when one of the profile's purposes
 * allows it (serverAuth, or no extendedKeyUsage at all); EC keys never
 * get keyEncipherment, and keyAgreement only when the profile asks.
 */
int estca_profile_key_usage(const struct estca_profile *p,
    const struct estca_keyinfo *ki, unsigned *ku, char *reason,
    size_t reasonlen) ESTCA_WUR;

/*
 * RFC 5280 4.2.1.12: is keyUsage ku (ESTCA_KU_* bits) consistent with the
 * extendedKeyUsage purposes nids[0..n-1] (NID_server_auth, ...)?  n 0
 * means no extendedKeyUsage: nothing to check.  Consistent when each
 * purpose is one of the table (serverAuth, clientAuth, codeSigning,
 * emailProtection, timeStamping, OCSPSigning; estca issues no other),
 * every bit of ku is consistent with at least one purpose, every purpose
 * with at least one bit of ku, and keyEncipherment and keyAgreement (the
 * table's alternatives) are not both set.  0, or ESTCA_ERR_REFUSED and in
 * why a one-line reason without prefix.
 */
int estca_ku_eku_check(unsigned ku, const int *nids, size_t n, char *why,
    size_t whylen) ESTCA_WUR;

/*
 * Can a key of this type do every bit of ku?  RSA: no keyAgreement,
 * encipherOnly, decipherOnly (RFC 4055 1.2); EC: no keyEncipherment or
 * dataEncipherment (RFC 8813 3).  0, or ESTCA_ERR_REFUSED and in why a
 * one-line reason without prefix.
 */
int estca_ku_key_check(unsigned ku, int is_rsa, char *why, size_t whylen) ESTCA_WUR;

/* The RFC 5280 name of keyUsage bit n (0..8), or "?". */
const char *estca_ku_name(int bit);

/*
 * Does the profile accept these SANs (NULL: none)?  At most
 * ESTCA_MAX_SANS, each of a type the profile allows and whose value
 * passes estca_san_syntax().
 */
#define ESTCA_MAX_SANS 64
int estca_profile_check_sans(const struct estca_profile *p,
    const STACK_OF(GENERAL_NAME) *sans, char *reason, size_t reasonlen) ESTCA_WUR;

/*
 * Syntax of one subjectAltName value of type gen_type (GEN_DNS,
 * GEN_IPADD, GEN_EMAIL, GEN_URI), n bytes at v.  NULL when it is
 * acceptable, else a short constant text saying why not:
 *   iPAddress   exactly 4 or 16 bytes;
 *   dNSName     1..253 characters, dot-separated labels of 1..63 letters,
 *               digits and hyphens, no hyphen first or last, no empty
 *               label (no leading or trailing dot), the last label not
 *               all digits; the first label may be "*" when two or more
 *               labels follow;
 *   rfc822Name  local@domain, at most 254 characters: a local part of
 *               1..64 printable ASCII characters other than space and
 *               '@', a domain as a dNSName without wildcard;
 *   URI         at most 1024 characters, "scheme:" (RFC 3986: a letter,
 *               then letters, digits, '+', '-', '.') and something after
 *               it, only RFC 3986 characters, '%' followed by two hex
 *               digits.
 * Other types: "type not supported".
 */
const char *estca_san_syntax(int gen_type, const unsigned char *v, size_t n);

#endif
