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
 *
 * This file has the entry points, initial enrollment and renewal;
 * enroll_auth.c authenticates RA and vendor requesters and enroll_issue.c
 * carries the decision out (enroll.h).
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "enroll.h"
#include "clientcert.h"
#include "codehash.h"
#include "cred.h"
#include "reply.h"
#include "status.h"
#include "log.h"

/* The request's CSR into e->csr, or a refusal: unusable body, wrong
 * Content-Type, not a verifying PKCS#10 request. */
static int
request_csr(struct enroll *e)
{
	struct estca_http *h = e->h;
	char why[200], text[260];
	int r;

	if (h->body_err != 0) {
		const char *authz = FCGX_GetParam("HTTP_AUTHORIZATION", h->fx->envp);

		/*
		 * A Digest client (curl --digest) sends its first request
		 * with an empty body and expects the challenge: on an RA
		 * alias that offers Digest, ask for credentials first.
		 */
		if (h->alias.mode == ESTCA_MODE_RA && h->alias.ndigest > 0 &&
		    (authz == NULL || authz[0] == 0) &&
		    (r = enroll_ra_authenticate(e)) != 0)
			return r;
		return enroll_refuse(e, h->body_err, h->body_why, h->body_why, false);
	}
	if (!estca_media_type_is(FCGX_GetParam("CONTENT_TYPE", h->fx->envp),
	    "application/pkcs10"))
		return enroll_refuse(e, ESTCA_WEB_ERR_MEDIA_TYPE,
		    "Content-Type must be application/pkcs10",
		    "wrong Content-Type", false);
	r = estca_csr_decode(h->body.data, h->body.len, &e->csr, why, sizeof(why));
	if (r != 0) {
		snprintf(text, sizeof(text), "bad request: %s", why);
		return enroll_refuse(e, r, why, text, false);
	}
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
	X509_NAME *stripped = NULL, *registered = NULL;
	X509 *vendor = NULL;
	const X509_NAME *subject = e->csr.subject;
	const GENERAL_NAMES *sans = e->csr.sans;
	const char *code = NULL;
	char codebuf[ESTCA_CODE_MAX + 1], detail[300], text[200];
	char accept[sizeof(d.audit) + 40];
	bool code_mode = estca_policy_code_mode(a);
	int r, ee_r = 0, q_r = 0;

	memset(&ee, 0, sizeof(ee));
	memset(&ef, 0, sizeof(ef));
	memset(&rf, 0, sizeof(rf));
	codebuf[0] = 0;
	if (estca_policy_enroll_mode(a, &d) != 0)
		return enroll_refuse(e, d.err, d.reason, d.audit, false);
	if (e->csr.csn && a->mode != ESTCA_MODE_VENDOR)
		return enroll_refuse(e, ESTCA_ERR_REFUSED, "ChangeSubjectName is accepted "
		    "only by vendor-mode aliases", "ChangeSubjectName outside "
		    "vendor mode", false);
	/* a channel binding is never checked as a code, nor ignored */
	estca_policy_binding(a, a->mode == ESTCA_MODE_CHALLENGE_PASSWORD,
	    e->csr.challenge, &d);
	if (d.err != 0)
		return enroll_refuse(e, d.err, d.reason, d.audit, false);

	if (a->mode == ESTCA_MODE_VENDOR) {
		if ((r = enroll_vendor_authenticate(e, &vendor)) != 0)
			return r;
		/* an empty subject takes the registered one, below */
		subject = estca_enroll_subject(e->csr.subject,
		    e->csr.csn_subject, NULL);
		if (e->csr.csn_sans != NULL)
			sans = e->csr.csn_sans;
	} else if (a->mode == ESTCA_MODE_RA) {
		if ((r = enroll_ra_authenticate(e)) != 0)
			return r;
	} else if (a->mode == ESTCA_MODE_DN_PART_PASSWORD) {
		/* The code travels in the subject and must not stay there. */
		if (strcmp(a->dn_part_field, a->username_dn_field) == 0)
			return enroll_refuse(e, ESTCA_ERR_CONFIG, NULL, "alias "
			    "misconfigured: dn_part_field is username_dn_field",
			    false);
		r = estca_name_field(subject, a->dn_part_field, codebuf,
		    sizeof(codebuf));
		if (r == 0) {
			code = codebuf;
			r = estca_name_without(subject, a->dn_part_field, &stripped);
			if (r != 0) {
				OPENSSL_cleanse(codebuf, sizeof(codebuf));
				return enroll_refuse(e, r, NULL, "cannot remove the code "
				    "from the subject", false);
			}
			subject = stripped;
		} else if (r == ESTCA_ERR_REFUSED) {
			snprintf(text, sizeof(text), "the enrollment code must be "
			    "in exactly one %s of the subject", a->dn_part_field);
			return enroll_refuse(e, ESTCA_ERR_REFUSED, text,
			    "code field repeated or unusable", false);
		} else if (r != ESTCA_ERR_NOT_FOUND) {
			return enroll_refuse(e, ESTCA_ERR_CONFIG, NULL, "alias "
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
			return enroll_refuse(e, r, NULL, "alias misconfigured: unknown "
			    "username_dn_field", false);
		snprintf(text, sizeof(text), "the subject must name the end "
		    "entity in exactly one %s", a->username_dn_field);
		return enroll_refuse(e, ESTCA_ERR_REFUSED, text,
		    "no usable username in the subject", false);
	}

	/* The end entity, and this request in the approval queue, locked
	 * in one round trip with the BEGIN. */
	if ((r = estca_approval_key(&e->csr, &e->q, detail,
	    sizeof(detail))) != 0) {
		r = enroll_db_fail(e, r, "approval queue key", detail);
		goto out;
	}
	if ((r = estca_db_begin(e->ctx->db, detail, sizeof(detail))) != 0 ||
	    (r = estca_db_ee_lock_queued(e->ctx->db, a->name, e->username, &ee,
	    &ee_r, e->op, e->q.sha256, e->auth, &e->q.row, &q_r, detail,
	    sizeof(detail))) != 0) {
		r = enroll_db_fail(e, r, "end entity", detail);
		goto out;
	}
	e->q.found = q_r == 0;
	r = ee_r;
	/* an RA may register the name first, where the alias lets it */
	if (r == ESTCA_ERR_NOT_FOUND && a->mode == ESTCA_MODE_RA) {
		r = enroll_ra_register(e, subject, sans, &ee);
		if (r != 0 && r != ESTCA_ERR_NOT_FOUND)
			goto out;
	}
	if (r != 0 && r != ESTCA_ERR_NOT_FOUND) {
		r = enroll_db_fail(e, r, "end entity", detail);
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
			rf.code_ok = estca_code_matches(code, ee.code_hash);
		else
			(void)estca_crypt_matches(code, estca_dummy_hash);
	}
	OPENSSL_cleanse(codebuf, sizeof(codebuf));
	/* Already queued (found above)?  A rejected, issued or expired
	 * request ends here (once its credential is right); a pending or
	 * approved one goes through the policy again. */
	if (e->q.found && (!code_mode || rf.code_ok)) {
		enum estca_approval_action act;

		if ((r = enroll_queue_decide(e, ee.id, false, &act, &d)) != 0)
			goto out;
		if (act != ESTCA_APPROVAL_WAIT && act != ESTCA_APPROVAL_RELEASE) {
			r = enroll_proceed(e, subject, sans, ee.id, true, d.audit, false,
			    true);
			goto out;
		}
	}
	/*
	 * An empty request subject (openssl req -subj "/") asks for the
	 * registered subject, in every mode (in the code and ra modes the
	 * subject also names the end entity, so it is empty only here in
	 * vendor mode).  A registration that does not parse is the
	 * policy's 500 below.
	 */
	if (ef.found && ee.has_subject_dn &&
	    X509_NAME_entry_count(subject) == 0 &&
	    estca_dn_build(ee.subject_dn, &registered) == 0)
		subject = estca_enroll_subject(subject, NULL, registered);
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
		r = enroll_refuse(e, d.err, d.reason, d.audit, true);
		goto out;
	}
	snprintf(accept, sizeof(accept), "%s%s", d.audit,
	    e->csr.csn ? " (ChangeSubjectName)" : "");
	r = enroll_proceed(e, subject, sans, ee.id, true, accept,
	    a->require_approval || ee.require_approval,
	    code_mode || e->csr.challenge != NULL);
out:
	OPENSSL_cleanse(codebuf, sizeof(codebuf));
	X509_NAME_free(stripped);
	X509_NAME_free(registered);
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
	/* no code is expected on renewal: a channel binding is refused */
	estca_policy_binding(&h->alias, false, e->csr.challenge, &d);
	if (d.err != 0)
		return enroll_refuse(e, d.err, d.reason, d.audit, false);
	r = estca_client_cert(h->fx->envp, &client);
	if (r == ESTCA_ERR_NOT_FOUND)
		return enroll_refuse(e, ESTCA_ERR_REFUSED,
		    "simplereenroll needs a TLS client certificate",
		    "no client certificate", false);
	if (r != 0)
		return enroll_refuse(e, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "client certificate does not parse", false);
	if (enroll_serial_hex(client, e->serial, sizeof(e->serial)) != 0 ||
	    !X509_digest(client, EVP_sha256(), md, &mdlen) || mdlen != 32) {
		X509_free(client);
		return enroll_refuse(e, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "client certificate serial or digest", false);
	}

	r = estca_engine_get_chain(ctx->engine, h->alias.ca_name, &chain, why,
	    sizeof(why));
	if (r != 0) {
		r = estca_web_engine_err(r);
		snprintf(text, sizeof(text), "engine: chain: %s", why);
		(void)enroll_audit(e, false, text);
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
	f.key = e->csr.key;
	f.csn = e->csr.csn;
	f.server_keygen = e->key_type != NULL;

	if ((r = estca_db_begin(ctx->db, detail, sizeof(detail))) != 0) {
		r = enroll_db_fail(e, r, "begin", detail);
		goto out;
	}
	/* Only a certificate that verifies is looked up. */
	if (f.chain_ok) {
		r = estca_db_cert_state(ctx->db, md, &st, detail, sizeof(detail));
		if (r != 0 && r != ESTCA_ERR_NOT_FOUND) {
			r = enroll_db_fail(e, r, "certificate", detail);
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
				r = enroll_db_fail(e, r, "end entity", detail);
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
		r = enroll_refuse(e, d.err, d.reason, d.audit, true);
		goto out;
	}
	snprintf(text, sizeof(text), "renewal of certificate %s accepted",
	    e->serial);
	if (enroll_set_auth_cert(e, "cert", client) != 0) {
		r = enroll_refuse(e, ESTCA_ERR_REFUSED, "client certificate unusable",
		    "client certificate digest", true);
		goto out;
	}
	/* The old certificate's subject and SANs exactly as they are: the
	 * policy saw the request repeat them (or leave them out). */
	old_sans = X509_get_ext_d2i(client, NID_subject_alt_name, NULL, NULL);
	if ((r = enroll_queue_find(e)) != 0)
		goto out;
	r = enroll_proceed(e, X509_get_subject_name(client), old_sans, ee.id, false,
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
keygen_type(const EVP_PKEY *pk)
{
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
		(void)enroll_audit(&e, false, "serverkeygen is off for this alias");
		return estca_http_fail(h, ESTCA_ERR_REFUSED,
		    "serverkeygen is not enabled for this alias", NULL);
	}
	if ((r = request_csr(&e)) != 0)
		return r;
	if ((e.key_type = keygen_type(e.csr.key)) == NULL) {
		r = enroll_refuse(&e, ESTCA_ERR_REFUSED,
		    "CSR key must be RSA 2048/3072 or EC P-256/P-384 "
		    "(it names the key type to generate)", "unsupported key type",
		    false);
		estca_csr_free(&e.csr);
		return r;
	}
	/* A certificate of ours re-keys (renewal rules); anything else
	 * (vendor, RA certificates) goes the initial-enrollment way. */
	has_cert = estca_client_cert(h->fx->envp, &client) == 0;
	if (has_cert && h->alias.mode != ESTCA_MODE_UNKNOWN &&
	    h->alias.mode != ESTCA_MODE_VENDOR && h->alias.mode != ESTCA_MODE_RA)
		r = renew(&e);
	else
		r = initial(&e);
	X509_free(client);
	estca_queued_free(&e.q);
	estca_csr_free(&e.csr);
	return r;
}
