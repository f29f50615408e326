/*
 * policy.h - who may enroll what: the authorization rules of
 * simpleenroll and simplereenroll as pure functions.
 *
 * Initial enrollment has four modes (est.alias.enroll_mode): the code
 * modes challenge_password and dn_part_password, where the request
 * carries the end entity's enrollment code; ra, where an RA role member
 * authenticates (HTTP Basic or a TLS client certificate) and no code is
 * needed; and vendor, where a device certificate chaining to a vendor CA
 * of the alias authenticates and names the end entity.  In every mode the
 * end entity must be registered, active, have an enrollment left (one is
 * used up), and the certificate's subject and SANs must match its
 * registration.
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
 *    subject_dn: any subject.  An empty requested subject asks for the
 *    registered one (estca_enroll_subject); with none registered it is
 *    refused.
 *  - SANs: every SAN of the request is one of the registered ones: DNS
 *    names compared ignoring ASCII case, IP addresses as bytes, email
 *    addresses with the domain ignoring case, URIs byte for byte.  Other
 *    SAN types are never registrable.
 *  - renewal: the request repeats the presented certificate's subject
 *    byte for byte (its DER; no folding of case or spaces) and exactly its
 *    set of SANs, or leaves the subject empty (and then either repeats the
 *    SANs or has none).  The new certificate always names the old one's
 *    subject and SANs as they are, never the request's spelling.
 */
#ifndef ESTCA_POLICY_H
#define ESTCA_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "errors.h"
#include "db.h"
#include "names.h"
#include "status.h"

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
	const char *username;       /* the end entity's name (vendor: from the
	                             * vendor certificate) */
};

/* Is this alias's enrollment mode one we know?  0, or
 * ESTCA_ERR_UNSUPPORTED with d filled. */
int estca_policy_enroll_mode(const struct estca_alias *a,
    struct estca_decision *d);

/* Does the alias's mode authenticate with an enrollment code? */
bool estca_policy_code_mode(const struct estca_alias *a);

/*
 * Decide an initial enrollment once the requester is known: in the code
 * modes f->code_* say whether the code was right; in ra and vendor modes
 * they are ignored (estca_policy_ra / estca_policy_vendor accepted the
 * requester before).
 */
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
	const EVP_PKEY *key;        /* the CSR's public key */
	bool csn;                   /* the CSR carries ChangeSubjectName */
	bool server_keygen;         /* serverkeygen: the key will be new */
};

/* How an RA authenticated (mode ra). */
enum estca_ra_how {
	ESTCA_RA_NONE = 0,      /* no Authorization, no client certificate */
	ESTCA_RA_BASIC,         /* HTTP Basic (checked first when present) */
	ESTCA_RA_CERT,          /* TLS client certificate */
};

struct estca_ra_facts {
	enum estca_ra_how how;
	bool malformed;         /* the header or the certificate is unusable */
	bool known;             /* basic: a member has this username;
	                         * cert: its SHA-256 is a member's */
	bool password_ok;       /* basic: one such member's password matched */
	bool chain_ok;          /* cert: verifies to a role issuer or the
	                         * alias's CA, valid now, for TLS clients */
	const char *chain_why;
	bool revoked;           /* cert: issued by this CA and revoked */
};

/* Decide whether the RA may act for this alias: 0, ESTCA_WEB_ERR_AUTH
 * (401; the reply adds WWW-Authenticate) or ESTCA_ERR_REFUSED (403). */
void estca_policy_ra(const struct estca_alias *a, const struct estca_ra_facts *f,
    struct estca_decision *d);

struct estca_vendor_facts {
	bool cert_present;
	bool cert_malformed;
	bool chain_ok;          /* chains to a vendor CA of the alias, valid
	                         * now, fit for TLS client authentication */
	const char *chain_why;
	int username_r;         /* estca_name_field() of username_dn_field on
	                         * the vendor certificate's subject */
	bool csn;               /* the CSR carries ChangeSubjectName */
	bool csn_subject;       /* ... with a non-empty subject */
	bool revoked;           /* issued by this CA and revoked */
};

