/*
 * policy.h - who may enroll what: the authorization rules of
 * simpleenroll and simplereenroll as pure functions.
 *
 * Everything here takes plain facts (the alias row, the end-entity row,
 * what the CSR and the client certificate say, what the code check found)
 * and returns a decision with a reason.  No I/O, no database, no engine,
 * no clock: tests/unit_policy.c drives it with tables.  op_enroll.c
 * gathers the facts, asks, and carries out the decision.
 *
 * Matching rules (doc/enrollment.md):
 *  - subject: the registered subject_dn (RFC 4514 text) and the requested
 *    subject name the same attribute types (by OID) with byte-equal UTF-8
 *    values, in the same order and the same RDN grouping.  NULL
 *    subject_dn: any subject.
 *  - SANs: every SAN of the request is one of the registered ones: DNS
 *    names compared ignoring ASCII case, IP addresses as bytes, email
 *    addresses with the domain ignoring case, URIs byte for byte.  Other
 *    SAN types are never registrable.
 *  - renewal: the request repeats the presented certificate's subject
 *    (X509_NAME_cmp) and exactly its set of SANs.
 */
#ifndef ESTCA_POLICY_H
#define ESTCA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "errors.h"
#include "db.h"

/* What the client reads when a credential check fails, whatever the cause
 * (unknown end entity, wrong code, no code): no enumeration of names. */
#define ESTCA_POLICY_BAD_CREDENTIALS "unknown end entity or wrong enrollment code"

struct estca_decision {
	int err;              /* 0: accept; else the error to answer with */
	const char *reason;   /* for the client: static, one line */
	char audit[300];      /* for est.audit and the log; never a secret */
	bool count_failure;   /* add one to the end entity's failed attempts */
	bool lock;            /* ... and that failure locks it */
};

/* An end entity as the policy sees it (from est.end_entity). */
struct estca_ee_facts {
	bool found;
	const char *status;         /* "active", "locked", "disabled" */
	bool has_code;              /* code_hash is not NULL */
	int uses_left;
	int failed_attempts;
	const char *subject_dn;     /* NULL: any subject */
	const char *const *sans;    /* registered SANs, "DNS:x" ... */
	size_t nsans;
};

/* An initial enrollment request as the policy sees it. */
struct estca_enroll_facts {
	bool code_present;          /* the request carried a code */
	bool code_ok;               /* ... and it matches the stored hash */
	const X509_NAME *subject;   /* the subject to certify (code removed) */
	const GENERAL_NAMES *sans;  /* NULL: none */
};

/* Can this alias's enrollment mode enroll here yet?  0, or
 * ESTCA_ERR_UNSUPPORTED with d filled. */
int estca_policy_enroll_mode(const struct estca_alias *a,
    struct estca_decision *d);

/* Decide an initial enrollment (challenge_password, dn_part_password). */
void estca_policy_enroll(const struct estca_alias *a,
    const struct estca_ee_facts *ee, const struct estca_enroll_facts *f,
    struct estca_decision *d);

/* The presented certificate as the policy sees it. */
struct estca_renew_facts {
	bool chain_ok;              /* verifies up to the alias's CA */
	const char *chain_why;      /* when not: why (static or caller's) */
	bool known;                 /* its DER is in est.certificate */
	bool same_alias;            /* ... recorded under this alias */
	bool revoked;
	bool expired;               /* notAfter passed (by the database clock) */
	const char *ee_status;      /* of its end entity; NULL: none linked */
	const X509 *cert;
	const X509_NAME *subject;   /* the CSR's */
	const GENERAL_NAMES *sans;  /* the CSR's; NULL: none */
	const X509_PUBKEY *spki;    /* the CSR's */
};

/* Decide a renewal (simplereenroll). */
void estca_policy_renew(const struct estca_alias *a,
    const struct estca_renew_facts *f, struct estca_decision *d);

/*
 * The value of the attribute named field (an OpenSSL short or long name,
 * or a dotted OID) in name, as UTF-8 into dst.  It must occur exactly once
 * and hold no NUL.  Returns 0, ESTCA_ERR_NOT_FOUND (absent),
 * ESTCA_ERR_REFUSED (more than once, empty, too long, not text) or
 * ESTCA_ERR_CONFIG (field is no attribute type OpenSSL knows).  dst is
 * wiped on failure; pass a secret buffer for codes.
 */
int estca_name_field(const X509_NAME *name, const char *field, char *dst,
    size_t dstlen) ESTCA_WUR;

/* A copy of name without its (single) field attribute; caller frees. */
int estca_name_without(const X509_NAME *name, const char *field,
    X509_NAME **out) ESTCA_WUR;

/*
 * Does name equal the RFC 4514 string dn under the rule above?  Returns
 * 1 (equal), 0 (different) or ESTCA_ERR_MALFORMED when dn does not parse
 * (hex '#' values and quoted values are not supported).
 */
int estca_dn_match(const X509_NAME *name, const char *dn);

/* Is gn equal to the registered SAN text reg ("DNS:x", ...)?  1 or 0. */
int estca_san_match(const GENERAL_NAME *gn, const char *reg);

/* One line describing gn ("DNS:x", "IP:192.0.2.1", "otherName") for
 * reasons and audit rows. */
void estca_san_text(const GENERAL_NAME *gn, char *dst, size_t dstlen);

/* name as RFC 4514 text (UTF-8), for the database and the log. */
int estca_name_text(const X509_NAME *name, char *dst, size_t dstlen) ESTCA_WUR;

#endif
