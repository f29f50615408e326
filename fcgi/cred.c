/*
 * cred.c - see cred.h.  Owns every comparison of a presented secret with
 * a stored one in the web tier.  Must never copy a secret anywhere but the
 * caller's buffers and OpenSSL's MAC state (freed at once).
 */
#include <crypt.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include "cred.h"
#include "b64.h"
#include "csr.h"

const char estca_dummy_hash[] =
    "$2b$08$EnBWTI5zbTYw0voiSipy4ufO9jDYsaaK4NISMzf0QPN7vmZk.a.5G";

bool
estca_crypt_matches(const char *secret, const char *hash)
{
	struct crypt_data *cd;
	const char *out;
	size_t n = strlen(hash);
	bool ok = false;

	if ((cd = OPENSSL_zalloc(sizeof(*cd))) == NULL)
		return false;
	out = crypt_r(secret, hash, cd);
	/* failures come back as "*0" / "*1" (or NULL) */
	if (out != NULL && out[0] != '*' && strlen(out) == n)
		ok = CRYPTO_memcmp(out, hash, n) == 0;
	/* bcrypt hashes the first 72 bytes only: a secret that long would
	 * match on its head alone, whatever its tail says */
	if (strncmp(hash, "$2", 2) == 0 && strlen(secret) > ESTCA_BCRYPT_MAX)
		ok = false;
	OPENSSL_clear_free(cd, sizeof(*cd));
	return ok;
}

static bool
has_ctl(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7f)
			return true;
	return false;
}

int
estca_basic_parse(const char *header, char user[ESTCA_BASIC_USER_MAX + 1],
    char pass[ESTCA_BASIC_PASS_MAX + 1])
{
	const unsigned char *s = (const unsigned char *)header;
	const unsigned char *tok, *colon, *dec;
	struct estca_buf b;
	size_t n, toklen, ul, pl;
	int r = ESTCA_ERR_MALFORMED;

	user[0] = 0;
	pass[0] = 0;
	if (header == NULL)
		return ESTCA_ERR_NOT_FOUND;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp((const char *)s, "basic", 5) != 0 ||
	    (s[5] != ' ' && s[5] != '\t'))
		return ESTCA_ERR_NOT_FOUND;
	for (s += 5; *s == ' ' || *s == '\t'; s++)
		;
	tok = s;
	while (*s != 0 && *s != ' ' && *s != '\t')
		s++;
	toklen = (size_t)(s - tok);
	while (*s == ' ' || *s == '\t')
		s++;
	/* user ':' pass, decoded (a secret buffer: wiped when freed) */
	estca_buf_init(&b, ESTCA_BASIC_USER_MAX + ESTCA_BASIC_PASS_MAX + 4, true);
	if (*s != 0 || toklen == 0 || estca_base64_decode(tok, toklen, &b) != 0)
		goto out;
	dec = b.data;
	n = b.len;
	if (dec == NULL || (colon = memchr(dec, ':', n)) == NULL)
		goto out;
	ul = (size_t)(colon - dec);
	pl = n - ul - 1;
	if (ul == 0 || ul > ESTCA_BASIC_USER_MAX || pl > ESTCA_BASIC_PASS_MAX ||
	    has_ctl(dec, n))
		goto out;
	memcpy(user, dec, ul);
	user[ul] = 0;
	memcpy(pass, colon + 1, pl);
	pass[pl] = 0;
	r = 0;
out:
	estca_buf_free(&b);
	if (r != 0) {
		OPENSSL_cleanse(user, ESTCA_BASIC_USER_MAX + 1);
		OPENSSL_cleanse(pass, ESTCA_BASIC_PASS_MAX + 1);
	}
	return r;
}

/* Feed one length-prefixed field to the MAC, so fields cannot run into
 * each other. */
static int
mac_field(EVP_MAC_CTX *m, const void *p, size_t n)
{
	unsigned char len[8];

	for (int i = 0; i < 8; i++)
		len[i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
	return EVP_MAC_update(m, len, sizeof(len)) && EVP_MAC_update(m, p, n);
}

static int
cred_mac(const unsigned char key[32], const struct estca_ra_cred *k,
    unsigned char out[32])
{
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *m = NULL;
	char digest[] = "SHA256";
	unsigned char id[8];
	size_t outl = 0;
	int ok = 0;

	for (int i = 0; i < 8; i++)
		id[i] = (unsigned char)((uint64_t)k->member_id >> (56 - 8 * i));
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	    (m = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(m, key, 32, params) &&
	    mac_field(m, k->alias, strlen(k->alias)) &&
	    mac_field(m, id, sizeof(id)) &&
	    mac_field(m, k->username, strlen(k->username)) &&
	    mac_field(m, k->password, strlen(k->password)) &&
	    mac_field(m, k->hash, strlen(k->hash)) &&
	    EVP_MAC_final(m, out, &outl, 32) && outl == 32)
		ok = 1;
	EVP_MAC_CTX_free(m);
	EVP_MAC_free(mac);
	return ok;
}

bool
estca_ra_cache_hit(const struct estca_ra_cache *c, const struct estca_ra_cred *k,
    long long now)
{
	unsigned char mac[32];
	int hit = 0;

	if (!c->keyed || !cred_mac(c->key, k, mac))
		return false;
	for (size_t i = 0; i < ESTCA_RA_CACHE_SLOTS; i++) {
		int live = c->slot[i].expires > now;
		int same = CRYPTO_memcmp(c->slot[i].mac, mac, sizeof(mac)) == 0;

		hit |= live & same;
	}
	OPENSSL_cleanse(mac, sizeof(mac));
	return hit != 0;
}

void
estca_ra_cache_put(struct estca_ra_cache *c, const struct estca_ra_cred *k,
    long long now)
{
	unsigned char mac[32];
	size_t i;

	if (!c->keyed) {
		if (RAND_priv_bytes(c->key, sizeof(c->key)) != 1)
			return;
		c->keyed = true;
	}
	if (!cred_mac(c->key, k, mac))
		return;
	/* the same credential again: refresh its slot; else round robin */
	for (i = 0; i < ESTCA_RA_CACHE_SLOTS; i++)
		if (CRYPTO_memcmp(c->slot[i].mac, mac, sizeof(mac)) == 0)
			break;
	if (i == ESTCA_RA_CACHE_SLOTS) {
		i = c->next % ESTCA_RA_CACHE_SLOTS;
		c->next = (c->next + 1) % ESTCA_RA_CACHE_SLOTS;
	}
	memcpy(c->slot[i].mac, mac, sizeof(mac));
	c->slot[i].expires = now + ESTCA_RA_CACHE_TTL;
	OPENSSL_cleanse(mac, sizeof(mac));
}

void
estca_ra_cache_clear(struct estca_ra_cache *c)
{
	OPENSSL_cleanse(c, sizeof(*c));
}
