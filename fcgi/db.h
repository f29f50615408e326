/*
 * db.h - the web tier's access to PostgreSQL (schema est, sql/).
 *
 * One connection per worker, opened on first use and kept.  A kept
 * connection found broken (server restart, idle timeout) is replaced once
 * and the statement retried, but only for a statement outside a
 * transaction, which is safe to repeat.  Errors: ESTCA_ERR_UNAVAILABLE when
 * the server cannot be reached or is shutting down (clients retry),
 * ESTCA_ERR_NOT_FOUND when a looked-up row is absent, ESTCA_ERR_INTERNAL
 * for anything else (a schema or permission problem: an operator's job).
 * The detail text of a failure is for the log, never for a client.
 */
#ifndef ESTCA_DB_H
#define ESTCA_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>
#include "errors.h"

struct estca_db;

#define ESTCA_DB_NAME_MAX 64

/* est.alias.enroll_mode, parsed once when the row is read. */
enum estca_mode {
	ESTCA_MODE_UNKNOWN = 0,         /* a value this worker does not know */
	ESTCA_MODE_CHALLENGE_PASSWORD,  /* code in the challengePassword */
	ESTCA_MODE_DN_PART_PASSWORD,    /* code in a subject attribute */
	ESTCA_MODE_RA,                  /* an RA role member enrolls */
	ESTCA_MODE_VENDOR,              /* a vendor device certificate */
};

/* The mode named text ("ra", ...); ESTCA_MODE_UNKNOWN for anything else. */
enum estca_mode estca_mode_parse(const char *text);

/* A row of est.alias (see sql/001_schema.sql for the meaning of each). */
struct estca_alias {
	char name[ESTCA_DB_NAME_MAX + 1];
	char ca_name[ESTCA_DB_NAME_MAX + 1];
	char profile[ESTCA_DB_NAME_MAX + 1];
	char username_dn_field[ESTCA_DB_NAME_MAX + 1];
	char enroll_mode[32];                     /* as stored, for messages */
	enum estca_mode mode;                     /* ... and parsed */
	char dn_part_field[ESTCA_DB_NAME_MAX + 1];   /* "" when NULL */
	bool allow_same_key_renewal;
	bool serverkeygen;
	bool change_subject_name;
	bool require_approval;
	int max_failed_attempts;
	bool channel_binding;     /* clients send tls-unique (008) */
	bool ra_register;         /* RA members may register end entities
	                           * (009; the limits are checked in SQL) */
	int digest[2];            /* Digest algorithms offered, in order
	                           * (enum estca_digest_alg, 010) */
	size_t ndigest;
};

/*
 * A request begins: what the connection keeps (estca_db_alias) has not
 * been used for it yet.  If it is used and the connection then turns out
 * dead, the request fails with ESTCA_ERR_UNAVAILABLE instead of going on
 * over a new connection (the old one may have missed a change).
 */
void estca_db_new_request(struct estca_db *db);

/* Remember conninfo (copied); does not connect. */
int estca_db_open(const char *conninfo, struct estca_db **out) ESTCA_WUR;
void estca_db_close(struct estca_db *db);

/*
 * Look up alias name into *a.  Rows read are kept between requests for
 * as long as the connection hears every change (012_record_phase.sql:
 * LISTEN estca_config, raised by any change to est.alias, est.role or
 * est.role_member); a notice, or a new connection, forgets them.  The
 * notice is sent when the change commits and read before the next
 * request's first lookup; a request that arrives in the moment between
 * may still see the row as it was, as it would had it come just before
 * the COMMIT.
 */
int estca_db_alias(struct estca_db *db, const char *name, struct estca_alias *a,
    char *detail, size_t detaillen) ESTCA_WUR;

/*
 * Transactions.  begin starts one: its BEGIN goes out with the first
 * statement, in one round trip, and every statement of the connection
 * has a lock timeout of 10 s (a request never waits long behind another
 * holding an end entity).  rollback is best effort and safe to call
 * outside a transaction.  A lock timeout, deadlock or serialization
 * failure is ESTCA_ERR_UNAVAILABLE.
 */
int estca_db_begin(struct estca_db *db, char *detail, size_t detaillen) ESTCA_WUR;
int estca_db_commit(struct estca_db *db, char *detail, size_t detaillen) ESTCA_WUR;
void estca_db_rollback(struct estca_db *db);
/* A transaction was begun and not yet committed or rolled back. */
bool estca_db_in_transaction(const struct estca_db *db);

#define ESTCA_DB_USERNAME_MAX 256
#define ESTCA_DB_DN_MAX 1024
#define ESTCA_DB_SANS_MAX 64
#define ESTCA_DB_HASH_MAX 255

