/*
 * unit_cred.c - the credential checks of the web tier (fcgi/cred.c):
 * HTTP Basic parsing, crypt(3) hashes, and the per-worker RA password
 * cache.  Prints TAP; exits 1 if any case fails.
 */
#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "cred.h"
#include "tap.h"

/* ---- credentials ----------------------------------------------------------- */

static void
test_cred(void)
{
	static const struct {
		const char *hdr;
		int want;
		const char *user, *pass;
	} basic[] = {
		{ "Basic ZXN0YWRtaW46Zm9vMTIz", 0, "estadmin", "foo123" },
		{ "basic   ZXN0YWRtaW46Zm9vMTIz  ", 0, "estadmin", "foo123" },
		{ "BASIC dTphOmI=", 0, "u", "a:b" },        /* u:a:b */
		{ "Basic dTo=", 0, "u", "" },               /* u: */
		{ "Basic OnB3", ESTCA_ERR_MALFORMED, NULL, NULL },   /* :pw */
		{ "Basic dXNlcg==", ESTCA_ERR_MALFORMED, NULL, NULL }, /* user */
		{ "Basic dQlhOmI=", ESTCA_ERR_MALFORMED, NULL, NULL }, /* u\ta:b */
		{ "Basic ZXN0!", ESTCA_ERR_MALFORMED, NULL, NULL },
		{ "Basic ZXN0YWRtaW46Zm9vMTIz x", ESTCA_ERR_MALFORMED, NULL, NULL },
		{ "Basic", ESTCA_ERR_NOT_FOUND, NULL, NULL },
		{ "Bearer abc", ESTCA_ERR_NOT_FOUND, NULL, NULL },
		{ "Basicx ZXN0", ESTCA_ERR_NOT_FOUND, NULL, NULL },
		{ NULL, ESTCA_ERR_NOT_FOUND, NULL, NULL },
	};
	char user[ESTCA_BASIC_USER_MAX + 1], pass[ESTCA_BASIC_PASS_MAX + 1];
	char setting[64], hash[128];
	struct crypt_data *cd = OPENSSL_zalloc(sizeof(*cd));
	struct estca_ra_cache *cache = OPENSSL_zalloc(sizeof(*cache));
	struct estca_ra_cred k = { .alias = "est", .member_id = 7,
	    .username = "estadmin", .password = "foo123", .hash = NULL };
	const char *h;

	for (size_t i = 0; i < sizeof(basic) / sizeof(basic[0]); i++) {
		int r = estca_basic_parse(basic[i].hdr, user, pass);

		tap_ok(r == basic[i].want && (r != 0 ||
		    (strcmp(user, basic[i].user) == 0 &&
		    strcmp(pass, basic[i].pass) == 0)) &&
		    (r == 0 || (user[0] == 0 && pass[0] == 0)),
		    "Basic \"%s\" -> %d", basic[i].hdr ? basic[i].hdr : "(none)", r);
	}
	{
		/* a password above the limit */
		static char hdr[2048];
		unsigned char raw[600];
		int n;

		memcpy(raw, "u:", 2);
		memset(raw + 2, 'p', 300);
		memcpy(hdr, "Basic ", 6);
		n = EVP_EncodeBlock((unsigned char *)hdr + 6, raw, 302);
		hdr[6 + n] = 0;
		tap_ok(estca_basic_parse(hdr, user, pass) == ESTCA_ERR_MALFORMED,
		    "Basic password above 255 bytes refused");
	}

	h = crypt_gensalt_rn("$2b$", 4, NULL, 0, setting, sizeof(setting)) ?
	    crypt_r("foo123", setting, cd) : NULL;
	tap_ok(h != NULL && h[0] == '$', "bcrypt hash made for the test");
	snprintf(hash, sizeof(hash), "%s", h != NULL ? h : "*");
	tap_ok(estca_crypt_matches("foo123", hash), "crypt: right password");
	tap_ok(!estca_crypt_matches("foo124", hash), "crypt: wrong password");
	tap_ok(!estca_crypt_matches("foo123", "*0"), "crypt: unusable hash");
	tap_ok(!estca_crypt_matches("foo123", estca_dummy_hash),
	    "crypt: the dummy hash matches nothing we use");

	k.hash = hash;
	tap_ok(!estca_ra_cache_hit(cache, &k, 1000), "cache: empty misses");
	estca_ra_cache_put(cache, &k, 1000);
	tap_ok(estca_ra_cache_hit(cache, &k, 1000 + ESTCA_RA_CACHE_TTL - 1),
	    "cache: hit within the TTL");
	tap_ok(!estca_ra_cache_hit(cache, &k, 1000 + ESTCA_RA_CACHE_TTL),
	    "cache: miss once the TTL passed");
	k.password = "foo124";
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001), "cache: other password misses");
	k.password = "foo123";
	k.hash = estca_dummy_hash;
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001),
	    "cache: a new stored hash (password changed) misses");
	k.hash = hash;
	k.member_id = 8;
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001), "cache: other member misses");
	k.member_id = 7;
	k.alias = "other";
	tap_ok(!estca_ra_cache_hit(cache, &k, 1001), "cache: other alias misses");
	k.alias = "est";
	for (int i = 0; i < ESTCA_RA_CACHE_SLOTS + 1; i++) {
		char u[16];
		struct estca_ra_cred o = k;

		snprintf(u, sizeof(u), "user%d", i);
		o.username = u;
		estca_ra_cache_put(cache, &o, 1002);
	}
	tap_ok(!estca_ra_cache_hit(cache, &k, 1003),
	    "cache: a full cache evicts the oldest");
	{
		tap_ok(memmem(cache, sizeof(*cache), "foo123", 6) == NULL,
		    "cache: never holds the password");
	}
	estca_ra_cache_clear(cache);
	tap_ok(!cache->keyed, "cache: cleared");
	OPENSSL_clear_free(cd, sizeof(*cd));
	OPENSSL_free(cache);
}

