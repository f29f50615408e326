/*
 * codehash.c - see codehash.h.  Owns the format of a generated code's
 * hash; must never keep or log the code.
 */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "codehash.h"
#include "cred.h"
#include "str.h"

#define SALT_LEN 16

/* n bytes from 2n lower-case hex digits at s; 0 or -1.  Upper case is
 * refused: the hash is read as sql/011 writes it (encode(..., 'hex')). */
static int
unhex(const char *s, unsigned char *out, size_t n)
{
	if (strspn(s, "0123456789abcdef") < 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)(estca_hexval(s[2 * i]) << 4 |
		    estca_hexval(s[2 * i + 1]));
	return 0;
}

static bool
fast_matches(const char *code, const char *hash)
{
	const char *p = hash + strlen(ESTCA_CODEHASH_FAST);
	unsigned char salt[SALT_LEN], want[32], got[32];
	unsigned int len = 0;
	EVP_MD_CTX *md;
	bool ok = false;

	/* SALT (32 hex) '$' DIGEST (64 hex), nothing more */
	if (strlen(p) != 2 * SALT_LEN + 1 + 64 || p[2 * SALT_LEN] != '$' ||
	    unhex(p, salt, SALT_LEN) != 0 ||
	    unhex(p + 2 * SALT_LEN + 1, want, sizeof(want)) != 0)
		return false;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return false;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(md, salt, sizeof(salt)) &&
	    EVP_DigestUpdate(md, code, strlen(code)) &&
	    EVP_DigestFinal_ex(md, got, &len) && len == sizeof(got))
		ok = CRYPTO_memcmp(got, want, sizeof(got)) == 0;
	EVP_MD_CTX_free(md);
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

bool
estca_code_matches(const char *code, const char *hash)
{
	if (strncmp(hash, ESTCA_CODEHASH_FAST, strlen(ESTCA_CODEHASH_FAST)) == 0)
		return fast_matches(code, hash);
	return estca_crypt_matches(code, hash);
}
