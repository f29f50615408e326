/*
 * enroll_auth.c - who is asking, for the initial enrollment modes ra and
 * vendor (enroll.h): an RA role member by HTTP Basic or TLS client
 * certificate, or a device by its vendor certificate, verified here
 * against the trust store of that purpose (never the web server's
 * SSL_CLIENT_VERIFY).  Gathers the facts and asks policy.c; a refusal is
 * answered here.  RA passwords live only in wiped buffers and are checked
 * against the stored crypt(3) hash, never in SQL; they must never reach a
 * log line, an audit row or a reason.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "str.h"
#include "enroll.h"
#include "clientcert.h"
#include "cred.h"
#include "reply.h"
#include "status.h"
#include "log.h"

/* e->auth = "KIND:sha256 of the certificate in hex"; 0 or -1. */
int
enroll_set_auth_cert(struct enroll *e, const char *kind, const X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t o;

	e->auth[0] = 0;
	if (!X509_digest(x, EVP_sha256(), md, &mdlen) || mdlen != 32 ||
	    strlen(kind) + 1 + 64 >= sizeof(e->auth))
		return -1;
	o = (size_t)snprintf(e->auth, sizeof(e->auth), "%s:", kind);
	if (estca_hex(e->auth + o, sizeof(e->auth) - o, md, mdlen) != 0) {
		e->auth[0] = 0;
		return -1;
	}
	return 0;
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
		return enroll_db_fail(e, r, "RA members", detail);
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
		if (f->password_ok) {
			snprintf(e->auth, sizeof(e->auth), "ra-password:%lld",
			    m[i].id);
			e->ra_member = m[i].id;
		}
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
		return enroll_db_fail(e, r, "certificate", detail);
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
		return enroll_db_fail(e, r, "RA member", detail);
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
	if (enroll_set_auth_cert(e, "ra-cert", client) != 0)
		f->malformed = true;
	snprintf(detail, sizeof(detail), "role %s member %lld", m.role, m.id);
	set_requester(e, "ra-cert", detail);
	e->ra_member = m.id;
	return 0;
}

/*
 * A 401 of an alias that offers Digest: one challenge per algorithm, in
 * the alias's order, each with a fresh nonce (stale=true when the client's
 * nonce was ours but too old), into h->www_auth next to Basic (reply.c).
 * Best effort: without the key the client sees Basic alone.
 */
static void
digest_challenges(struct enroll *e, bool stale)
{
	struct estca_http *h = e->h;
	unsigned char key[64];
	char realm[ESTCA_DB_NAME_MAX + 8], nonce[ESTCA_DIGEST_NONCE_LEN + 1];
	char detail[300];
	size_t keylen = 0, o = 0;

	h->www_auth[0] = 0;
	if (h->alias.ndigest == 0)
		return;
	if (estca_db_digest_key(e->ctx->db, key, sizeof(key), &keylen, detail,
	    sizeof(detail)) != 0) {
		log_err("alias %s: no Digest challenge: %s", h->alias.name, detail);
		return;
	}
	snprintf(realm, sizeof(realm), "estca %s", h->alias.name);
	for (size_t i = 0; i < h->alias.ndigest; i++) {
		int n;

		if (estca_digest_nonce_make(key, keylen, realm, (long long)time(NULL),
		    nonce, sizeof(nonce)) != 0)
			break;
		n = snprintf(h->www_auth + o, sizeof(h->www_auth) - o,
		    "WWW-Authenticate: Digest realm=\"%s\", qop=\"auth\", "
		    "algorithm=%s, nonce=\"%s\"%s\r\n", realm,
		    estca_digest_alg_name((enum estca_digest_alg)h->alias.digest[i]),
		    nonce, stale ? ", stale=true" : "");
		if (n < 0 || (size_t)n >= sizeof(h->www_auth) - o) {
			h->www_auth[o] = 0;
			break;
		}
		o += (size_t)n;
	}
	OPENSSL_cleanse(key, sizeof(key));
}

/* A Digest failure: 401 with the challenges. */
static int
digest_refuse(struct enroll *e, const char *reason, const char *audit,
    bool stale)
{
	digest_challenges(e, stale);
	return enroll_refuse(e, ESTCA_WEB_ERR_AUTH, reason, audit, false);
}

/*
 * HTTP Digest (RFC 7616, qop=auth) of an RA member, on an alias that
 * offers it: the header parsed, the algorithm offered, the realm the
 * alias's, the uri the request's, the nonce ours and fresh, the response
 * right for one member called username (HA1 from est.role_member_digest;
 * an unknown user costs the same hashing), and (nonce, nc) never used
 * before by any worker.  0 when the member authenticated (e->auth,
 * e->ra_member, requester set); else the 401 was answered.
 */
