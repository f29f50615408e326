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
 * The candidate code lives only in wiped buffers and is checked here
 * against the stored crypt(3) hash, never in SQL; no log line, audit row
 * or reason ever carries it.
 */
#include <crypt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "fcgi.h"
#include "clientcert.h"
#include "csr.h"
#include "policy.h"
#include "reply.h"
#include "status.h"
#include "log.h"

#define ENROLL_CTYPE "application/pkcs7-mime; smime-type=certs-only"

/*
 * A bcrypt hash at the cost est.hash_enrollment_code() uses.  A request
 * naming no end entity is checked against it, so unknown names take as
 * long to refuse as wrong codes.
 */
static const char dummy_hash[] =
    "$2b$08$EnBWTI5zbTYw0voiSipy4ufO9jDYsaaK4NISMzf0QPN7vmZk.a.5G";

/* The state of one enrollment request. */
struct enroll {
	struct estca_ctx *ctx;
	struct estca_http *h;
	const char *op;                          /* for est.audit */
	char addr[64];                           /* REMOTE_ADDR */
	char username[ESTCA_DB_USERNAME_MAX + 1];  /* "" while unknown */
	char serial[48];       /* certificate presented, then issued; "" none */
	struct estca_csr csr;
};

/* Does code match the crypt(3) hash?  The comparison takes constant time;
 * the hashing takes what the hash method costs, whatever the code. */
static bool
code_matches(const char *code, const char *hash)
{
	struct crypt_data *cd;
	const char *out;
	size_t n = strlen(hash);
	bool ok = false;

	if ((cd = OPENSSL_zalloc(sizeof(*cd))) == NULL)
		return false;
	out = crypt_r(code, hash, cd);
	/* failures come back as "*0" / "*1" (or NULL) */
	if (out != NULL && out[0] != '*' && strlen(out) == n)
		ok = CRYPTO_memcmp(out, hash, n) == 0;
	OPENSSL_clear_free(cd, sizeof(*cd));
	return ok;
}

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
		.requester = e->addr,
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
issue(struct enroll *e, const X509_NAME *subject, long long ee_id, bool consume,
    const char *accept_text)
{
	struct estca_ctx *ctx = e->ctx;
	struct estca_http *h = e->h;
	char requester[512], why[256], detail[300], text[300];
	char issuer[ESTCA_DB_DN_MAX + 1], subj[ESTCA_DB_DN_MAX + 1];
	char nb[40], na[40];
	struct estca_sign_args a = {
		.ca_name = h->alias.ca_name,
		.profile = h->alias.profile,
		.subject = subject,
		.sans = e->csr.sans,
		.spki = e->csr.spki,
		.validity_secs = 0,
		.requester = requester,
	};
	struct estca_cert_row row;
	STACK_OF(X509) *certs = NULL;
	unsigned char *der = NULL;
	X509 *cert = NULL;
	int r, n;

	snprintf(requester, sizeof(requester), "est %s alias=%s user=%s from=%s",
	    e->op, h->alias.name, e->username, e->addr);
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
		r = estca_http_fail(h, ESTCA_ERR_INTERNAL, NULL,
		    "issued certificate does not encode");
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
	estca_db_rollback(ctx->db);
	OPENSSL_free(der);
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

/* simpleenroll: challenge_password and dn_part_password. */
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
	const X509_NAME *subject = e->csr.subject;
	const char *code = NULL;
	char codebuf[ESTCA_CODE_MAX + 1], detail[300], text[200];
	int r;

	memset(&ee, 0, sizeof(ee));
	memset(&ef, 0, sizeof(ef));
	memset(&rf, 0, sizeof(rf));
	codebuf[0] = 0;
	if (estca_policy_enroll_mode(a, &d) != 0)
		return refuse(e, d.err, d.reason, d.audit, false);

	if (strcmp(a->enroll_mode, "dn_part_password") == 0) {
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

	r = estca_name_field(subject, a->username_dn_field, e->username,
	    sizeof(e->username));
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
	rf.code_present = code != NULL;
	if (code != NULL) {
		if (ef.found && ee.has_code)
			rf.code_ok = code_matches(code, ee.code_hash);
		else
			(void)code_matches(code, dummy_hash);
	}
	OPENSSL_cleanse(codebuf, sizeof(codebuf));
	rf.subject = subject;
	rf.sans = e->csr.sans;
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
	r = issue(e, subject, ee.id, true, d.audit);
out:
	OPENSSL_cleanse(codebuf, sizeof(codebuf));
	X509_NAME_free(stripped);
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
	r = issue(e, e->csr.subject, ee.id, false, text);
out:
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
	estca_csr_free(&e.csr);
	return r;
}