/* A row of est.end_entity; sans are allocated: estca_db_ee_clear(). */
struct estca_end_entity {
	long long id;
	char username[ESTCA_DB_USERNAME_MAX + 1];
	bool has_subject_dn;
	char subject_dn[ESTCA_DB_DN_MAX + 1];
	bool has_code;
	char code_hash[ESTCA_DB_HASH_MAX + 1];    /* wiped by _clear */
	int uses_left;
	int failed_attempts;
	char status[16];
	bool require_approval;                    /* 005_approval.sql */
	char *sans[ESTCA_DB_SANS_MAX];
	size_t nsans;
};
void estca_db_ee_clear(struct estca_end_entity *ee);

/*
 * Fetch and lock (SELECT ... FOR UPDATE, inside a transaction) the end
 * entity (alias, username), or the one with id when username is NULL.
 * ESTCA_ERR_NOT_FOUND when there is none.
 */
int estca_db_ee_lock(struct estca_db *db, const char *alias,
    const char *username, long long id, struct estca_end_entity *ee,
    char *detail, size_t detaillen) ESTCA_WUR;

struct estca_approval_row;

/*
 * estca_db_ee_lock of (alias, username) and estca_db_approval_find of
 * (alias, operation, sha256, auth) in one round trip (with the BEGIN,
 * when it is the transaction's first statement).  *ee_r and *row_r get
 * what each would have returned (0 or ESTCA_ERR_NOT_FOUND); any other
 * failure is returned, and then *ee needs no clearing.
 */
int estca_db_ee_lock_queued(struct estca_db *db, const char *alias,
    const char *username, struct estca_end_entity *ee, int *ee_r,
    const char *operation, const unsigned char sha256[32], const char *auth,
    struct estca_approval_row *row, int *row_r, char *detail,
    size_t detaillen) ESTCA_WUR;

/* Count one failed code attempt; lock the end entity too when lock. */
int estca_db_ee_failed(struct estca_db *db, long long id, bool lock,
    char *detail, size_t detaillen) ESTCA_WUR;

/*
 * Register end entity username under alias for RA role member member_id
 * (009_ra_register.sql: est.ra_register_end_entity checks the alias's
 * option and limits and the role's quota), inside the open transaction,
 * with subject (RFC 4514) and sans[0..nsans) ("DNS:x", ...).  0 with *id;
 * ESTCA_ERR_NOT_FOUND when the name was registered meanwhile (look it up
 * again); ESTCA_ERR_REFUSED when the limits refuse, with the database's
 * one-line reason in reason (the transaction is then aborted: roll back).
 */
int estca_db_ra_register(struct estca_db *db, const char *alias,
    long long member_id, const char *username, const char *subject,
    const char *const *sans, size_t nsans, const char *requester,
    long long *id, char *reason, size_t reasonlen, char *detail,
    size_t detaillen) ESTCA_WUR;

/* A certificate to record in est.certificate. */
struct estca_cert_row {
	const char *issuer;        /* RFC 4514 */
	const char *serial;        /* upper-case hex, no leading zeros */
	const char *subject;
	const char *not_before;    /* timestamptz text */
	const char *not_after;
	const unsigned char *der;
	size_t derlen;
	long long end_entity;      /* 0: none */
	const char *alias;
};

/* What est.certificate says about the certificate whose DER has this
 * SHA-256.  ESTCA_ERR_NOT_FOUND when it is not there. */
struct estca_cert_state {
	char alias[ESTCA_DB_NAME_MAX + 1];   /* "" when NULL */
	bool revoked;
	bool expired;                        /* not_after <= now() */
	long long end_entity;                /* 0: none */
};
int estca_db_cert_state(struct estca_db *db, const unsigned char sha256[32],
    struct estca_cert_state *st, char *detail, size_t detaillen) ESTCA_WUR;

/* One row of est.audit; NULL fields stay NULL. */
struct estca_audit_row {
	const char *alias;
	const char *username;
	const char *operation;
	bool accept;
	const char *reason;
	const char *requester;
	const char *serial;
};
int estca_db_audit(struct estca_db *db, const struct estca_audit_row *a,
    char *detail, size_t detaillen) ESTCA_WUR;

/*
 * Inside the open transaction: record certificate c, consume one use of
 * its end entity (when consume), mark approval request approval_id issued
 * (when > 0), write the accepting audit row a (its accept, alias and
 * serial are c's), and COMMIT, in one round trip
 * (012_record_phase.sql).  On any failure nothing is written and the
 * transaction is rolled back; ESTCA_ERR_UNAVAILABLE when the connection
 * was lost on the way (whether it committed is then unknown).
 */
int estca_db_record_issue(struct estca_db *db, const struct estca_cert_row *c,
    bool consume, long long approval_id, const struct estca_audit_row *a,
    char *detail, size_t detaillen) ESTCA_WUR;

/* An RA role member (est.role_member) of an alias's role. */
struct estca_ra_member {
	long long id;
	char role[ESTCA_DB_NAME_MAX + 1];
	char password_hash[ESTCA_DB_HASH_MAX + 1];   /* "" when none; wiped */
};
#define ESTCA_DB_RA_MEMBERS_MAX 8

