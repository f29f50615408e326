/*
 * unit_san.c - tests of the engine's subjectAltName value checks
 * (estca_san_syntax, estca_profile_check_sans in engine/profile.h) and of
 * the escaping of request fields for log and audit lines
 * (estca_log_escape in lib/log.h).  TAP output.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/x509v3.h>
#include "log.h"
#include "profile.h"
#include "tap.h"


static void
test_escape(void)
{
	char out[64], small[12];
	static const unsigned char bin[] = { 'a', 0, 'b', 0xc3, 0xa9, 0x7f, 0x1b };

	tap_ok(strcmp(estca_log_escape(out, sizeof(out), "device-1 x", 10), "device-1 x") == 0,
	    "escape: printable ASCII is copied");
	estca_log_escape(out, sizeof(out), "a\nb\r\tc", 6);
	tap_ok(strcmp(out, "a\\x0ab\\x0d\\x09c") == 0, "escape: newline, CR, tab -> \\xNN (%s)", out);
	estca_log_escape(out, sizeof(out), "q\"b\\", 4);
	tap_ok(strcmp(out, "q\\\"b\\\\") == 0, "escape: quote and backslash escaped (%s)", out);
	estca_log_escape(out, sizeof(out), bin, sizeof(bin));
	tap_ok(strcmp(out, "a\\x00b\\xc3\\xa9\\x7f\\x1b") == 0,
	    "escape: NUL, UTF-8, DEL, ESC -> \\xNN (%s)", out);
	estca_log_escape(out, sizeof(out), "", 0);
	tap_ok(out[0] == 0, "escape: empty stays empty");
	/* 11 characters fit in 12 bytes exactly: no truncation mark */
	estca_log_escape(small, sizeof(small), "abcdefghijk", 11);
	tap_ok(strcmp(small, "abcdefghijk") == 0, "escape: exact fit kept whole (%s)", small);
	estca_log_escape(small, sizeof(small), "abcdefghijkl", 12);
	tap_ok(strcmp(small, "abcdefgh...") == 0, "escape: too long ends in ... (%s)", small);
	estca_log_escape(small, sizeof(small), "abcdefg\n\n\n", 10);
	tap_ok(strcmp(small, "abcdefg...") == 0,
	    "escape: an escape sequence is never cut (%s)", small);
	estca_log_escape(small, 3, "abc", 3);
	tap_ok(small[0] == 0, "escape: a buffer under 4 bytes gets an empty string");
	for (unsigned c = 0; c < 256; c++) {
		unsigned char b = (unsigned char)c;

		estca_log_escape(out, sizeof(out), &b, 1);
		for (const char *p = out; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
				tap_ok(0, "escape: byte %u gives printable ASCII only", c);
				return;
			}
	}
	tap_ok(1, "escape: every byte gives printable ASCII only");
}

struct san_case {
	int type;
	const char *v;
	int good;
};

