/*
 * unit_codehash.c - tests of fcgi/codehash.c: generated codes' fast hash
 * (sql/011_generated_codes.sql) and the fall-back to crypt(3).  TAP.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include "codehash.h"
#include "cred.h"
#include "tap.h"

/* "$estca-sha256$" + hex(salt) + "$" + hex(sha256(salt || code)) */
static void
make_hash(const unsigned char salt[16], const char *code, char *out, size_t len)
{
	unsigned char md[32];
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t o;

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	EVP_DigestUpdate(c, salt, 16);
	EVP_DigestUpdate(c, code, strlen(code));
	EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	o = (size_t)snprintf(out, len, "%s", ESTCA_CODEHASH_FAST);
	for (int i = 0; i < 16; i++)
		o += (size_t)snprintf(out + o, len - o, "%02x", salt[i]);
	o += (size_t)snprintf(out + o, len - o, "$");
	for (unsigned int i = 0; i < n; i++)
		o += (size_t)snprintf(out + o, len - o, "%02x", md[i]);
}

int
main(void)
{
	static const unsigned char salt[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
		11, 12, 13, 14, 15, 16 };
	const char *code = "0123456789abcdef0123456789abcdef";
	char h[200], bad[200];

	make_hash(salt, code, h, sizeof(h));
	tap_ok(estca_code_matches(code, h), "generated code matches its hash");
	tap_ok(!estca_code_matches("0123456789abcdef0123456789abcdee", h),
	    "another code does not");
	tap_ok(!estca_code_matches("", h), "the empty code does not");
	tap_ok(!estca_code_matches("0123456789abcdef0123456789abcdef0", h),
	    "the code with one more character does not");
	memcpy(bad, h, sizeof(h));
	bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
	tap_ok(!estca_code_matches(code, bad), "a changed digest does not");
	memcpy(bad, h, sizeof(h));
	bad[strlen(ESTCA_CODEHASH_FAST)] = 'X';
	tap_ok(!estca_code_matches(code, bad), "a salt that is not hex does not");
	memcpy(bad, h, sizeof(h));
	for (char *c = bad + strlen(ESTCA_CODEHASH_FAST); *c != 0; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A');
	tap_ok(strcmp(bad, h) != 0 && !estca_code_matches(code, bad),
	    "the same hash in upper-case hex does not (sql/011 writes lower case)");
	snprintf(bad, sizeof(bad), "%.*s", (int)strlen(h) - 2, h);
	tap_ok(!estca_code_matches(code, bad), "a short digest does not");
	snprintf(bad, sizeof(bad), "%s00", h);
	tap_ok(!estca_code_matches(code, bad), "trailing bytes do not");
	snprintf(bad, sizeof(bad), "%s", ESTCA_CODEHASH_FAST);
	tap_ok(!estca_code_matches(code, bad), "the bare prefix does not");
	/* bcrypt hashes still go to crypt(3) */
	tap_ok(!estca_code_matches("wrong", estca_dummy_hash),
	    "a bcrypt hash still goes through crypt(3)");
	return tap_done();
}
