/*
 * approval.h - the approval queue's storage side (sql/005_approval.sql):
 * a request is identified by its alias, operation, the SHA-256 of its
 * CSR DER and how it authenticated (a retry must authenticate the same
 * way again: a code, the same RA member, the same certificate); one that needs approval is stored with what a DBA needs to
 * decide on it.  The decision itself is estca_policy_approval() (policy.h);
 * op_enroll.c carries it out inside its transaction.
 *
 * Never stores a secret: a CSR that carries an enrollment code is kept as
 * its hash, public key, subject (code removed) and SANs only.
 */
#ifndef ESTCA_APPROVAL_H
#define ESTCA_APPROVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "errors.h"
#include "db.h"
#include "csr.h"

/* One request's place in the queue. */
struct estca_queued {
	unsigned char *der;            /* the CSR's DER (OPENSSL_free) */
	size_t derlen;
	unsigned char sha256[32];
	bool found;                    /* est.approval_request has it ... */
	struct estca_approval_row row; /* ... locked, as this */
};

/*
 * How req is found in the queue: its DER and the SHA-256 of it into q
 * (found false).  0, or an error (detail says which).  q is freed with
 * estca_queued_free() in every case.
 */
int estca_approval_key(const struct estca_csr *req, struct estca_queued *q,
    char *detail, size_t detaillen) ESTCA_WUR;

/*
 * Hash req's DER and look the request up (FOR UPDATE, inside the caller's
 * transaction).  0 with q->found set, or an error (detail says which).
 * q is freed with estca_queued_free() in every case.
 */
int estca_approval_find(struct estca_db *db, const char *alias,
    const char *operation, const char *auth, const struct estca_csr *req,
    struct estca_queued *q, char *detail, size_t detaillen) ESTCA_WUR;

/* Who is asking for what, for estca_approval_store(). */
struct estca_approval_req {
	const char *alias;
	const char *operation;
	long long end_entity;          /* 0: none */
	const char *username;          /* NULL: none */
	const char *requester;
	const X509_NAME *subject;      /* to certify (code removed) */
	const GENERAL_NAMES *sans;     /* to certify; NULL: none */
	const X509_PUBKEY *spki;       /* the CSR's key */
	bool secret_in_csr;            /* keep only the CSR's hash */
	const char *auth;              /* how it authenticated */
};

/* Queue the request q was found for (it was not): *id is its row. */
int estca_approval_store(struct estca_db *db, const struct estca_queued *q,
    const struct estca_approval_req *r, long long *id, char *detail,
    size_t detaillen) ESTCA_WUR;

void estca_queued_free(struct estca_queued *q);

#endif