static void
test_syntax(void)
{
	char l63[64], l64[65], long254[300], dns253[254], local65[80], uri1025[1100];
	static const struct san_case cases[] = {
		{ GEN_DNS, "dev-1.example.net", 1 },
		{ GEN_DNS, "localhost", 1 },
		{ GEN_DNS, "DEV.Example.NET", 1 },
		{ GEN_DNS, "xn--bcher-kva.example", 1 },
		{ GEN_DNS, "*.example.net", 1 },
		{ GEN_DNS, "1a.example.net", 1 },
		{ GEN_DNS, "", 0 },
		{ GEN_DNS, "bad..example", 0 },
		{ GEN_DNS, ".example", 0 },
		{ GEN_DNS, "example.", 0 },
		{ GEN_DNS, "-dev.example", 0 },
		{ GEN_DNS, "dev-.example", 0 },
		{ GEN_DNS, "under_score.example", 0 },
		{ GEN_DNS, "sp ace.example", 0 },
		{ GEN_DNS, "dev.example\n", 0 },
		{ GEN_DNS, "dev.example/x", 0 },
		{ GEN_DNS, "192.0.2.1", 0 },
		{ GEN_DNS, "*.net", 0 },
		{ GEN_DNS, "*", 0 },
		{ GEN_DNS, "*.", 0 },
		{ GEN_DNS, "a.*.example", 0 },
		{ GEN_DNS, "*x.example.net", 0 },
		{ GEN_DNS, "**.example.net", 0 },
		{ GEN_DNS, "caf\xc3\xa9.example", 0 },
		{ GEN_EMAIL, "joe@example.com", 1 },
		{ GEN_EMAIL, "dev.1+tag!x@mail.example.net", 1 },
		{ GEN_EMAIL, "joe@localhost", 1 },
		{ GEN_EMAIL, "", 0 },
		{ GEN_EMAIL, "joe", 0 },
		{ GEN_EMAIL, "@example.com", 0 },
		{ GEN_EMAIL, "joe@", 0 },
		{ GEN_EMAIL, "joe@@example.com", 0 },
		{ GEN_EMAIL, "jo@e@example.com", 0 },
		{ GEN_EMAIL, "jo e@example.com", 0 },
		{ GEN_EMAIL, "jo\ne@example.com", 0 },
		{ GEN_EMAIL, "jo\xc3\xa9@example.com", 0 },
		{ GEN_EMAIL, "joe@bad..example", 0 },
		{ GEN_EMAIL, "joe@*.example.com", 0 },
		{ GEN_EMAIL, "joe@[192.0.2.1]", 0 },
		{ GEN_EMAIL, "joe@example.com ", 0 },
		{ GEN_URI, "https://dev.example/p?q=a%20b#f", 1 },
		{ GEN_URI, "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6", 1 },
		{ GEN_URI, "coap+tcp://[2001:db8::1]:5683/x", 1 },
		{ GEN_URI, "urn:x:%27;--", 1 },
		{ GEN_URI, "", 0 },
		{ GEN_URI, "dev.example/path", 0 },
		{ GEN_URI, ":nothing", 0 },
		{ GEN_URI, "1http://x", 0 },
		{ GEN_URI, "ht_tp://x", 0 },
		{ GEN_URI, "https:", 0 },
		{ GEN_URI, "https://dev.example/a b", 0 },
		{ GEN_URI, "https://dev.example/\n", 0 },
		{ GEN_URI, "https://dev.example/\x7f", 0 },
		{ GEN_URI, "https://dev.example/\xc3\xa9", 0 },
		{ GEN_URI, "https://dev.example/<x>", 0 },
		{ GEN_URI, "https://dev.example/%zz", 0 },
		{ GEN_URI, "https://dev.example/%2", 0 },
		{ GEN_URI, "https://dev.example/\"", 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct san_case *c = &cases[i];
		const char *why = estca_san_syntax(c->type,
		    (const unsigned char *)c->v, strlen(c->v));
		char shown[128];

		estca_log_escape(shown, sizeof(shown), c->v, strlen(c->v));
		tap_ok((why == NULL) == c->good, "%s %s '%s'%s%s",
		    c->good ? "accepted:" : "refused:",
		    c->type == GEN_DNS ? "DNS" : c->type == GEN_EMAIL ? "email" : "URI",
		    shown, why ? " - " : "", why ? why : "");
	}
	/* embedded NUL: the length, not strlen, counts */
	tap_ok(estca_san_syntax(GEN_DNS, (const unsigned char *)"a\0b.example", 11) != NULL,
	    "refused: DNS with an embedded NUL");
	tap_ok(estca_san_syntax(GEN_EMAIL, (const unsigned char *)"a@b.example\0", 12) != NULL,
	    "refused: email with a trailing NUL");
	tap_ok(estca_san_syntax(GEN_URI, (const unsigned char *)"urn:x\0", 6) != NULL,
	    "refused: URI with a trailing NUL");

	/* lengths: label 63 yes, 64 no; name 253 yes, 254 no */
	memset(l63, 'a', 63);
	l63[63] = 0;
	memset(l64, 'a', 64);
	l64[64] = 0;
	snprintf(long254, sizeof(long254), "%s.example", l63);
	tap_ok(estca_san_syntax(GEN_DNS, (unsigned char *)long254, strlen(long254)) == NULL,
	    "accepted: DNS label of 63 characters");
	snprintf(long254, sizeof(long254), "%s.example", l64);
	tap_ok(estca_san_syntax(GEN_DNS, (unsigned char *)long254, strlen(long254)) != NULL,
	    "refused: DNS label of 64 characters");
	/* three labels of 63, one of 61, three dots: 253 */
	snprintf(dns253, sizeof(dns253), "%s.%s.%s.%.61s", l63, l63, l63, l63);
	tap_ok(strlen(dns253) == 253 &&
	    estca_san_syntax(GEN_DNS, (unsigned char *)dns253, 253) == NULL,
	    "accepted: DNS name of 253 characters");
	snprintf(long254, sizeof(long254), "%s.%s.%s.%.62s", l63, l63, l63, l63);
	tap_ok(strlen(long254) == 254 &&
	    estca_san_syntax(GEN_DNS, (unsigned char *)long254, 254) != NULL,
	    "refused: DNS name of 254 characters");
	memset(local65, 'x', 65);
	memcpy(local65 + 65, "@example.com", 13);
	tap_ok(estca_san_syntax(GEN_EMAIL, (unsigned char *)local65, strlen(local65)) != NULL,
	    "refused: email local part of 65 characters");
	memcpy(local65 + 64, "@example.com", 13);
	tap_ok(estca_san_syntax(GEN_EMAIL, (unsigned char *)local65, strlen(local65)) == NULL,
	    "accepted: email local part of 64 characters");
	memcpy(uri1025, "urn:", 4);
	memset(uri1025 + 4, 'x', 1021);
	tap_ok(estca_san_syntax(GEN_URI, (unsigned char *)uri1025, 1024) == NULL,
	    "accepted: URI of 1024 characters");
	tap_ok(estca_san_syntax(GEN_URI, (unsigned char *)uri1025, 1025) != NULL,
	    "refused: URI of 1025 characters");

	/* iPAddress: 4 or 16 bytes, nothing else */
	for (size_t n = 0; n <= 33; n++) {
		static const unsigned char ip[33];
		int good = estca_san_syntax(GEN_IPADD, ip, n) == NULL;

		if (good != (n == 4 || n == 16)) {
			tap_ok(0, "iPAddress of %zu bytes %s", n, good ? "accepted" : "refused");
			return;
		}
	}
	tap_ok(1, "iPAddress: only 4 and 16 bytes accepted (0..33 tried)");
	tap_ok(estca_san_syntax(GEN_OTHERNAME, (const unsigned char *)"x", 1) != NULL,
	    "refused: other name types");
}

static GENERAL_NAME *
gn(int type, const void *v, int n)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *s = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();

	if (g == NULL || s == NULL || !ASN1_STRING_set(s, v, n)) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	GENERAL_NAME_set0_value(g, type, s);
	return g;
}

