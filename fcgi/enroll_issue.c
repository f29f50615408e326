/*
 * enroll_issue.c - carrying out an enrollment decision (enroll.h): issue
 * (the engine signs inside the open transaction; the certificate, the
 * used-up enrollment and the audit row are committed together, or
 * nothing is), refuse with an audit row, and the approval queue (queue,
 * wait, release).  Decides nothing itself: policy.c does, and the caller
 * has authenticated the requester.  Must never deliver a certificate that
 * was not recorded, nor leave a signed one unmentioned in est.audit.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include "enroll.h"
#include "str.h"
#include "reply.h"
#include "certder.h"
#include "status.h"
#include "log.h"

#define ENROLL_CTYPE "application/pkcs7-mime; smime-type=certs-only"

/* what a certificate's names render to fits its est.certificate column */
_Static_assert(sizeof(((struct estca_cert_text *)0)->subject) ==
    ESTCA_DB_DN_MAX + 1, "estca_cert_text holds an ESTCA_DB_DN_MAX name");

/* Upper-case hex of the serial, no leading zeros (est.certificate). */
int
enroll_serial_hex(const X509 *x, char *dst, size_t len)
{
	const ASN1_INTEGER *sn = X509_get0_serialNumber(x);

	/* the engine never issues a negative serial; refuse to name one */
	if (ASN1_STRING_type(sn) != V_ASN1_INTEGER)
		return ESTCA_ERR_INTERNAL;
	return estca_serial_text(dst, len, ASN1_STRING_get0_data(sn),
	    (size_t)ASN1_STRING_length(sn)) == 0 ? 0 : ESTCA_ERR_INTERNAL;
}

/* The est.audit row of this request's decision. */
static void
audit_row(const struct enroll *e, bool accept, const char *reason,
    struct estca_audit_row *a)
{
	a->alias = e->h->alias.name;
	a->username = e->username[0] ? e->username : NULL;
	a->operation = e->op;
	a->accept = accept;
	a->reason = reason;
	a->requester = e->requester;
	a->serial = e->serial[0] ? e->serial : NULL;
}

/* Write one est.audit row in whatever transaction state the connection
 * is in.  A failure is logged and returned; the decision stands. */
int
enroll_audit(struct enroll *e, bool accept, const char *reason)
{
	struct estca_audit_row a;
	char detail[300];
	int r;

	audit_row(e, accept, reason, &a);

	if ((r = estca_db_audit(e->ctx->db, &a, detail, sizeof(detail))) != 0)
		log_err("%s %s: audit row not written: %s", e->h->method,
		    e->h->logpath, detail);
	return r;
}

/*
 * Refuse the request with err: write the audit row (inside the open
 * transaction, which is then committed with whatever else it changed,
 * when in_txn), and give the client reason.  Returns err.
 */
int
enroll_refuse(struct enroll *e, int err, const char *reason, const char *audit_text,
    bool in_txn)
{
	char detail[300];
	int r = enroll_audit(e, false, audit_text);

	if (in_txn) {
		if (r != 0)
			estca_db_rollback(e->ctx->db);
		else if (estca_db_commit(e->ctx->db, detail, sizeof(detail)) != 0)
			log_err("%s %s: refusal not recorded: %s", e->h->method,
			    e->h->logpath, detail);
	}
	return estca_http_fail(e->h, err, reason, "%s%s%s%s", audit_text,
	    e->username[0] ? " (end entity \"" : "", e->username,
	    e->username[0] ? "\")" : "");
}

/*
 * The COMMIT's answer was lost with the connection (a database restart):
 * did it land?  Asks again, on a new connection, for up to about 5 s,
 * whether the certificate der is recorded.  True only when it is; false
 * when it is not, or when the database stays away (the caller then
 * answers 503 and logs the serial: the engine's audit log and the table
 * show whether it landed).
 */
