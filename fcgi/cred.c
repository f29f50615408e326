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

/* ---- HTTP Digest (RFC 7616) ------------------------------------------- */

const char *
estca_digest_alg_name(enum estca_digest_alg alg)
{
	return alg == ESTCA_DIGEST_SHA256 ? "SHA-256" :
	    alg == ESTCA_DIGEST_MD5 ? "MD5" : "?";
}

size_t
estca_digest_hex_len(enum estca_digest_alg alg)
{
	return alg == ESTCA_DIGEST_SHA256 ? 64 : alg == ESTCA_DIGEST_MD5 ? 32 : 0;
}

static bool
all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return s[n] == 0;
}

/* Copy v[0..n) into dst (cap bytes); false when it does not fit, is
 * already set (seen), or holds a control character. */
static bool
take(char *dst, size_t cap, bool *seen, const char *v, size_t n)
{
	if (*seen || n >= cap || has_ctl((const unsigned char *)v, n))
		return false;
	*seen = true;
	memcpy(dst, v, n);
	dst[n] = 0;
	return true;
}

int
estca_digest_parse(const char *header, struct estca_digest *d)
{
	const char *s = header;
	char algbuf[32] = "", userhash[8] = "";
	bool seen[11] = { false };
	char val[ESTCA_DIGEST_FIELD_MAX + 1];

	memset(d, 0, sizeof(*d));
	if (header == NULL)
		return ESTCA_ERR_NOT_FOUND;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncasecmp(s, "digest", 6) != 0 || (s[6] != ' ' && s[6] != '\t'))
		return ESTCA_ERR_NOT_FOUND;
	s += 6;
	for (;;) {
		const char *k;
		size_t klen, vlen = 0;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		if (*s == 0)
			break;
		k = s;
		while (*s != 0 && *s != '=' && *s != ' ' && *s != '\t' && *s != ',')
			s++;
		klen = (size_t)(s - k);
		while (*s == ' ' || *s == '\t')
			s++;
		if (klen == 0 || *s != '=')
			goto bad;
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '"') {
			for (s++; *s != 0 && *s != '"'; s++) {
				if (*s == '\\' && s[1] != 0)
					s++;
				if (vlen >= ESTCA_DIGEST_FIELD_MAX)
					goto bad;
				val[vlen++] = *s;
			}
			if (*s != '"')
				goto bad;
			s++;
		} else {
			while (*s != 0 && *s != ',' && *s != ' ' && *s != '\t') {
				if (vlen >= ESTCA_DIGEST_FIELD_MAX)
					goto bad;
				val[vlen++] = *s++;
			}
		}
		val[vlen] = 0;
#define KEY(name) (klen == sizeof(name) - 1 && strncasecmp(k, name, klen) == 0)
		if (KEY("username")) {
			if (!take(d->username, sizeof(d->username), &seen[0], val, vlen))
				goto bad;
		} else if (KEY("realm")) {
			if (!take(d->realm, sizeof(d->realm), &seen[1], val, vlen))
				goto bad;
		} else if (KEY("nonce")) {
			if (!take(d->nonce, sizeof(d->nonce), &seen[2], val, vlen))
				goto bad;
		} else if (KEY("uri")) {
			if (!take(d->uri, sizeof(d->uri), &seen[3], val, vlen))
				goto bad;
		} else if (KEY("response")) {
			if (!take(d->response, sizeof(d->response), &seen[4], val, vlen))
				goto bad;
		} else if (KEY("cnonce")) {
			if (!take(d->cnonce, sizeof(d->cnonce), &seen[5], val, vlen))
				goto bad;
		} else if (KEY("nc")) {
			if (!take(d->nc, sizeof(d->nc), &seen[6], val, vlen))
				goto bad;
		} else if (KEY("qop")) {
			if (!take(d->qop, sizeof(d->qop), &seen[7], val, vlen))
				goto bad;
		} else if (KEY("algorithm")) {
			if (!take(algbuf, sizeof(algbuf), &seen[8], val, vlen))
				goto bad;
		} else if (KEY("userhash")) {
			if (!take(userhash, sizeof(userhash), &seen[9], val, vlen))
				goto bad;
		} else if (KEY("opaque")) {
			if (seen[10])
				goto bad;
			seen[10] = true;
		}
#undef KEY
		/* other parameters are ignored (RFC 7616 3.4) */
	}
	if (algbuf[0] == 0 || strcasecmp(algbuf, "MD5") == 0)
		d->alg = ESTCA_DIGEST_MD5;
	else if (strcasecmp(algbuf, "SHA-256") == 0)
		d->alg = ESTCA_DIGEST_SHA256;
	else
		goto bad;
	if (userhash[0] != 0 && strcasecmp(userhash, "false") != 0)
		goto bad;
	if (d->username[0] == 0 || !seen[1] || d->nonce[0] == 0 ||
	    d->uri[0] == 0 || d->cnonce[0] == 0 || strcmp(d->qop, "auth") != 0 ||
	    strlen(d->nc) != 8 || !all_hex(d->nc, 8) ||
	    strlen(d->response) != estca_digest_hex_len(d->alg) ||
	    !all_hex(d->response, strlen(d->response)))
		goto bad;
	return 0;
bad:
	OPENSSL_cleanse(val, sizeof(val));
	memset(d, 0, sizeof(*d));
	return ESTCA_ERR_MALFORMED;
}