static void
test_profile(void)
{
	struct estca_profiles ps;
	const struct estca_profile *dev, *tls;
	STACK_OF(GENERAL_NAME) *sans = sk_GENERAL_NAME_new_null();
	char reason[256] = "", err[256];
	static const unsigned char ip5[] = { 192, 0, 2, 1, 5 }, ip4[] = { 192, 0, 2, 1 };
	int r;

	if (estca_profiles_load(NULL, &ps, err, sizeof(err)) != 0 || sans == NULL ||
	    (dev = estca_profile_find(&ps, "device")) == NULL ||
	    (tls = estca_profile_find(&ps, "tls-server")) == NULL) {
		printf("Bail out! built-in profiles missing\n");
		exit(1);
	}
	sk_GENERAL_NAME_push(sans, gn(GEN_DNS, "dev.example", 11));
	sk_GENERAL_NAME_push(sans, gn(GEN_IPADD, ip4, 4));
	sk_GENERAL_NAME_push(sans, gn(GEN_EMAIL, "a@dev.example", 13));
	sk_GENERAL_NAME_push(sans, gn(GEN_URI, "urn:x:1", 7));
	r = estca_profile_check_sans(dev, sans, reason, sizeof(reason));
	tap_ok(r == 0, "profile device: one good SAN of each type accepted (%s)", reason);
	r = estca_profile_check_sans(tls, sans, reason, sizeof(reason));
	tap_ok(r == ESTCA_ERR_REFUSED && strstr(reason, "type email not allowed") != NULL,
	    "profile tls-server: type outside the profile refused first (%s)", reason);

	sk_GENERAL_NAME_push(sans, gn(GEN_IPADD, ip5, 5));
	r = estca_profile_check_sans(dev, sans, reason, sizeof(reason));
	tap_ok(r == ESTCA_ERR_REFUSED &&
	    strcmp(reason, "subjectAltName IP of 5 bytes refused: "
	    "not 4 (IPv4) or 16 (IPv6) bytes") == 0,
	    "5-byte iPAddress refused with its reason (%s)", reason);
	GENERAL_NAME_free(sk_GENERAL_NAME_pop(sans));

	sk_GENERAL_NAME_push(sans, gn(GEN_DNS, "x\n\"y..z", 7));
	r = estca_profile_check_sans(dev, sans, reason, sizeof(reason));
	tap_ok(r == ESTCA_ERR_REFUSED && strcmp(reason,
	    "subjectAltName DNS 'x\\x0a\\\"y..z' refused: character other than "
	    "letter, digit, hyphen or dot") == 0,
	    "bad dNSName refused, its value escaped in the reason (%s)", reason);
	GENERAL_NAME_free(sk_GENERAL_NAME_pop(sans));

	while (sk_GENERAL_NAME_num(sans) < ESTCA_MAX_SANS)
		sk_GENERAL_NAME_push(sans, gn(GEN_DNS, "dev.example", 11));
	r = estca_profile_check_sans(dev, sans, reason, sizeof(reason));
	tap_ok(r == 0, "%d SANs accepted", ESTCA_MAX_SANS);
	sk_GENERAL_NAME_push(sans, gn(GEN_DNS, "dev.example", 11));
	r = estca_profile_check_sans(dev, sans, reason, sizeof(reason));
	tap_ok(r == ESTCA_ERR_REFUSED && strstr(reason, "too many") != NULL,
	    "%d SANs refused (%s)", ESTCA_MAX_SANS + 1, reason);
	tap_ok(estca_profile_check_sans(dev, NULL, reason, sizeof(reason)) == 0,
	    "no SANs accepted");
	sk_GENERAL_NAME_pop_free(sans, GENERAL_NAME_free);
}

int
main(void)
{
	test_escape();
	test_syntax();
	test_profile();
	return tap_done();
}