static bool
commit_landed(struct enroll *e, const unsigned char *der, size_t len)
{
	struct estca_cert_state st;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char detail[300];
	int r = ESTCA_ERR_UNAVAILABLE;

	if (!EVP_Digest(der, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
		return false;
	for (int i = 0; i < 10 && r == ESTCA_ERR_UNAVAILABLE; i++) {
		if (i > 0) {
			struct timespec ts = { 0, 500 * 1000 * 1000 };

			nanosleep(&ts, NULL);
		}
		r = estca_db_cert_state(e->ctx->db, md, &st, detail,
		    sizeof(detail));
	}
	if (r == 0)
		log_warn("%s %s: certificate %s: COMMIT answer lost, but it is "
		    "recorded; delivering it", e->h->method, e->h->logpath,
		    e->serial);
	else if (r == ESTCA_ERR_UNAVAILABLE)
		log_err("%s %s: certificate %s: COMMIT answer lost and the "
		    "database stays away: outcome unknown (%s)", e->h->method,
		    e->h->logpath, e->serial, detail);
	return r == 0;
}

/*
 * Inside the open transaction: have the engine certify subject and the
 * CSR's SANs and key, record the certificate (for end entity ee_id, 0:
 * none), use up one enrollment when consume, write the accept row with
 * accept_text, commit, and answer the certificate.  Any failure rolls the
 * transaction back, so nothing is used up.
 */
static int
issue(struct enroll *e, const X509_NAME *subject, const GENERAL_NAMES *sans,
    long long ee_id, bool consume, const char *accept_text)
{
	struct estca_ctx *ctx = e->ctx;
	struct estca_http *h = e->h;
	char requester[1024], why[256], detail[300] = "", text[360];
	char subj[ESTCA_DB_DN_MAX + 1];
	struct estca_sign_args a = {
		.ca_name = h->alias.ca_name,
		.profile = h->alias.profile,
		.subject = subject,
		.sans = sans,
		.spki = e->csr.spki,
		.validity_secs = 0,
		.requester = requester,
	};
	struct estca_cert_row row;
	struct estca_audit_row au;
	struct estca_cert_text t;
	unsigned char *der = NULL, *p8 = NULL;
	size_t derlen = 0, p8len = 0;
	int r;

	/*
	 * What must be recorded is rendered before the engine is asked:
	 * nothing is signed that could not then be written down.
	 */
	if (estca_name_text(subject, subj, sizeof(subj)) != 0) {
		estca_db_rollback(ctx->db);
		snprintf(text, sizeof(text), "subject above %d bytes as text",
		    ESTCA_DB_DN_MAX);
		(void)enroll_audit(e, false, text);
		return estca_http_fail(h, ESTCA_ERR_REFUSED,
		    "subject too long", "%s", text);
	}
	snprintf(requester, sizeof(requester), "est %s alias=%s user=%s from=%s",
	    e->op, h->alias.name, e->username, e->requester);
	/* The certificate stays DER: the worker never needs its key. */
	if (e->key_type != NULL)
		r = estca_engine_keygen_der(ctx->engine, &a, e->key_type, &der,
		    &derlen, &p8, &p8len, why, sizeof(why));
	else
		r = estca_engine_sign_der(ctx->engine, &a, &der, &derlen, why,
		    sizeof(why));
	if (r != 0) {
		int w = estca_web_engine_err(r);

		estca_db_rollback(ctx->db);
		snprintf(text, sizeof(text), "engine: %s", why);
		(void)enroll_audit(e, false, text);
		return estca_http_fail(h, w, w == ESTCA_ERR_UNAVAILABLE ?
		    "CA engine temporarily unavailable" :
		    w == ESTCA_ERR_REFUSED ? why : NULL,
		    "engine %s: %s", ctx->conf.engine_socket, why);
	}
	/* from here on e->serial names the certificate just signed (a
	 * renewal had the presented one there) */
	e->serial[0] = 0;
	if ((r = estca_cert_der_text(der, derlen, &t)) != 0) {
		snprintf(detail, sizeof(detail), "issued certificate does not "
		    "decode or render: %s", estca_strerror(r));
		r = estca_http_fail(h, ESTCA_ERR_INTERNAL, NULL, "certificate "
		    "issued but not recorded, not delivered: %s", detail);
		goto fail;
	}
	snprintf(e->serial, sizeof(e->serial), "%s", t.serial);
	row.issuer = t.issuer;
	row.serial = e->serial;
	row.subject = t.subject;
	row.not_before = t.not_before;
	row.not_after = t.not_after;
	row.der = der;
	row.derlen = derlen;
	row.end_entity = ee_id;
	row.alias = h->alias.name;
	audit_row(e, true, accept_text, &au);
	if ((r = estca_db_record_issue(ctx->db, &row, consume, e->approved_id,
	    &au, detail, sizeof(detail))) != 0 &&
	    !(r == ESTCA_ERR_UNAVAILABLE && commit_landed(e, der, derlen))) {
		if (r != ESTCA_ERR_UNAVAILABLE)
			r = ESTCA_ERR_INTERNAL;
		r = estca_http_fail(h, r, r == ESTCA_ERR_UNAVAILABLE ?
		    "database temporarily unavailable" : NULL,
		    "certificate %s issued but not recorded, not delivered: %s",
		    e->serial, detail);
		goto fail;
	}
	log_info("%s %s from %s: issued %s to \"%s\" (%s)", h->method,
	    h->logpath, e->addr, e->serial, e->username, accept_text);
	if (p8 != NULL) {
		r = estca_http_reply_serverkeygen(h, der, derlen, p8, p8len);
		OPENSSL_clear_free(p8, p8len);
	} else {
		r = estca_http_reply_cert_der(h, der, derlen, ENROLL_CTYPE);
	}
	if (r != 0 && r != ESTCA_ERR_IO)
		log_err("%s %s: certificate %s recorded, but its reply could not "
		    "be built", h->method, h->logpath, e->serial);
	OPENSSL_free(der);
	return r;
fail:
	/*
	 * The engine signed (and logged) a certificate that will not be
	 * delivered: say so in est.audit, outside the rolled-back
	 * transaction, with its serial, so the engine's log and the table
	 * can be reconciled.  If even that fails, the log line above has it.
	 */
	estca_db_rollback(ctx->db);
	snprintf(text, sizeof(text), "certificate signed but not recorded, "
	    "not delivered: %s", detail);
	if (enroll_audit(e, false, text) != 0)
		log_err("%s %s: certificate %s signed but neither recorded nor "
		    "audited", h->method, h->logpath, e->serial[0] ? e->serial :
		    "(unknown serial)");
	OPENSSL_free(der);
	if (p8 != NULL)
		OPENSSL_clear_free(p8, p8len);
	return r;
}

/* Fail with the database error r (no audit row: the database is where
 * it would go). */
int
enroll_db_fail(struct enroll *e, int r, const char *what, const char *detail)
{
	estca_db_rollback(e->ctx->db);
	if (r != ESTCA_ERR_UNAVAILABLE)
		r = ESTCA_ERR_INTERNAL;
	return estca_http_fail(e->h, r, r == ESTCA_ERR_UNAVAILABLE ?
	    "database temporarily unavailable" : NULL, "%s: %s", what, detail);
}

/* The request waits for approval: 202 (status.c adds Retry-After). */
static int
pending(struct enroll *e, long long id)
{
	char reason[80];

	snprintf(reason, sizeof(reason), "request %lld is waiting for approval",
	    id);
	return estca_http_fail(e->h, ESTCA_WEB_PENDING, reason, "%s%s%s",
	    e->username[0] ? "end entity \"" : "", e->username,
	    e->username[0] ? "\"" : "");
}

/* What the approval queue does with this request (e->q looked it up). */
int
enroll_queue_decide(struct enroll *e, long long ee_id, bool required,
    enum estca_approval_action *act, struct estca_decision *d)
{
	struct estca_approval_facts f;
	char detail[300];
	int r;

	memset(&f, 0, sizeof(f));
	f.required = required;
	f.found = e->q.found;
	f.status = e->q.row.status;
	f.expired = e->q.row.expired;
	f.same_ee = ee_id > 0 && e->q.row.end_entity == ee_id;
	if (!f.found && required && ee_id > 0) {
		r = estca_db_approval_open(e->ctx->db, ee_id, &f.open_others,
		    detail, sizeof(detail));
		if (r != 0)
			return enroll_db_fail(e, r, "approval queue", detail);
	}
	estca_policy_approval(&f, act, d);
	return 0;
}

/* Inside the open transaction, find this request in the approval queue
 * (e->q); 0, or a database failure answered. */
int
enroll_queue_find(struct enroll *e)
{
	char detail[300];
	int r;

	r = estca_approval_find(e->ctx->db, e->h->alias.name, e->op, e->auth,
	    &e->csr, &e->q, detail, sizeof(detail));
	return r != 0 ? enroll_db_fail(e, r, "approval queue", detail) : 0;
}

/*
 * Inside the open transaction, once authentication and policy accepted
 * the request: issue it (no approval involved, or approved), queue it
 * (202), or answer from the queue (202 while pending, 403 once rejected,
 * issued or expired).  Arguments as for issue(); required: the alias or
 * the end entity requires approval; secret_in_csr: the CSR carries a code
 * and must not be stored.
 */
int
enroll_proceed(struct enroll *e, const X509_NAME *subject, const GENERAL_NAMES *sans,
    long long ee_id, bool consume, const char *accept_text, bool required,
    bool secret_in_csr)
{
	struct estca_approval_req q = {
		.alias = e->h->alias.name,
		.operation = e->op,
		.end_entity = ee_id,
		.username = e->username[0] ? e->username : NULL,
		.requester = e->requester,
		.subject = subject,
		.sans = sans,
		.spki = e->csr.spki,
		.secret_in_csr = secret_in_csr,
		.auth = e->auth,
	};
	enum estca_approval_action act;
	struct estca_decision d;
	char detail[300], text[sizeof(d.audit) + 80];
	long long id = 0;
	int r;

	if ((r = enroll_queue_decide(e, ee_id, required, &act, &d)) != 0)
		return r;
	switch (act) {
	case ESTCA_APPROVAL_NONE:
		return issue(e, subject, sans, ee_id, consume, accept_text);
	case ESTCA_APPROVAL_RELEASE:
		e->approved_id = e->q.row.id;
		snprintf(text, sizeof(text), "%s (approved request %lld)",
		    accept_text, e->q.row.id);
		return issue(e, subject, sans, ee_id, consume, text);
	case ESTCA_APPROVAL_WAIT:
		estca_db_rollback(e->ctx->db);
		return pending(e, e->q.row.id);
	case ESTCA_APPROVAL_QUEUE:
		r = estca_approval_store(e->ctx->db, &e->q, &q, &id, detail,
		    sizeof(detail));
		if (r != 0)
			return enroll_db_fail(e, r, "approval queue", detail);
		snprintf(text, sizeof(text), "%s; queued for approval as request "
		    "%lld", accept_text, id);
		if ((r = enroll_audit(e, true, text)) != 0 ||
		    (r = estca_db_commit(e->ctx->db, detail, sizeof(detail))) != 0)
			return enroll_db_fail(e, r, "approval queue", "not recorded");
		log_info("%s %s from %s: queued \"%s\" as request %lld",
		    e->h->method, e->h->logpath, e->addr, e->username, id);
		return pending(e, id);
	case ESTCA_APPROVAL_EXPIRE:
		r = estca_db_approval_mark(e->ctx->db, e->q.row.id, "expired",
		    NULL, detail, sizeof(detail));
		if (r != 0)
			return enroll_db_fail(e, r, "approval queue", detail);
		break;
	case ESTCA_APPROVAL_REFUSE:
		break;
	}
	if (e->q.found)
		snprintf(text, sizeof(text), "%s (request %lld)", d.audit,
		    e->q.row.id);
	else
		snprintf(text, sizeof(text), "%s", d.audit);
	return enroll_refuse(e, d.err, d.reason, text, true);
}