static int
ra_digest(struct enroll *e, const struct estca_digest *dg)
{
	struct estca_http *h = e->h;
	struct estca_ra_member m[ESTCA_DB_RA_MEMBERS_MAX];
	const char *uri = FCGX_GetParam("REQUEST_URI", h->fx->envp);
	unsigned char key[64];
	char realm[ESTCA_DB_NAME_MAX + 8], detail[300], text[300];
	size_t keylen = 0, n = 0;
	long long issued = 0;
	bool offered = false, ok = false;
	enum estca_nonce_state ns;
	int r;

	set_requester(e, "ra-digest", dg->username);
	for (size_t i = 0; i < h->alias.ndigest; i++)
		offered |= h->alias.digest[i] == (int)dg->alg;
	if (!offered)
		return digest_refuse(e, "Digest algorithm not offered",
		    "RA Digest with an algorithm the alias does not offer", false);
	snprintf(realm, sizeof(realm), "estca %s", h->alias.name);
	if (strcmp(dg->realm, realm) != 0 || uri == NULL ||
	    strcmp(dg->uri, uri) != 0)
		return digest_refuse(e, "unusable Digest credentials",
		    "RA Digest for another realm or uri", false);
	r = estca_db_digest_key(e->ctx->db, key, sizeof(key), &keylen, detail,
	    sizeof(detail));
	if (r != 0)
		return enroll_db_fail(e, r, "Digest key", detail);
	ns = estca_digest_nonce_check(key, keylen, realm, dg->nonce,
	    (long long)time(NULL), &issued);
	OPENSSL_cleanse(key, sizeof(key));
	if (ns == ESTCA_NONCE_BAD)
		return digest_refuse(e, "unusable Digest credentials",
		    "RA Digest nonce not ours", false);
	if (ns == ESTCA_NONCE_STALE)
		return digest_refuse(e, "Digest nonce expired; answer the new "
		    "challenge", "RA Digest nonce stale", true);
	r = estca_db_ra_digest_members(e->ctx->db, h->alias.name, dg->username,
	    estca_digest_alg_name(dg->alg), m, &n, detail, sizeof(detail));
	if (r != 0)
		return enroll_db_fail(e, r, "RA Digest members", detail);
	if (n == 0) {
		static const char zero[65] =
		    "0000000000000000000000000000000000000000000000000000000000000000";
		char dummy[65];

		snprintf(dummy, sizeof(dummy), "%.*s",
		    (int)estca_digest_hex_len(dg->alg), zero);
		(void)estca_digest_check(dg, dummy, h->method);
	}
	for (size_t i = 0; i < n && !ok; i++) {
		if (estca_digest_check(dg, m[i].password_hash, h->method)) {
			ok = true;
			snprintf(e->auth, sizeof(e->auth), "ra-password:%lld",
			    m[i].id);
			e->ra_member = m[i].id;
		}
	}
	OPENSSL_cleanse(m, sizeof(m));
	if (!ok) {
		snprintf(text, sizeof(text), "%s (Digest %s)", n > 0 ?
		    "wrong RA password" : "unknown RA user or no Digest verifier",
		    estca_digest_alg_name(dg->alg));
		return digest_refuse(e, "unknown RA user or wrong password", text,
		    false);
	}
	r = estca_db_digest_nonce_use(e->ctx->db, dg->nonce, dg->nc,
	    issued + ESTCA_DIGEST_NONCE_LIFETIME, detail, sizeof(detail));
	if (r == ESTCA_ERR_REFUSED) {
		e->ra_member = 0;
		e->auth[0] = 0;
		return digest_refuse(e, "Digest nonce count already used",
		    "RA Digest replayed (nonce and nc used before)", false);
	}
	if (r != 0)
		return enroll_db_fail(e, r, "Digest nonce", detail);
	return 0;
}

/*
 * Mode ra: who is the RA?  Basic credentials when an Authorization header
 * came, else the TLS client certificate.  0 when an RA role member of the
 * alias authenticated; else the refusal was answered (401 or 403).
 */
int
enroll_ra_authenticate(struct enroll *e)
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
	if (authz != NULL && authz[0] != 0 && h->alias.ndigest > 0) {
		struct estca_digest dg;

		r = estca_digest_parse(authz, &dg);
		if (r == 0) {
			r = ra_digest(e, &dg);
			OPENSSL_cleanse(&dg, sizeof(dg));
			return r;
		}
		if (r == ESTCA_ERR_MALFORMED)
			return digest_refuse(e, "unusable Digest credentials",
			    "RA Digest credentials malformed", false);
		r = 0;
	}
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
	if (d.err != 0) {
		e->ra_member = 0;
		if (d.err == ESTCA_WEB_ERR_AUTH)
			digest_challenges(e, false);
		return enroll_refuse(e, d.err, d.reason, d.audit, false);
	}
	return 0;
}