/*
 * Digest (010_digest.sql): the nonce key (est.digest_key) into key (at
 * most keycap bytes, *keylen set); the members called username of the
 * roles of alias with an HA1 for algorithm ("SHA-256", "MD5"), the HA1 in
 * password_hash (wiped by the caller), as estca_db_ra_password_members;
 * and recording a used (nonce, nc) until expires (seconds since the
 * epoch): ESTCA_ERR_REFUSED when it was used before (a replay).
 */
int estca_db_digest_key(struct estca_db *db, unsigned char *key, size_t keycap,
    size_t *keylen, char *detail, size_t detaillen) ESTCA_WUR;
int estca_db_ra_digest_members(struct estca_db *db, const char *alias,
    const char *username, const char *algorithm, struct estca_ra_member *m,
    size_t *n, char *detail, size_t detaillen) ESTCA_WUR;
int estca_db_digest_nonce_use(struct estca_db *db, const char *nonce,
    const char *nc, long long expires, char *detail, size_t detaillen)
    ESTCA_WUR;

/*
 * The members called username that have a password, in the roles of
 * alias (a name may be in several roles), into m[0..*n), at most
 * ESTCA_DB_RA_MEMBERS_MAX.  *n == 0 when there is none.  Members found
 * are kept between requests, as alias rows are (estca_db_alias).
 */
int estca_db_ra_password_members(struct estca_db *db, const char *alias,
    const char *username, struct estca_ra_member *m, size_t *n,
    char *detail, size_t detaillen) ESTCA_WUR;

/*
 * The member whose certificate has this SHA-256 in a role of alias, and
 * the issuer certificates of that member's roles (est.role_issuer; a
 * stack the caller frees, possibly empty).  ESTCA_ERR_NOT_FOUND when the
 * certificate is no member's.
 */
int estca_db_ra_cert_member(struct estca_db *db, const char *alias,
    const unsigned char sha256[32], struct estca_ra_member *m,
    STACK_OF(X509) **issuers, char *detail, size_t detaillen) ESTCA_WUR;

/* The vendor CA certificates of alias (est.vendor_ca) as a stack the
 * caller frees, possibly empty.  Rows that do not parse are skipped and
 * counted in *bad. */
int estca_db_vendor_cas(struct estca_db *db, const char *alias,
    STACK_OF(X509) **out, int *bad, char *detail, size_t detaillen) ESTCA_WUR;

/*
 * The approval queue (est.approval_request, sql/005_approval.sql).  A
 * request is found again by (alias, operation, SHA-256 of the CSR DER).
 */
struct estca_approval_row {
	long long id;
	long long end_entity;      /* 0: none (the end entity was deleted) */
	char status[16];           /* pending approved rejected issued expired */
	bool expired;              /* expires_at <= now() */
};

/* Find and lock (FOR UPDATE) the queued request; ESTCA_ERR_NOT_FOUND
 * when there is none. */
int estca_db_approval_find(struct estca_db *db, const char *alias,
    const char *operation, const unsigned char sha256[32], const char *auth,
    struct estca_approval_row *row, char *detail, size_t detaillen) ESTCA_WUR;

/* A request to queue.  csr_der NULL: the CSR held a secret, keep only
 * its hash. */
struct estca_approval_new {
	const char *alias;
	long long end_entity;      /* 0: none */
	const char *username;      /* NULL: none */
	const char *operation;
	const unsigned char *sha256;   /* 32 bytes */
	const unsigned char *csr_der;
	size_t csr_len;
	const unsigned char *spki_der;
	size_t spki_len;
	const char *subject;       /* RFC 4514 */
	const char *sans;          /* one line; NULL: none */
	const char *requester;
	const char *auth;          /* how it authenticated (007_request_auth) */
};
int estca_db_approval_insert(struct estca_db *db,
    const struct estca_approval_new *n, long long *id, char *detail,
    size_t detaillen) ESTCA_WUR;

/* How many requests of end entity ee_id are open (pending or approved,
 * not expired). */
int estca_db_approval_open(struct estca_db *db, long long ee_id, long long *n,
    char *detail, size_t detaillen) ESTCA_WUR;

/* Mark request id "issued" (with serial) or "expired" (serial NULL). */
int estca_db_approval_mark(struct estca_db *db, long long id,
    const char *status, const char *serial, char *detail, size_t detaillen)
    ESTCA_WUR;

/* One row of est.csrattr (position order); values NULL for a bare OID. */
struct estca_csrattr {
	char oid[128];
	unsigned char *values;   /* DER of a SET OF AttributeValue */
	size_t values_len;
};
#define ESTCA_DB_CSRATTRS_MAX 64

/* The CSR attributes of alias; *out (n entries) freed with
 * estca_db_csrattrs_free(). */
int estca_db_csrattrs(struct estca_db *db, const char *alias,
    struct estca_csrattr **out, size_t *n, char *detail, size_t detaillen)
    ESTCA_WUR;
void estca_db_csrattrs_free(struct estca_csrattr *a, size_t n);

#endif
