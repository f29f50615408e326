/*
 * cred.h - secrets a request presents: checking them against crypt(3)
 * hashes, reading HTTP Basic credentials, and the per-worker cache of
 * RA passwords already checked.
 *
 * Nothing here does I/O or logs; tests/unit_cred.c drives it directly.
 * Candidate secrets live in caller-owned buffers that the caller wipes;
 * nothing here keeps one.  The cache holds only keyed digests (HMAC-SHA256
 * under a random key made per process on first use), so a memory dump of
 * a worker shows no password and no digest that could be checked without
 * the key.
 */
#ifndef ESTCA_CRED_H
#define ESTCA_CRED_H

#include <stdbool.h>
#include <stddef.h>
#include "errors.h"

/* The longest secret bcrypt tells apart from every other: it reads 72
 * bytes, the terminating NUL included, so a secret of 72 bytes or more
 * matches every guess that shares its first 72. */
#define ESTCA_BCRYPT_MAX 71

/*
 * Does secret match the crypt(3) hash (bcrypt "$2a$"/"$2b$" from pgcrypto,
 * or any method libxcrypt knows)?  The comparison of the results takes
 * constant time; the hashing costs what the method costs.  A secret of
 * more than ESTCA_BCRYPT_MAX bytes never matches a bcrypt hash (its tail
 * would be ignored).
 */
bool estca_crypt_matches(const char *secret, const char *hash);

/* A bcrypt hash of no secret anyone knows, at pgcrypto's cost 8: checking
 * against it makes "no such user" cost as much as "wrong password". */
extern const char estca_dummy_hash[];

#define ESTCA_BASIC_USER_MAX 256
#define ESTCA_BASIC_PASS_MAX 255

/*
 * Parse an Authorization header value (HTTP_AUTHORIZATION) of scheme
 * Basic (RFC 7617; scheme name case-insensitive): base64 of user:pass,
 * split at the first colon.  user: 1..ESTCA_BASIC_USER_MAX bytes, pass:
 * 0..ESTCA_BASIC_PASS_MAX, neither with control characters.  Returns 0;
 * ESTCA_ERR_NOT_FOUND for another scheme; ESTCA_ERR_MALFORMED otherwise.
 * user and pass are wiped on failure.
 */
int estca_basic_parse(const char *header, char user[ESTCA_BASIC_USER_MAX + 1],
    char pass[ESTCA_BASIC_PASS_MAX + 1]) ESTCA_WUR;

#define ESTCA_RA_CACHE_SLOTS 32
#define ESTCA_RA_CACHE_TTL 60       /* seconds a checked password is kept */

/*
 * Keyed digests of (alias, member id, username, password, stored hash)
 * that passed crypt(3) less than ESTCA_RA_CACHE_TTL seconds ago.  The
 * stored hash is part of the digest, so a new password (or a removed
 * member, whose hash is no longer fetched) ends a cached entry at once.
 * Zero-initialise; the key is drawn on the first put.
 */
struct estca_ra_cache {
	bool keyed;
	unsigned char key[32];
	struct {
		unsigned char mac[32];
		long long expires;          /* 0: empty */
	} slot[ESTCA_RA_CACHE_SLOTS];
	unsigned next;
};

struct estca_ra_cred {
	const char *alias;
	long long member_id;
	const char *username;
	const char *password;
	const char *hash;
};

/* Was this credential checked and found good since now - TTL?  Scans
 * every slot in constant time. */
bool estca_ra_cache_hit(const struct estca_ra_cache *c,
    const struct estca_ra_cred *k, long long now);

/* Remember a credential crypt(3) just accepted.  Best effort: a failure
 * (no randomness, no HMAC) just means the next check hashes again. */
void estca_ra_cache_put(struct estca_ra_cache *c, const struct estca_ra_cred *k,
    long long now);

/* Forget everything (and the key). */
void estca_ra_cache_clear(struct estca_ra_cache *c);