/*
 * Mode ra with ra_register (009_ra_register.sql): the authenticated RA
 * member registers the end entity e->username, which is not registered
 * yet, for subject and sans, inside the open transaction; then it is
 * looked up and locked into *ee like any other.  The limits (subject,
 * SAN types and DNS suffixes, the role's quota) are the database's to
 * check: est.ra_register_end_entity refuses what they do not allow, with
 * a reason the client gets.  What cannot be written down as the
 * registration text (a name or SAN whose text would not match it again)
 * is refused here.  0 with *ee filled; ESTCA_ERR_NOT_FOUND when nothing
 * was registered and the caller goes on as for an unknown name (no
 * member, option off); else the refusal was answered (transaction ended).
 */
int
enroll_ra_register(struct enroll *e, const X509_NAME *subject,
    const GENERAL_NAMES *sans, struct estca_end_entity *ee)
{
	const char *a = e->h->alias.name;
	char subj[ESTCA_DB_DN_MAX + 1], reason[200], detail[300], text[300];
	char sanbuf[ESTCA_DB_SANS_MAX][300];
	const char *sanv[ESTCA_DB_SANS_MAX];
	int n = sans != NULL ? sk_GENERAL_NAME_num(sans) : 0;
	long long id = 0;
	int r;

	if (!e->h->alias.ra_register || e->ra_member <= 0)
		return ESTCA_ERR_NOT_FOUND;
	if (estca_name_text(subject, subj, sizeof(subj)) != 0 ||
	    estca_dn_match(subject, subj) != 1)
		return enroll_refuse(e, ESTCA_ERR_REFUSED, "the subject cannot be "
		    "registered as RFC 4514 text", "RA registration: subject "
		    "does not render", true);
	if (n > ESTCA_DB_SANS_MAX)
		return enroll_refuse(e, ESTCA_ERR_REFUSED, "too many "
		    "subjectAltNames", "RA registration: too many SANs", true);
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);

		estca_san_text(gn, sanbuf[i], sizeof(sanbuf[i]));
		if (estca_san_match(gn, sanbuf[i]) != 1) {
			snprintf(text, sizeof(text), "RA registration: SAN %.200s "
			    "cannot be registered", sanbuf[i]);
			return enroll_refuse(e, ESTCA_ERR_REFUSED, "a "
			    "subjectAltName of this type or spelling cannot be "
			    "registered", text, true);
		}
		sanv[i] = sanbuf[i];
	}
	r = estca_db_ra_register(e->ctx->db, a, e->ra_member, e->username, subj,
	    sanv, (size_t)n, e->requester, &id, reason, sizeof(reason), detail,
	    sizeof(detail));
	if (r == ESTCA_ERR_REFUSED) {
		/* the function raised: the transaction is aborted */
		estca_db_rollback(e->ctx->db);
		snprintf(text, sizeof(text), "RA registration refused: %.200s", reason);
		return enroll_refuse(e, ESTCA_ERR_REFUSED, reason, text, false);
	}
	if (r != 0 && r != ESTCA_ERR_NOT_FOUND)
		return enroll_db_fail(e, r, "RA registration", detail);
	if (r == 0)
		log_info("alias %s: RA member %lld registered end entity %lld "
		    "\"%s\"", a, e->ra_member, id, e->username);
	/* registered now, by us or by a concurrent request */
	r = estca_db_ee_lock(e->ctx->db, a, e->username, 0, ee, detail,
	    sizeof(detail));
	if (r != 0)
		return enroll_db_fail(e, r == ESTCA_ERR_NOT_FOUND ?
		    ESTCA_ERR_INTERNAL : r, "end entity after RA registration",
		    detail);
	return 0;
}

/*
 * Mode vendor: the TLS client certificate must chain to a vendor CA of
 * the alias (est.vendor_ca, the only trust anchors; the client-sent chain
 * may supply intermediates) and name the end entity in username_dn_field.
 * 0 with e->username set and *vendor the certificate (caller frees);
 * else the refusal was answered.
 */
int
enroll_vendor_authenticate(struct enroll *e, X509 **vendor)
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
			return enroll_db_fail(e, r, "vendor CAs", detail);
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
		if (enroll_set_auth_cert(e, "vendor-cert", client) != 0 ||
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
		return enroll_refuse(e, d.err, d.reason, d.audit, false);
	}
	*vendor = client;
	return 0;
}
