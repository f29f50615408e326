/*
 * fixtures.h - the name and subjectAltName builders shared by the unit
 * tests of the web tier's request decoder, names and policy (unit_csr.c,
 * unit_names.c, unit_policy.c).  static inline: include it in one .c file
 * per test program.  The returned objects are the caller's to free.
 */
#ifndef ESTCA_FIXTURES_H
#define ESTCA_FIXTURES_H

#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

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