/* Lower-case hex of H(p1 ":" p2 ":" ... ) over n parts into out. */
static int
digest_hex(enum estca_digest_alg alg, const char *const *parts, size_t n,
    char out[65])
{
	const EVP_MD *md = alg == ESTCA_DIGEST_SHA256 ? EVP_sha256() : EVP_md5();
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0;
	int ok = c != NULL && EVP_DigestInit_ex(c, md, NULL);

	for (size_t i = 0; ok && i < n; i++)
		ok = (i == 0 || EVP_DigestUpdate(c, ":", 1)) &&
		    EVP_DigestUpdate(c, parts[i], strlen(parts[i]));
	ok = ok && EVP_DigestFinal_ex(c, h, &hl);
	EVP_MD_CTX_free(c);
	if (!ok || hl * 2 > 64)
		return -1;
	for (unsigned int i = 0; i < hl; i++) {
		out[2 * i] = "0123456789abcdef"[h[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[h[i] & 15];
	}
	out[2 * hl] = 0;
	OPENSSL_cleanse(h, sizeof(h));
	return 0;
}

int
estca_digest_ha1(enum estca_digest_alg alg, const char *username,
    const char *realm, const char *password, char ha1[65])
{
	const char *p[3] = { username, realm, password };

	return alg == ESTCA_DIGEST_NONE ? -1 : digest_hex(alg, p, 3, ha1);
}

bool
estca_digest_check(const struct estca_digest *d, const char *ha1,
    const char *method)
{
	const char *a2[2] = { method, d->uri };
	char ha2[65], want[65], ha1l[65];
	size_t n = estca_digest_hex_len(d->alg);
	bool ok;

	/* the stored HA1 in lower case, as the response is computed over */
	if (strlen(ha1) != n || !all_hex(ha1, n))
		return false;
	for (size_t i = 0; i <= n; i++)
		ha1l[i] = (char)(ha1[i] >= 'A' && ha1[i] <= 'F' ? ha1[i] + 32 : ha1[i]);
	{
		const char *r[6] = { ha1l, d->nonce, d->nc, d->cnonce, d->qop, ha2 };

		if (digest_hex(d->alg, a2, 2, ha2) != 0 ||
		    digest_hex(d->alg, r, 6, want) != 0) {
			OPENSSL_cleanse(ha1l, sizeof(ha1l));
			return false;
		}
	}
	/* the client's hex may be upper case */
	{
		char got[65];

		for (size_t i = 0; i <= n; i++)
			got[i] = (char)(d->response[i] >= 'A' && d->response[i] <= 'F' ?
			    d->response[i] + 32 : d->response[i]);
		ok = CRYPTO_memcmp(got, want, n) == 0;
	}
	OPENSSL_cleanse(ha1l, sizeof(ha1l));
	OPENSSL_cleanse(want, sizeof(want));
	return ok;
}

static int
nonce_mac(const unsigned char *key, size_t keylen, const unsigned char *tr,
    size_t trlen, const char *realm, unsigned char out[32])
{
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *m = NULL;
	char digest[] = "SHA256";
	size_t outl = 0;
	int ok = 0;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) != NULL &&
	    (m = EVP_MAC_CTX_new(mac)) != NULL &&
	    EVP_MAC_init(m, key, keylen, params) &&
	    mac_field(m, tr, trlen) && mac_field(m, realm, strlen(realm)) &&
	    EVP_MAC_final(m, out, &outl, 32) && outl == 32)
		ok = 1;
	EVP_MAC_CTX_free(m);
	EVP_MAC_free(mac);
	return ok ? 0 : -1;
}

static void
hex_of(const unsigned char *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = "0123456789abcdef"[p[i] >> 4];
		out[2 * i + 1] = "0123456789abcdef"[p[i] & 15];
	}
	out[2 * n] = 0;
}

int
estca_digest_nonce_make(const unsigned char *key, size_t keylen,
    const char *realm, long long now, char *out, size_t outlen)
{
	unsigned char b[8 + 16 + 32];

	if (outlen < ESTCA_DIGEST_NONCE_LEN + 1 || keylen < 16 || now < 0)
		return -1;
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)now >> (56 - 8 * i));
	if (RAND_bytes(b + 8, 16) != 1 ||
	    nonce_mac(key, keylen, b, 24, realm, b + 24) != 0)
		return -1;
	hex_of(b, sizeof(b), out);
	return 0;
}

enum estca_nonce_state
estca_digest_nonce_check(const unsigned char *key, size_t keylen,
    const char *realm, const char *nonce, long long now, long long *issued)
{
	unsigned char b[8 + 16 + 32], mac[32];
	uint64_t t = 0;

	*issued = 0;
	if (strlen(nonce) != ESTCA_DIGEST_NONCE_LEN || keylen < 16)
		return ESTCA_NONCE_BAD;
	for (size_t i = 0; i < sizeof(b); i++) {
		int v = 0;

		for (int j = 0; j < 2; j++) {
			char c = nonce[2 * i + j];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= c - '0';
			else if (c >= 'a' && c <= 'f')
				v |= c - 'a' + 10;
			else
				return ESTCA_NONCE_BAD;
		}
		b[i] = (unsigned char)v;
	}
	if (nonce_mac(key, keylen, b, 24, realm, mac) != 0 ||
	    CRYPTO_memcmp(mac, b + 24, 32) != 0)
		return ESTCA_NONCE_BAD;
	for (int i = 0; i < 8; i++)
		t = (t << 8) | b[i];
	if (t > (uint64_t)now + 60)      /* from the future: not ours */
		return ESTCA_NONCE_BAD;
	*issued = (long long)t;
	if ((long long)t + ESTCA_DIGEST_NONCE_LIFETIME < now)
		return ESTCA_NONCE_STALE;
	return ESTCA_NONCE_OK;
}
