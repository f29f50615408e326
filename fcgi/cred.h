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

#endif
