/*
 * enroll.h - inside estca-fcgi, what the three files of the enrollment
 * operations share and nothing else includes: the state of one request
 * (struct enroll) and the steps one file does for the others.
 * op_enroll.c has the entry points, initial enrollment and renewal;
 * enroll_auth.c authenticates RA and vendor requesters; enroll_issue.c
 * carries a decision out (issue, refuse, audit, the approval queue).
 */
#ifndef ESTCA_ENROLL_H
#define ESTCA_ENROLL_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "fcgi.h"
#include "approval.h"
#include "csr.h"
#include "policy.h"

/* The state of one enrollment request. */
struct enroll {
	struct estca_ctx *ctx;
	struct estca_http *h;
	const char *op;                          /* for est.audit */
	char addr[64];                           /* REMOTE_ADDR */
	char requester[400];   /* addr, then who authenticated (est.audit) */
	char username[ESTCA_DB_USERNAME_MAX + 1];  /* "" while unknown */
	char serial[48];       /* certificate presented, then issued; "" none */
	struct estca_csr csr;
	const char *key_type;  /* serverkeygen: the engine makes this key */
	struct estca_queued q; /* the request's place in the approval queue */
	char auth[80];         /* how it authenticated (approval queue key) */
	long long approved_id; /* > 0: issuing this approved request */
	long long ra_member;   /* > 0: the RA role member who authenticated */
};

/* enroll_issue.c (each documented there) */
int enroll_serial_hex(const X509 *x, char *dst, size_t len);
int enroll_audit(struct enroll *e, bool accept, const char *reason);
int enroll_refuse(struct enroll *e, int err, const char *reason,
    const char *audit_text, bool in_txn);
int enroll_db_fail(struct enroll *e, int r, const char *what,
    const char *detail);
int enroll_queue_decide(struct enroll *e, long long ee_id, bool required,
    enum estca_approval_action *act, struct estca_decision *d);
int enroll_queue_find(struct enroll *e);
int enroll_proceed(struct enroll *e, const X509_NAME *subject,
    const GENERAL_NAMES *sans, long long ee_id, bool consume,
    const char *accept_text, bool required, bool secret_in_csr);

/* enroll_auth.c (each documented there) */
int enroll_set_auth_cert(struct enroll *e, const char *kind, const X509 *x);
int enroll_ra_authenticate(struct enroll *e);
int enroll_vendor_authenticate(struct enroll *e, X509 **vendor);
int enroll_ra_register(struct enroll *e, const X509_NAME *subject,
    const GENERAL_NAMES *sans, struct estca_end_entity *ee);

#endif
