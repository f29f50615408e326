/*
 * fixtures.h - the keys, name and subjectAltName builders shared by the
 * unit tests of the web tier's request decoder, names and policy
 * (unit_csr.c, unit_names.c, unit_policy.c).  static inline: include it in one .c file
 * per test program.  The returned objects are the caller's to free.
 */
#ifndef ESTCA_FIXTURES_H
#define ESTCA_FIXTURES_H

#include <stddef.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * Two fresh P-256 keys into *a and *b, for a test program's requests and
 * certificates: 0 (fixture_keys_free() frees them), or -1 after a TAP
 * "Bail out!" line, nothing to free.
 */
static inline int
fixture_keys(EVP_PKEY **a, EVP_PKEY **b)
{
	*a = EVP_EC_gen("P-256");
	*b = EVP_EC_gen("P-256");
	if (*a == NULL || *b == NULL) {
		EVP_PKEY_free(*a);
		EVP_PKEY_free(*b);
		printf("Bail out! no EC keys\n");
		return -1;
	}
	return 0;
}

static inline void
fixture_keys_free(EVP_PKEY *a, EVP_PKEY *b)
{
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

static inline X509_NAME *
name_of(const char *const *kv)
{
	X509_NAME *n = X509_NAME_new();

	for (size_t i = 0; kv[i] != NULL; i += 2)
		X509_NAME_add_entry_by_txt(n, kv[i], MBSTRING_UTF8,
		    (const unsigned char *)kv[i + 1], -1, -1, 0);
	return n;
}

static inline GENERAL_NAMES *
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

#endif
