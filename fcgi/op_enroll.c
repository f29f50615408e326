/*
 * op_enroll.c - the EST simpleenroll and simplereenroll operations
 * (RFC 7030 4.2, RFC 8951).
 *
 * Gathers the facts (the CSR, the end entity row, whether the code is
 * right, what the client certificate is), asks policy.c, and carries the
 * decision out in one transaction that holds the end entity row locked:
 * count a failure or use up the code, have the engine sign, record the
 * certificate and the audit row, commit.  The engine is called inside the
 * transaction, so an engine or database failure rolls everything back and
 * the code stays good.  A refusal commits its audit row and the failure
 * counter before the client hears of it.
 *
 * Initial enrollment authenticates per the alias's mode (policy.h): an
 * enrollment code in the request, an RA role member (HTTP Basic from
 * HTTP_AUTHORIZATION, or a TLS client certificate), or a vendor device
 * certificate.  Client certificates come from SSL_CLIENT_CERT (and the
 * client-sent SSL_CLIENT_CERT_CHAIN_n as untrusted intermediates) and are
 * verified here against the trust store of their purpose; the web
 * server's SSL_CLIENT_VERIFY is never consulted.
 *
 * A request whose alias or end entity requires approval goes through the
 * queue (approval.h, doc/enrollment.md "Approval"): after authentication
 * and policy it is stored and answered 202; its retries are answered from
 * the queue, and once a DBA approved it, the retry is issued here like any
 * other request, in the same transaction.
 *
 * Candidate codes and RA passwords live only in wiped buffers and are
 * checked here against the stored crypt(3) hash, never in SQL; no log
 * line, audit row or reason ever carries one.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "fcgi.h"
#include "approval.h"
#include "clientcert.h"
#include "cred.h"
#include "csr.h"
#include "policy.h"
#include "reply.h"
#include "status.h"
#include "log.h"

#define ENROLL_CTYPE "application/pkcs7-mime; smime-type=certs-only"

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
};

/* Upper-case hex of the serial, no leading zeros (est.certificate). */
static int
serial_hex(const X509 *x, char *dst, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	const char *p = hex;
	int r = ESTCA_ERR_INTERNAL;

	if (p != NULL && p[0] != '-') {
		while (p[0] == '0' && p[1] != 0)
			p++;
		if (strlen(p) < len) {
			snprintf(dst, len, "%s", p);
			r = 0;
		}
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return r;
}

/* e->auth = "KIND:sha256 of the certificate in hex"; 0 or -1. */
static int
set_auth_cert(struct enroll *e, const char *kind, const X509 *x)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t o;

	e->auth[0] = 0;
	if (!X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen != 32 ||
	    strlen(kind) + 1 + 64 >= sizeof(e->auth))
		return -1;
	o = (size_t)snprintf(e->auth, sizeof(e->auth), "%s:", kind);
	for (unsigned int i = 0; i < mdlen; i++) {
		e->auth[o++] = hex[md[i] >> 4];
		e->auth[o++] = hex[md[i] & 15];
	}
	e->auth[o] = 0;
	return 0;
}

static int
time_text(const ASN1_TIME *t, char *dst, size_t len)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return ESTCA_ERR_INTERNAL;
	snprintf(dst, len, "%04d-%02d-%02d %02d:%02d:%02d+00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	return 0;
}

/* Write one est.audit row in whatever transaction state the connection
 * is in.  A failure is logged and returned; the decision stands. */