/* Decide whether a vendor certificate may enroll (mode vendor). */
void estca_policy_vendor(const struct estca_alias *a,
    const struct estca_vendor_facts *f, struct estca_decision *d);

/*
 * The subject an initial enrollment certifies, in every mode:
 * ChangeSubjectName's subject when the request has one (vendor mode, if
 * the alias allows it), else the CSR's subject when it is not empty, else
 * (an empty CSR subject, as in the EJBCA workflow's -subj "/") the
 * registered subject (built from est.end_entity.subject_dn with
 * estca_dn_build; NULL when none is registered, and then the empty CSR
 * subject comes back, which estca_policy_enroll refuses).  Never NULL.
 * The vendor certificate's own subject is never taken: the registration
 * is what a DBA decided (and may order the RDNs unlike the device).
 */
const X509_NAME *estca_enroll_subject(const X509_NAME *csr_subject,
    const X509_NAME *csn_subject, const X509_NAME *registered);

/*
 * Proof of possession (RFC 7030 3.5): a client may put the TLS channel
 * binding (tls-unique) into the CSR's challengePassword.  Behind Apache
 * or lighttpd the worker never learns the channel's value, so it cannot
 * verify one; it must never take one for an enrollment code either.
 * Does challenge look like a channel binding: the base64 (RFC 4648,
 * padded) of 12 bytes (tls-unique of TLS 1.2, the Finished message's
 * verify_data) or 32 bytes (tls-exporter, RFC 9266)?
 */
bool estca_challenge_is_binding(const char *challenge);

/*
 * Refuse a request whose challengePassword is such a value (d->err
 * ESTCA_ERR_REFUSED) wherever the challengePassword is not where the code
 * is expected (code_expected false: dn_part_password, ra and vendor
 * modes, renewal, re-key), and, where it is (challenge_password mode),
 * when the alias says its clients send a binding (channel_binding).
 * Else d->err 0.  challenge may be NULL (none).
 */
void estca_policy_binding(const struct estca_alias *a, bool code_expected,
    const char *challenge, struct estca_decision *d);

/* Decide a renewal (simplereenroll). */
void estca_policy_renew(const struct estca_alias *a,
    const struct estca_renew_facts *f, struct estca_decision *d);

/*
 * The approval queue (doc/enrollment.md, "Approval").  A request that
 * passed authentication and policy is issued at once, or queued when its
 * alias or end entity requires approval; a request found in the queue
 * (same alias, operation and CSR bytes) is answered by its state.
 */
enum estca_approval_action {
	ESTCA_APPROVAL_NONE = 0,  /* not queued, no approval needed: issue */
	ESTCA_APPROVAL_QUEUE,     /* store it, answer 202 */
	ESTCA_APPROVAL_WAIT,      /* queued and pending: 202 again */
	ESTCA_APPROVAL_RELEASE,   /* approved: issue now, mark it issued */
	ESTCA_APPROVAL_EXPIRE,    /* queued but expired: mark it expired, 403 */
	ESTCA_APPROVAL_REFUSE,    /* 403 */
};

struct estca_approval_facts {
	bool required;            /* the alias or the end entity requires it */
	bool found;               /* the request is in the queue ... */
	const char *status;       /* ... with this status */
	bool expired;             /* ... past its expires_at */
	bool same_ee;             /* ... for the end entity this request names */
	long long open_others;    /* not found: open requests of the end entity */
};

/*
 * Decide what the queue does with a request (*action), with d->err
 * ESTCA_WEB_PENDING (queue, wait), ESTCA_ERR_REFUSED (expire, refuse) or
 * 0 (none, release), and d->reason / d->audit.
 */
void estca_policy_approval(const struct estca_approval_facts *f,
    enum estca_approval_action *action, struct estca_decision *d);

#endif