/* ---- HTTP Digest (RFC 7616) ----------------------------------------------- */

static void
test_digest(void)
{
	/* RFC 7616 3.9.1: Mufasa, "Circle of Life", GET /dir/index.html */
	static const char rfc_md5[] = "Digest username=\"Mufasa\", "
	    "realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
	    "algorithm=MD5, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
	    "nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", "
	    "qop=auth, response=\"8ca523f5e9506fed4657c9700eebdbec\", "
	    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	static const char rfc_sha[] = "digest username=\"Mufasa\", "
	    "realm=\"http-auth@example.org\", uri=\"/dir/index.html\", "
	    "algorithm=SHA-256, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
	    "nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", "
	    "qop=auth, response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1\", "
	    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	static const char *const bad[] = {
		/* no qop, qop=auth-int, -sess, userhash, nc not 8 hex,
		 * response of the wrong length, a repeated field, no uri */
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", "
		    "response=\"00000000000000000000000000000000\", nc=00000001, cnonce=\"c\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth-int, "
		    "response=\"00000000000000000000000000000000\", nc=00000001, cnonce=\"c\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth, "
		    "algorithm=MD5-sess, response=\"00000000000000000000000000000000\", "
		    "nc=00000001, cnonce=\"c\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth, "
		    "userhash=true, response=\"00000000000000000000000000000000\", "
		    "nc=00000001, cnonce=\"c\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth, "
		    "response=\"00000000000000000000000000000000\", nc=1, cnonce=\"c\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth, "
		    "algorithm=SHA-256, response=\"00000000000000000000000000000000\", "
		    "nc=00000001, cnonce=\"c\"",
		"Digest username=\"u\", username=\"v\", realm=\"r\", nonce=\"n\", uri=\"/\", "
		    "qop=auth, response=\"00000000000000000000000000000000\", nc=00000001, cnonce=\"c\"",
		"Digest username=\"u\", realm=\"r\", nonce=\"n\", qop=auth, "
		    "response=\"00000000000000000000000000000000\", nc=00000001, cnonce=\"c\"",
		"Digest username=\"u\x01\", realm=\"r\", nonce=\"n\", uri=\"/\", qop=auth, "
		    "response=\"00000000000000000000000000000000\", nc=00000001, cnonce=\"c\"",
		"Digest username=\"unterminated",
	};
	struct estca_digest d;
	char ha1[65], nonce[ESTCA_DIGEST_NONCE_LEN + 1];
	unsigned char key[32], key2[32];
	long long issued = 0;

	tap_ok(estca_digest_parse("Basic ZXN0YWRtaW46Zm9vMTIz", &d) == ESTCA_ERR_NOT_FOUND,
	    "digest: Basic is another scheme");
	tap_ok(estca_digest_parse(rfc_md5, &d) == 0 && d.alg == ESTCA_DIGEST_MD5 &&
	    strcmp(d.username, "Mufasa") == 0 && strcmp(d.uri, "/dir/index.html") == 0,
	    "digest: RFC 7616 3.9.1 MD5 header parses");
	tap_ok(estca_digest_ha1(ESTCA_DIGEST_MD5, "Mufasa", "http-auth@example.org",
	    "Circle of Life", ha1) == 0 && estca_digest_check(&d, ha1, "GET"),
	    "digest: RFC 7616 MD5 response verifies");
	tap_ok(!estca_digest_check(&d, ha1, "POST"), "digest: another method fails");
	tap_ok(estca_digest_ha1(ESTCA_DIGEST_MD5, "Mufasa", "http-auth@example.org",
	    "Circle of life", ha1) == 0 && !estca_digest_check(&d, ha1, "GET"),
	    "digest: another password fails");
	tap_ok(estca_digest_parse(rfc_sha, &d) == 0 && d.alg == ESTCA_DIGEST_SHA256,
	    "digest: RFC 7616 3.9.1 SHA-256 header parses (scheme any case)");
	tap_ok(estca_digest_ha1(ESTCA_DIGEST_SHA256, "Mufasa", "http-auth@example.org",
	    "Circle of Life", ha1) == 0 && estca_digest_check(&d, ha1, "GET"),
	    "digest: RFC 7616 SHA-256 response verifies");
	tap_ok(!estca_digest_check(&d, "00", "GET"), "digest: a short HA1 fails");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		tap_ok(estca_digest_parse(bad[i], &d) == ESTCA_ERR_MALFORMED,
		    "digest: malformed header %zu refused", i);
	}

	memset(key, 0x42, sizeof(key));
	memset(key2, 0x43, sizeof(key2));
	tap_ok(estca_digest_nonce_make(key, sizeof(key), "estca est", 1000000,
	    nonce, sizeof(nonce)) == 0 && strlen(nonce) == ESTCA_DIGEST_NONCE_LEN,
	    "nonce: made");
	tap_ok(estca_digest_nonce_check(key, sizeof(key), "estca est", nonce,
	    1000010, &issued) == ESTCA_NONCE_OK && issued == 1000000,
	    "nonce: fresh, its time read back");
	tap_ok(estca_digest_nonce_check(key, sizeof(key), "estca est", nonce,
	    1000000 + ESTCA_DIGEST_NONCE_LIFETIME + 1, &issued) == ESTCA_NONCE_STALE,
	    "nonce: stale after the lifetime");
	tap_ok(estca_digest_nonce_check(key, sizeof(key), "estca other", nonce,
	    1000010, &issued) == ESTCA_NONCE_BAD, "nonce: another realm's is bad");
	tap_ok(estca_digest_nonce_check(key2, sizeof(key2), "estca est", nonce,
	    1000010, &issued) == ESTCA_NONCE_BAD, "nonce: another key's is bad");
	tap_ok(estca_digest_nonce_check(key, sizeof(key), "estca est", nonce,
	    1000000 - 3600, &issued) == ESTCA_NONCE_BAD, "nonce: from the future is bad");
	nonce[0] = nonce[0] == '0' ? '1' : '0';
	tap_ok(estca_digest_nonce_check(key, sizeof(key), "estca est", nonce,
	    1000010, &issued) == ESTCA_NONCE_BAD, "nonce: a changed time is bad");
	tap_ok(estca_digest_nonce_check(key, sizeof(key), "estca est", "abc",
	    1000010, &issued) == ESTCA_NONCE_BAD, "nonce: too short is bad");
}

int
main(void)
{
	test_cred();
	test_digest();
	return tap_done();
}