static int
audit(struct enroll *e, bool accept, const char *reason)
{
	struct estca_audit_row a = {
		.alias = e->h->alias.name,
		.username = e->username[0] ? e->username : NULL,
		.operation = e->op,
		.accept = accept,
		.reason = reason,
		.requester = e->requester,
		.serial = e->serial[0] ? e->serial : NULL,
	};
	char detail[300];
	int r;

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
static int
refuse(struct enroll *e, int err, const char *reason, const char *audit_text,
    bool in_txn)
{
	char detail[300];
	int r = audit(e, false, audit_text);

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

/* The request's CSR into e->csr, or a refusal: unusable body, wrong
 * Content-Type, not a verifying PKCS#10 request. */
static int
request_csr(struct enroll *e)
{
	struct estca_http *h = e->h;
	char why[200], text[260];
	int r;

	if (h->body_err != 0)
		return refuse(e, h->body_err, h->body_why, h->body_why, false);
	if (!estca_media_type_is(FCGX_GetParam("CONTENT_TYPE", h->fx->envp),
	    "application/pkcs10"))
		return refuse(e, ESTCA_WEB_ERR_MEDIA_TYPE,
		    "Content-Type must be application/pkcs10",
		    "wrong Content-Type", false);
	r = estca_csr_decode(h->body.data, h->body.len, &e->csr, why, sizeof(why));
	if (r != 0) {
		snprintf(text, sizeof(text), "bad request: %s", why);
		return refuse(e, r, why, text, false);
	}
	return 0;
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
	char issuer[ESTCA_DB_DN_MAX + 1], subj[ESTCA_DB_DN_MAX + 1];
	char nb[40], na[40];
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
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL, *p8 = NULL;
	size_t p8len = 0;
	X509 *cert = NULL;
	int r, n;

	/*
	 * What must be recorded is rendered before the engine is asked:
	 * nothing is signed that could not then be written down.
	 */
	if (estca_name_text(subject, subj, sizeof(subj)) != 0) {
		estca_db_rollback(ctx->db);
		snprintf(text, sizeof(text), "subject above %d bytes as text",
		    ESTCA_DB_DN_MAX);
		(void)audit(e, false, text);
		return estca_http_fail(h, ESTCA_ERR_REFUSED,
		    "subject too long", "%s", text);
	}
	snprintf(requester, sizeof(requester), "est %s alias=%s user=%s from=%s",
	    e->op, h->alias.name, e->username, e->requester);
	if (e->key_type != NULL)
		r = estca_engine_keygen(ctx->engine, &a, e->key_type, &cert, &p8,
		    &p8len, why, sizeof(why));
	else
		r = estca_engine_sign(ctx->engine, &a, &cert, why, sizeof(why));
	if (r != 0) {
		int w = estca_web_engine_err(r);

		estca_db_rollback(ctx->db);
		snprintf(text, sizeof(text), "engine: %s", why);
		(void)audit(e, false, text);
		return estca_http_fail(h, w, w == ESTCA_ERR_UNAVAILABLE ?
		    "CA engine temporarily unavailable" :
		    w == ESTCA_ERR_REFUSED ? why : NULL,
		    "engine %s: %s", ctx->conf.engine_socket, why);
	}
	if (serial_hex(cert, e->serial, sizeof(e->serial)) != 0 ||
	    estca_name_text(X509_get_issuer_name(cert), issuer, sizeof(issuer)) != 0 ||
	    estca_name_text(X509_get_subject_name(cert), subj, sizeof(subj)) != 0 ||
	    time_text(X509_get0_notBefore(cert), nb, sizeof(nb)) != 0 ||
	    time_text(X509_get0_notAfter(cert), na, sizeof(na)) != 0 ||
	    (n = i2d_X509(cert, &der)) <= 0) {
		snprintf(detail, sizeof(detail), "issued certificate does not "
		    "encode or render");
		r = estca_http_fail(h, ESTCA_ERR_INTERNAL, NULL, "certificate %s "
		    "issued but not recorded, not delivered: %s", e->serial,
		    detail);
		goto fail;
	}
	row.issuer = issuer;
	row.serial = e->serial;
	row.subject = subj;
	row.not_before = nb;
	row.not_after = na;
	row.der = der;
	row.derlen = (size_t)n;
	row.end_entity = ee_id;
	row.alias = h->alias.name;
	if ((r = estca_db_cert_insert(ctx->db, &row, detail, sizeof(detail))) != 0 ||
	    (consume && (r = estca_db_ee_consume(ctx->db, ee_id, detail,
	    sizeof(detail))) != 0) ||
	    (e->approved_id > 0 && (r = estca_db_approval_mark(ctx->db,
	    e->approved_id, "issued", e->serial, detail, sizeof(detail))) != 0) ||
	    (r = audit(e, true, accept_text)) != 0 ||
	    (r = estca_db_commit(ctx->db, detail, sizeof(detail))) != 0) {
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
	OPENSSL_free(der);
	if (p8 != NULL) {
		r = estca_reply_serverkeygen(h, cert, p8, p8len);
		OPENSSL_clear_free(p8, p8len);
		X509_free(cert);
		return r;
	}
	if ((certs = sk_X509_new_null()) == NULL || !sk_X509_push(certs, cert)) {
		sk_X509_free(certs);
		X509_free(cert);
		return estca_http_fail(h, ESTCA_ERR_NOMEM, NULL,
		    "certificate %s recorded, but out of memory", e->serial);
	}
	r = estca_reply_certs(h, certs, ENROLL_CTYPE);
	sk_X509_pop_free(certs, X509_free);
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
	if (audit(e, false, text) != 0)
		log_err("%s %s: certificate %s signed but neither recorded nor "
		    "audited", h->method, h->logpath, e->serial[0] ? e->serial :
		    "(unknown serial)");
	OPENSSL_free(der);
	if (p8 != NULL)
		OPENSSL_clear_free(p8, p8len);
	X509_free(cert);
	return r;
}

/* Fail with the database error r (no audit row: the database is where
 * it would go). */
static int
db_fail(struct enroll *e, int r, const char *what, const char *detail)
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
static int
queue_decide(struct enroll *e, long long ee_id, bool required,
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
			return db_fail(e, r, "approval queue", detail);
	}
	estca_policy_approval(&f, act, d);
	return 0;
}

/* Inside the open transaction, find this request in the approval queue
 * (e->q); 0, or a database failure answered. */
static int
queue_find(struct enroll *e)
{
	char detail[300];
	int r;

	r = estca_approval_find(e->ctx->db, e->h->alias.name, e->op, e->auth,
	    e->csr.req, &e->q, detail, sizeof(detail));
	return r != 0 ? db_fail(e, r, "approval queue", detail) : 0;
}

/*
 * Inside the open transaction, once authentication and policy accepted
 * the request: issue it (no approval involved, or approved), queue it
 * (202), or answer from the queue (202 while pending, 403 once rejected,
 * issued or expired).  Arguments as for issue(); required: the alias or
 * the end entity requires approval; secret_in_csr: the CSR carries a code
 * and must not be stored.
 */
static int
proceed(struct enroll *e, const X509_NAME *subject, const GENERAL_NAMES *sans,
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

	if ((r = queue_decide(e, ee_id, required, &act, &d)) != 0)
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
			return db_fail(e, r, "approval queue", detail);
		snprintf(text, sizeof(text), "%s; queued for approval as request "
		    "%lld", accept_text, id);
		if ((r = audit(e, true, text)) != 0 ||
		    (r = estca_db_commit(e->ctx->db, detail, sizeof(detail))) != 0)
			return db_fail(e, r, "approval queue", "not recorded");
		log_info("%s %s from %s: queued \"%s\" as request %lld",
		    e->h->method, e->h->logpath, e->addr, e->username, id);
		return pending(e, id);
	case ESTCA_APPROVAL_EXPIRE:
		r = estca_db_approval_mark(e->ctx->db, e->q.row.id, "expired",
		    NULL, detail, sizeof(detail));
		if (r != 0)
			return db_fail(e, r, "approval queue", detail);
		break;
	case ESTCA_APPROVAL_REFUSE:
		break;
	}
	if (e->q.found)
		snprintf(text, sizeof(text), "%s (request %lld)", d.audit,
		    e->q.row.id);
	else
		snprintf(text, sizeof(text), "%s", d.audit);
	return refuse(e, d.err, d.reason, text, true);
}

static long long
now_secs(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (long long)ts.tv_sec;
}

/* requester = "ADDR KIND=WHO" for est.audit and the engine's log. */
static void
set_requester(struct enroll *e, const char *kind, const char *who)
{
	char line[300];

	estca_one_line(line, sizeof(line), who);
	snprintf(e->requester, sizeof(e->requester), "%s %s=%s", e->addr, kind,
	    line);
}

/*
 * Is pass the password of one of the members called user in the roles of
 * the alias?  A recent success is taken from the worker's cache; an
 * unknown user costs one dummy bcrypt, like a wrong password.  Returns 0
 * with f->known and f->password_ok set, or a database error (h filled).
 */
static int
ra_password(struct enroll *e, const char *user, const char *pass,
    struct estca_ra_facts *f)
{
	struct estca_ra_member m[ESTCA_DB_RA_MEMBERS_MAX];
	long long now = now_secs();
	char detail[300];
	size_t n = 0;
	int r;

	r = estca_db_ra_password_members(e->ctx->db, e->h->alias.name, user, m,
	    &n, detail, sizeof(detail));
	if (r != 0)
		return db_fail(e, r, "RA members", detail);
	f->known = n > 0;
	if (n == 0)
		(void)estca_crypt_matches(pass, estca_dummy_hash);
	for (size_t i = 0; i < n && !f->password_ok; i++) {
		struct estca_ra_cred k = {
			.alias = e->h->alias.name,
			.member_id = m[i].id,
			.username = user,
			.password = pass,
			.hash = m[i].password_hash,
		};

		if (estca_ra_cache_hit(&e->ctx->ra_cache, &k, now)) {
			f->password_ok = true;
		} else if (estca_crypt_matches(pass, m[i].password_hash)) {
			f->password_ok = true;
			estca_ra_cache_put(&e->ctx->ra_cache, &k, now);
		}
		if (f->password_ok)
			snprintf(e->auth, sizeof(e->auth), "ra-password:%lld",
			    m[i].id);
	}
	OPENSSL_cleanse(m, sizeof(m));
	return 0;
}

/*
 * Is the certificate whose SHA-256 is md one this CA issued and a DBA
 * revoked?  (RA and vendor certificates may well be ours.)  0 with
 * *revoked set, or a database failure answered.
 */
static int
cert_revoked(struct enroll *e, const unsigned char md[32], bool *revoked)
{
	struct estca_cert_state st;
	char detail[300];
	int r;

	*revoked = false;
	r = estca_db_cert_state(e->ctx->db, md, &st, detail, sizeof(detail));
	if (r == ESTCA_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return db_fail(e, r, "certificate", detail);
	*revoked = st.revoked;
	return 0;
}

/*
 * The RA's TLS client certificate: a member's (by SHA-256), and verifying
 * to one of the member's role issuers or to the alias's CA chain, with the
 * client-sent chain as untrusted intermediates.
 */
static int
ra_cert(struct enroll *e, X509 *client, struct estca_ra_facts *f,
    char *why, size_t whylen)
{
	struct estca_ctx *ctx = e->ctx;
	struct estca_http *h = e->h;
	struct estca_ra_member m;
	STACK_OF(X509) *anchors = NULL, *chain = NULL, *untrusted = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char detail[300] = "", ewhy[256];
	int r;

	if (!X509_digest(client, EVP_sha256(), md, &mdlen) || mdlen != 32) {
		f->malformed = true;
		return 0;
	}
	r = estca_db_ra_cert_member(ctx->db, h->alias.name, md, &m, &anchors,
	    detail, sizeof(detail));
	if (r == ESTCA_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return db_fail(e, r, "RA member", detail);
	if (detail[0] != 0 && strstr(detail, "does not parse") != NULL)
		log_err("alias %s: an issuer of RA role %s does not parse",
		    h->alias.name, m.role);
	f->known = true;
	r = estca_engine_get_chain(ctx->engine, h->alias.ca_name, &chain, ewhy,
	    sizeof(ewhy));
	if (r != 0) {
		sk_X509_pop_free(anchors, X509_free);
		r = estca_web_engine_err(r);
		return estca_http_fail(h, r, r == ESTCA_ERR_UNAVAILABLE ?
		    "CA engine temporarily unavailable" : "cannot get the CA chain",
		    "engine %s: chain of CA \"%s\": %s", ctx->conf.engine_socket,
		    h->alias.ca_name, ewhy);
	}
	for (int i = 0; i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (!X509_up_ref(x))
			continue;
		if (!sk_X509_push(anchors, x))
			X509_free(x);
	}
	r = estca_client_chain(h->fx->envp, &untrusted);
	if (r == 0)
		f->chain_ok = estca_cert_verify(client, anchors, untrusted, why,
		    whylen) == 0;
	f->chain_why = why;
	sk_X509_pop_free(untrusted, X509_free);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_pop_free(anchors, X509_free);
	if (r != 0)
		return estca_http_fail(h, r, NULL, "client chain: %s",
		    estca_strerror(r));
	if ((r = cert_revoked(e, md, &f->revoked)) != 0)
		return r;
	if (set_auth_cert(e, "ra-cert", client) != 0)
		f->malformed = true;
	snprintf(detail, sizeof(detail), "role %s member %lld", m.role, m.id);
	set_requester(e, "ra-cert", detail);
	return 0;
}

/*
 * Mode ra: who is the RA?  Basic credentials when an Authorization header
 * came, else the TLS client certificate.  0 when an RA role member of the
 * alias authenticated; else the refusal was answered (401 or 403).
 */
static int
ra_authenticate(struct enroll *e)
{
	struct estca_http *h = e->h;
	const char *authz = FCGX_GetParam("HTTP_AUTHORIZATION", h->fx->envp);
	struct estca_ra_facts f;
	struct estca_decision d;
	char user[ESTCA_BASIC_USER_MAX + 1], pass[ESTCA_BASIC_PASS_MAX + 1];
	char why[200] = "";
	X509 *client = NULL;
	int r = 0;

	memset(&f, 0, sizeof(f));
	user[0] = pass[0] = 0;
	if (authz != NULL && authz[0] != 0) {
		f.how = ESTCA_RA_BASIC;
		if (estca_basic_parse(authz, user, pass) != 0) {
			f.malformed = true;
		} else {
			set_requester(e, "ra", user);
			r = ra_password(e, user, pass, &f);
		}
		OPENSSL_cleanse(pass, sizeof(pass));
	} else {
		r = estca_client_cert(h->fx->envp, &client);
		if (r != ESTCA_ERR_NOT_FOUND) {
			f.how = ESTCA_RA_CERT;
			f.malformed = r != 0;
			r = client != NULL ? ra_cert(e, client, &f, why,
			    sizeof(why)) : 0;
		} else {
			r = 0;
		}
	}
	X509_free(client);
	if (r != 0)
		return r;
	estca_policy_ra(&h->alias, &f, &d);
	if (d.err != 0)
		return refuse(e, d.err, d.reason, d.audit, false);
	return 0;
}

/*
 * Mode vendor: the TLS client certificate must chain to a vendor CA of
 * the alias (est.vendor_ca, the only trust anchors; the client-sent chain
 * may supply intermediates) and name the end entity in username_dn_field.
 * 0 with e->username set and *vendor the certificate (caller frees);
 * else the refusal was answered.
 */
static int
vendor_authenticate(struct enroll *e, X509 **vendor)
{
	struct estca_http *h = e->h;
	const struct estca_alias *a = &h->alias;
	struct estca_vendor_facts f;
	struct estca_decision d;
	STACK_OF(X509) *anchors = NULL, *untrusted = NULL;
	char why[200] = "", detail[300], subj[300];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	X509 *client = NULL;
	int r, bad = 0;

	*vendor = NULL;
	memset(&f, 0, sizeof(f));
	r = estca_client_cert(h->fx->envp, &client);
	f.cert_present = r != ESTCA_ERR_NOT_FOUND;
	f.cert_malformed = f.cert_present && r != 0;
	if (client != NULL) {
		if (estca_name_text(X509_get_subject_name(client), subj,
		    sizeof(subj)) != 0)
			snprintf(subj, sizeof(subj), "(subject too long)");
		set_requester(e, "vendor", subj);
		r = estca_db_vendor_cas(e->ctx->db, a->name, &anchors, &bad,
		    detail, sizeof(detail));
		if (r != 0) {
			X509_free(client);
			return db_fail(e, r, "vendor CAs", detail);
		}
		if (bad > 0)
			log_err("alias %s: %d vendor CA row(s) do not parse",
			    a->name, bad);
		if ((r = estca_client_chain(h->fx->envp, &untrusted)) != 0) {
			X509_free(client);
			sk_X509_pop_free(anchors, X509_free);
			return estca_http_fail(h, r, NULL, "client chain: %s",
			    estca_strerror(r));
		}
		f.chain_ok = estca_cert_verify(client, anchors, untrusted, why,
		    sizeof(why)) == 0;
		f.chain_why = why;
		sk_X509_pop_free(untrusted, X509_free);
		sk_X509_pop_free(anchors, X509_free);
		f.username_r = estca_name_field(X509_get_subject_name(client),
		    a->username_dn_field, e->username, sizeof(e->username));
		if (set_auth_cert(e, "vendor-cert", client) != 0 ||
		    !X509_digest(client, EVP_sha256(), md, &mdlen) ||
		    mdlen != 32) {
			f.cert_malformed = true;
		} else if ((r = cert_revoked(e, md, &f.revoked)) != 0) {
			X509_free(client);
			return r;
		}
	}
	f.csn = e->csr.csn;
	f.csn_subject = e->csr.csn_subject != NULL &&
	    X509_NAME_entry_count(e->csr.csn_subject) > 0;
	estca_policy_vendor(a, &f, &d);
	if (d.err != 0) {
		/* an unverified certificate names nobody */
		if (!f.chain_ok)
			e->username[0] = 0;
		X509_free(client);
		return refuse(e, d.err, d.reason, d.audit, false);
	}
	*vendor = client;
	return 0;
}

/* simpleenroll in every mode. */
static int
initial(struct enroll *e)
{
	struct estca_http *h = e->h;
	const struct estca_alias *a = &h->alias;
	struct estca_end_entity ee;
	struct estca_ee_facts ef;
	struct estca_enroll_facts rf;
	struct estca_decision d;
	X509_NAME *stripped = NULL;
	X509 *vendor = NULL;
	const X509_NAME *subject = e->csr.subject;
	const GENERAL_NAMES *sans = e->csr.sans;
	const char *code = NULL;
	char codebuf[ESTCA_CODE_MAX + 1], detail[300], text[200];
	char accept[sizeof(d.audit) + 40];
	bool code_mode = estca_policy_code_mode(a);
	int r;

	memset(&ee, 0, sizeof(ee));
	memset(&ef, 0, sizeof(ef));
	memset(&rf, 0, sizeof(rf));
	codebuf[0] = 0;
	if (estca_policy_enroll_mode(a, &d) != 0)
		return refuse(e, d.err, d.reason, d.audit, false);
	if (e->csr.csn && strcmp(a->enroll_mode, "vendor") != 0)
		return refuse(e, ESTCA_ERR_REFUSED, "ChangeSubjectName is accepted "
		    "only by vendor-mode aliases", "ChangeSubjectName outside "
		    "vendor mode", false);

	if (strcmp(a->enroll_mode, "vendor") == 0) {
		if ((r = vendor_authenticate(e, &vendor)) != 0)
			return r;
		subject = estca_vendor_subject(e->csr.subject,
		    e->csr.csn_subject, X509_get_subject_name(vendor));
		if (e->csr.csn_sans != NULL)
			sans = e->csr.csn_sans;
	} else if (strcmp(a->enroll_mode, "ra") == 0) {
		if ((r = ra_authenticate(e)) != 0)
			return r;
	} else if (strcmp(a->enroll_mode, "dn_part_password") == 0) {
		/* The code travels in the subject and must not stay there. */
		if (strcmp(a->dn_part_field, a->username_dn_field) == 0)
			return refuse(e, ESTCA_ERR_CONFIG, NULL, "alias "
			    "misconfigured: dn_part_field is username_dn_field",
			    false);
		r = estca_name_field(subject, a->dn_part_field, codebuf,
		    sizeof(codebuf));
		if (r == 0) {
			code = codebuf;
			r = estca_name_without(subject, a->dn_part_field, &stripped);
			if (r != 0) {
				OPENSSL_cleanse(codebuf, sizeof(codebuf));
				return refuse(e, r, NULL, "cannot remove the code "
				    "from the subject", false);
			}
			subject = stripped;
		} else if (r == ESTCA_ERR_REFUSED) {
			snprintf(text, sizeof(text), "the enrollment code must be "
			    "in exactly one %s of the subject", a->dn_part_field);
			return refuse(e, ESTCA_ERR_REFUSED, text,
			    "code field repeated or unusable", false);
		} else if (r != ESTCA_ERR_NOT_FOUND) {
			return refuse(e, ESTCA_ERR_CONFIG, NULL, "alias "
			    "misconfigured: unknown dn_part_field", false);
		}
	} else {
		code = e->csr.challenge;
	}
	if (code_mode)
		snprintf(e->auth, sizeof(e->auth), "code");

	/* vendor: the certificate named the end entity already */
	r = vendor != NULL ? 0 : estca_name_field(subject, a->username_dn_field,
	    e->username, sizeof(e->username));
	if (r != 0) {
		OPENSSL_cleanse(codebuf, sizeof(codebuf));
		X509_NAME_free(stripped);
		if (r == ESTCA_ERR_CONFIG)
			return refuse(e, r, NULL, "alias misconfigured: unknown "
			    "username_dn_field", false);
		snprintf(text, sizeof(text), "the subject must name the end "
		    "entity in exactly one %s", a->username_dn_field);
		return refuse(e, ESTCA_ERR_REFUSED, text,
		    "no usable username in the subject", false);
	}

	if ((r = estca_db_begin(e->ctx->db, detail, sizeof(detail))) != 0) {
		r = db_fail(e, r, "begin", detail);
		goto out;
	}
	r = estca_db_ee_lock(e->ctx->db, a->name, e->username, 0, &ee, detail,
	    sizeof(detail));
	if (r != 0 && r != ESTCA_ERR_NOT_FOUND) {
		r = db_fail(e, r, "end entity", detail);
		goto out;
	}
	ef.found = r == 0;
	ef.status = ee.status;
	ef.has_code = ee.has_code;
	ef.uses_left = ee.uses_left;
	ef.failed_attempts = ee.failed_attempts;
	ef.subject_dn = ee.has_subject_dn ? ee.subject_dn : NULL;
	ef.sans = (const char *const *)ee.sans;
	ef.nsans = ee.nsans;
	/*
	 * Every request proves itself again, queued or not: the code is
	 * checked on every retry (RA and vendor requesters authenticated
	 * above), and a queued row is found only by a request that
	 * authenticated the way it did (e->auth).
	 */
	rf.code_present = code != NULL;
	if (code_mode && code != NULL) {
		if (ef.found && ee.has_code)
			rf.code_ok = estca_crypt_matches(code, ee.code_hash);
		else
			(void)estca_crypt_matches(code, estca_dummy_hash);
	}
	OPENSSL_cleanse(codebuf, sizeof(codebuf));
	/* Already queued?  A rejected, issued or expired request ends here
	 * (once its credential is right); a pending or approved one goes
	 * through the policy again. */
	if ((r = queue_find(e)) != 0)
		goto out;
	if (e->q.found && (!code_mode || rf.code_ok)) {
		enum estca_approval_action act;

		if ((r = queue_decide(e, ee.id, false, &act, &d)) != 0)
			goto out;
		if (act != ESTCA_APPROVAL_WAIT && act != ESTCA_APPROVAL_RELEASE) {
			r = proceed(e, subject, sans, ee.id, true, d.audit, false,
			    true);
			goto out;
		}
	}
	rf.subject = subject;
	rf.sans = sans;
	rf.username = e->username;
	estca_policy_enroll(a, &ef, &rf, &d);
	if (d.err != 0) {
		if (d.count_failure) {
			r = estca_db_ee_failed(e->ctx->db, ee.id, d.lock, detail,
			    sizeof(detail));
			if (r != 0)
				log_err("%s %s: failed attempt not counted: %s",
				    h->method, h->logpath, detail);
			else if (d.lock)
				log_warn("alias %s: end entity \"%s\" locked after "
				    "%d failed attempts", a->name, e->username,
				    ee.failed_attempts + 1);
		}
		r = refuse(e, d.err, d.reason, d.audit, true);
		goto out;
	}
	snprintf(accept, sizeof(accept), "%s%s", d.audit,
	    e->csr.csn ? " (ChangeSubjectName)" : "");
	r = proceed(e, subject, sans, ee.id, true, accept,
	    a->require_approval || ee.require_approval,
	    code_mode || e->csr.challenge != NULL);
out:
	OPENSSL_cleanse(codebuf, sizeof(codebuf));
	X509_NAME_free(stripped);
	X509_free(vendor);
	estca_db_ee_clear(&ee);
	return r;
}

/* simplereenroll: a certificate of ours renews itself. */
static int
renew(struct enroll *e)
{
	struct estca_ctx *ctx = e->ctx;
	struct estca_http *h = e->h;
	struct estca_renew_facts f;
	struct estca_cert_state st;
	struct estca_end_entity ee;
	struct estca_decision d;
	STACK_OF(X509) *chain = NULL;
	GENERAL_NAMES *old_sans = NULL;
	X509 *client = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char why[256], chain_why[200], detail[300], text[300];
	int r;

	memset(&f, 0, sizeof(f));
	memset(&ee, 0, sizeof(ee));
	r = estca_client_cert(h->fx->envp, &client);
	if (r == ESTCA_ERR_NOT_FOUND)
		return refuse(e, ESTCA_ERR_REFUSED,
		    "simplereenroll needs a TLS client certificate",
		    "no client certificate", false);
	if (r != 0)
		return refuse(e, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "client certificate does not parse", false);
	if (serial_hex(client, e->serial, sizeof(e->serial)) != 0 ||
	    !X509_digest(client, EVP_sha256(), md, &mdlen) || mdlen != 32) {
		X509_free(client);
		return refuse(e, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "client certificate serial or digest", false);
	}

	r = estca_engine_get_chain(ctx->engine, h->alias.ca_name, &chain, why,
	    sizeof(why));
	if (r != 0) {
		r = estca_web_engine_err(r);
		snprintf(text, sizeof(text), "engine: chain: %s", why);
		(void)audit(e, false, text);
		X509_free(client);
		return estca_http_fail(h, r, r == ESTCA_ERR_UNAVAILABLE ?
		    "CA engine temporarily unavailable" : "cannot get the CA chain",
		    "engine %s: chain of CA \"%s\": %s", ctx->conf.engine_socket,
		    h->alias.ca_name, why);
	}
	f.chain_ok = estca_cert_issued_by(client, chain, chain_why,
	    sizeof(chain_why)) == 0;
	f.chain_why = chain_why;
	f.expired = X509_cmp_current_time(X509_get0_notAfter(client)) <= 0;
	f.cert = client;
	f.subject = e->csr.subject;
	f.sans = e->csr.sans;
	f.spki = e->csr.spki;
	f.csn = e->csr.csn;
	f.server_keygen = e->key_type != NULL;

	if ((r = estca_db_begin(ctx->db, detail, sizeof(detail))) != 0) {
		r = db_fail(e, r, "begin", detail);
		goto out;
	}
	/* Only a certificate that verifies is looked up. */
	if (f.chain_ok) {
		r = estca_db_cert_state(ctx->db, md, &st, detail, sizeof(detail));
		if (r != 0 && r != ESTCA_ERR_NOT_FOUND) {
			r = db_fail(e, r, "certificate", detail);
			goto out;
		}
		f.known = r == 0;
	}
	if (f.known) {
		f.same_alias = strcmp(st.alias, h->alias.name) == 0;
		f.revoked = st.revoked;
		f.expired = f.expired || st.expired;
		if (st.end_entity > 0) {
			r = estca_db_ee_lock(ctx->db, NULL, NULL, st.end_entity,
			    &ee, detail, sizeof(detail));
			if (r != 0 && r != ESTCA_ERR_NOT_FOUND) {
				r = db_fail(e, r, "end entity", detail);
				goto out;
			}
			if (r == 0) {
				f.ee_status = ee.status;
				snprintf(e->username, sizeof(e->username), "%s",
				    ee.username);
			}
		}
	}
	estca_policy_renew(&h->alias, &f, &d);
	if (d.err != 0) {
		r = refuse(e, d.err, d.reason, d.audit, true);
		goto out;
	}
	snprintf(text, sizeof(text), "renewal of certificate %s accepted",
	    e->serial);
	if (set_auth_cert(e, "cert", client) != 0) {
		r = refuse(e, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "client certificate digest", true);
		goto out;
	}
	/* The old certificate's subject and SANs exactly as they are: the
	 * policy saw the request repeat them (or leave them out). */
	old_sans = X509_get_ext_d2i(client, NID_subject_alt_name, NULL, NULL);
	if ((r = queue_find(e)) != 0)
		goto out;
	r = proceed(e, X509_get_subject_name(client), old_sans, ee.id, false,
	    text, h->alias.require_approval || ee.require_approval,
	    e->csr.challenge != NULL);
out:
	GENERAL_NAMES_free(old_sans);
	estca_db_ee_clear(&ee);
	sk_X509_pop_free(chain, X509_free);
	X509_free(client);
	return r;
}

static void
enroll_init(struct enroll *e, struct estca_ctx *ctx, struct estca_http *h,
    const char *op)
{
	const char *addr = FCGX_GetParam("REMOTE_ADDR", h->fx->envp);

	memset(e, 0, sizeof(*e));
	e->ctx = ctx;
	e->h = h;
	e->op = op;
	estca_one_line(e->addr, sizeof(e->addr), addr != NULL ? addr : "?");
	snprintf(e->requester, sizeof(e->requester), "%s", e->addr);
}

int
estca_op_simpleenroll(struct estca_ctx *ctx, struct estca_http *h)
{
	struct enroll e;
	int r;

	enroll_init(&e, ctx, h, "simpleenroll");
	if ((r = request_csr(&e)) != 0)
		return r;
	r = initial(&e);
	estca_queued_free(&e.q);
	estca_csr_free(&e.csr);
	return r;
}

int
estca_op_simplereenroll(struct estca_ctx *ctx, struct estca_http *h)
{
	struct enroll e;
	int r;

	enroll_init(&e, ctx, h, "simplereenroll");
	if ((r = request_csr(&e)) != 0)
		return r;
	r = renew(&e);
	estca_queued_free(&e.q);
	estca_csr_free(&e.csr);
	return r;
}

/*
 * The key type serverkeygen asks the engine for: the CSR's own type and
 * size (RFC 7030 4.4.1: the CSR's key describes what the client wants).
 * NULL when the CSR's key is none of the four the engine makes.
 */
static const char *
keygen_type(const X509_PUBKEY *spki)
{
	EVP_PKEY *pk = X509_PUBKEY_get0(spki);

	if (pk == NULL)
		return NULL;
	if (EVP_PKEY_is_a(pk, "RSA"))
		return EVP_PKEY_get_bits(pk) > 2048 ? "rsa:3072" : "rsa:2048";
	if (EVP_PKEY_is_a(pk, "EC")) {
		char curve[32];
		size_t n = 0;

		if (!EVP_PKEY_get_utf8_string_param(pk, "group", curve,
		    sizeof(curve), &n))
			return NULL;
		if (strcmp(curve, "prime256v1") == 0)
			return "ec:P-256";
		if (strcmp(curve, "secp384r1") == 0)
			return "ec:P-384";
	}
	return NULL;
}

/*
 * serverkeygen (RFC 7030 4.4): authorized exactly like simpleenroll, or
 * like simplereenroll when the client presents a certificate (re-key);
 * the engine generates the key pair in the HSM and the answer carries the
 * private key and the certificate.
 */
int
estca_op_serverkeygen(struct estca_ctx *ctx, struct estca_http *h)
{
	struct enroll e;
	X509 *client = NULL;
	int r, has_cert;

	enroll_init(&e, ctx, h, "serverkeygen");
	if (!h->alias.serverkeygen) {
		(void)audit(&e, false, "serverkeygen is off for this alias");
		return estca_http_fail(h, ESTCA_ERR_REFUSED,
		    "serverkeygen is not enabled for this alias", NULL);
	}
	if ((r = request_csr(&e)) != 0)
		return r;
	if ((e.key_type = keygen_type(e.csr.spki)) == NULL) {
		r = refuse(&e, ESTCA_ERR_REFUSED,
		    "CSR key must be RSA 2048/3072 or EC P-256/P-384 "
		    "(it names the key type to generate)", "unsupported key type",
		    false);
		estca_csr_free(&e.csr);
		return r;
	}
	/* A certificate of ours re-keys (renewal rules); anything else
	 * (vendor, RA certificates) goes the initial-enrollment way. */
	has_cert = estca_client_cert(h->fx->envp, &client) == 0;
	if (has_cert && h->alias.enroll_mode[0] != 0 &&
	    strcmp(h->alias.enroll_mode, "vendor") != 0 &&
	    strcmp(h->alias.enroll_mode, "ra") != 0)
		r = renew(&e);
	else
		r = initial(&e);
	X509_free(client);
	estca_queued_free(&e.q);
	estca_csr_free(&e.csr);
	return r;
}