/*
 * HTTP Digest (RFC 7616), qop=auth only, algorithms MD5 and SHA-256 (no
 * -sess, no userhash).  The stored verifier is HA1 = H(username ":" realm
 * ":" password) in lower-case hex, per algorithm (est.role_member_digest,
 * sql/010_digest.sql); nothing here sees a password.
 */
enum estca_digest_alg {
	ESTCA_DIGEST_NONE = 0,
	ESTCA_DIGEST_MD5,
	ESTCA_DIGEST_SHA256,
};

#define ESTCA_DIGEST_FIELD_MAX 256
#define ESTCA_DIGEST_NONCE_LIFETIME 300   /* seconds a nonce is good */

/* The fields of an Authorization: Digest header the server checks. */
struct estca_digest {
	enum estca_digest_alg alg;
	char username[ESTCA_BASIC_USER_MAX + 1];
	char realm[ESTCA_DIGEST_FIELD_MAX + 1];
	char nonce[ESTCA_DIGEST_FIELD_MAX + 1];
	char uri[ESTCA_DIGEST_FIELD_MAX + 1];
	char response[ESTCA_DIGEST_FIELD_MAX + 1];
	char cnonce[ESTCA_DIGEST_FIELD_MAX + 1];
	char nc[9];                 /* 8 hex digits */
	char qop[16];
};

/*
 * Parse an Authorization header value of scheme Digest (scheme name
 * case-insensitive; fields in any order, values quoted or tokens, as
 * RFC 7616 3.4 sends them).  Requires username, realm, nonce, uri,
 * response, qop=auth, nc (8 hex digits) and cnonce; algorithm MD5 (also
 * when absent) or SHA-256; the response of that algorithm's length in
 * hex.  Returns 0; ESTCA_ERR_NOT_FOUND for another scheme;
 * ESTCA_ERR_MALFORMED otherwise (also for userhash=true, -sess, a
 * repeated field or a control character).
 */
int estca_digest_parse(const char *header, struct estca_digest *d) ESTCA_WUR;

/* "MD5" / "SHA-256", and the hex length of each (32 / 64). */
const char *estca_digest_alg_name(enum estca_digest_alg alg);
size_t estca_digest_hex_len(enum estca_digest_alg alg);

/*
 * HA1 = H(username:realm:password) in lower-case hex into ha1 (65
 * bytes), as the DBA function stores it (tests and documentation).
 * 0 or -1.
 */
int estca_digest_ha1(enum estca_digest_alg alg, const char *username,
    const char *realm, const char *password, char ha1[65]) ESTCA_WUR;

/*
 * Does d's response match the stored ha1 (hex) for a request of method?
 * response = H(HA1:nonce:nc:cnonce:qop:H(method:uri)); compared in
 * constant time.
 */
bool estca_digest_check(const struct estca_digest *d, const char *ha1,
    const char *method);

/*
 * Nonces: hex of (8-byte big-endian time, 16 random bytes) followed by
 * hex of HMAC-SHA256(key, time || random || realm), so any worker that
 * reads the same key checks any worker's nonce, a nonce of one realm is
 * no good in another, and its age is known.  make writes one for now
 * into out (ESTCA_DIGEST_NONCE_LEN + 1 bytes); 0 or -1.
 */
#define ESTCA_DIGEST_NONCE_LEN (2 * (8 + 16 + 32))
int estca_digest_nonce_make(const unsigned char *key, size_t keylen,
    const char *realm, long long now, char *out, size_t outlen) ESTCA_WUR;

enum estca_nonce_state {
	ESTCA_NONCE_BAD = 0,     /* not ours (MAC, realm or format) */
	ESTCA_NONCE_OK,          /* ours and fresh; *issued set */
	ESTCA_NONCE_STALE,       /* ours but older than the lifetime */
};
enum estca_nonce_state estca_digest_nonce_check(const unsigned char *key,
    size_t keylen, const char *realm, const char *nonce, long long now,
    long long *issued);

#endif
