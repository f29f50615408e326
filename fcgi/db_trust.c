/*
 * db_trust.c - see db.h.  The rows that say whom to trust and what to
 * ask: RA role members (by password hash or certificate) and their role
 * issuers, the vendor CAs of an alias, and its csrattrs.  Runs its
 * statements through db_int.h only; never sends a password to the server,
 * only fetches the hashes for the caller to check.
 */
#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include "str.h"
#include "db_int.h"

void
estca_db_csrattrs_free(struct estca_csrattr *a, size_t n)
{
	for (size_t i = 0; a != NULL && i < n; i++)
		OPENSSL_free(a[i].values);
	OPENSSL_free(a);
}

int
estca_db_csrattrs(struct estca_db *db, const char *alias,
    struct estca_csrattr **out, size_t *n, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT oid, encode(values_der, 'hex') FROM est.csrattr"
	    " WHERE alias = $1 ORDER BY position LIMIT 65";
	const char *params[1] = { alias };
	struct estca_csrattr *a = NULL;
	PGresult *res;
	int rows, r;

	*out = NULL;
	*n = 0;
	if ((r = db_exec(db, sql, 1, params, &res, detail, detaillen)) != 0)
		return r;
	rows = PQntuples(res);
	if (rows > ESTCA_DB_CSRATTRS_MAX || PQnfields(res) != 2) {
		PQclear(res);
		db_set_detail(detail, detaillen, "csrattr", "too many rows for one alias");
		return ESTCA_ERR_INTERNAL;
	}
	if (rows > 0 && (a = OPENSSL_zalloc((size_t)rows * sizeof(*a))) == NULL) {
		PQclear(res);
		return ESTCA_ERR_NOMEM;
	}
	for (int i = 0; i < rows; i++) {
		const char *oid = PQgetvalue(res, i, 0);
		const char *hex = PQgetvalue(res, i, 1);
		long len = 0;

		if (estca_str_copy(a[i].oid, sizeof(a[i].oid), oid) != 0) {
			r = ESTCA_ERR_INTERNAL;
			break;
		}
		if (PQgetisnull(res, i, 1))
			continue;
		/* hex without separators: pairs of digits */
		if ((a[i].values = OPENSSL_hexstr2buf(hex, &len)) == NULL || len <= 0) {
			r = ESTCA_ERR_INTERNAL;
			break;
		}
		a[i].values_len = (size_t)len;
	}
	PQclear(res);
	if (r != 0) {
		estca_db_csrattrs_free(a, (size_t)rows);
		db_set_detail(detail, detaillen, "csrattr", "row does not decode");
		return r;
	}
	*out = a;
	*n = (size_t)rows;
	return 0;
}

int
estca_db_ra_password_members(struct estca_db *db, const char *alias,
    const char *username, struct estca_ra_member *m, size_t *n, char *detail,
    size_t detaillen)
{
	static const char sql[] =
	    "SELECT m.id, r.name, m.password_hash FROM est.role_member m"
	    " JOIN est.role r ON r.id = m.role"
	    " WHERE r.alias = $1 AND m.username = $2"
	    " AND m.password_hash IS NOT NULL ORDER BY m.id LIMIT 8";
	const char *params[2] = { alias, username };
	PGresult *res;
	int rows, r;

	*n = 0;
	if (db_ra_kept(db, alias, username, m, n))
		return 0;
	if ((r = db_exec(db, sql, 2, params, &res, detail, detaillen)) != 0)
		return r;
	rows = PQntuples(res);
	if (PQnfields(res) != 3 || rows > ESTCA_DB_RA_MEMBERS_MAX) {
		PQclear(res);
		db_set_detail(detail, detaillen, "role_member", "unexpected result");
		return ESTCA_ERR_INTERNAL;
	}
	for (int i = 0; i < rows; i++) {
		struct estca_ra_member *x = &m[i];
		const char *v;

		memset(x, 0, sizeof(*x));
		v = PQgetvalue(res, i, 2);
		if (db_get_ll(res, i, 0, 0x7fffffffffffffffLL, &x->id) != 0 ||
		    estca_str_copy(x->role, sizeof(x->role),
		    PQgetvalue(res, i, 1)) != 0 ||
		    estca_str_copy(x->password_hash, sizeof(x->password_hash),
		    v) != 0) {
			PQclear(res);
			for (int k = 0; k <= i; k++)
				OPENSSL_cleanse(&m[k], sizeof(m[k]));
			db_set_detail(detail, detaillen, "role_member", "row does not fit");
			return ESTCA_ERR_INTERNAL;
		}
	}
	PQclear(res);
	*n = (size_t)rows;
	db_ra_keep(db, alias, username, m, *n);
	return 0;
}

/* The certificates in column 0 (hex of DER) of every row of res into a
 * new stack; rows that do not parse are counted in *bad. */
static int
certs_of(const PGresult *res, STACK_OF(X509) **out, int *bad)
{
	STACK_OF(X509) *sk;

	*bad = 0;
	if ((*out = sk = sk_X509_new_null()) == NULL)
		return ESTCA_ERR_NOMEM;
	for (int i = 0; i < PQntuples(res); i++) {
		long len = 0;
		unsigned char *der = PQgetisnull(res, i, 0) ? NULL :
		    OPENSSL_hexstr2buf(PQgetvalue(res, i, 0), &len);
		const unsigned char *p = der;
		X509 *x = der != NULL && len > 0 ? d2i_X509(NULL, &p, len) : NULL;

		if (x == NULL || p != der + len) {
			X509_free(x);
			(*bad)++;
		} else if (!sk_X509_push(sk, x)) {
			X509_free(x);
			OPENSSL_free(der);
			sk_X509_pop_free(sk, X509_free);
			*out = NULL;
			return ESTCA_ERR_NOMEM;
		}
		OPENSSL_free(der);
	}
	return 0;
}

int
estca_db_ra_cert_member(struct estca_db *db, const char *alias,
    const unsigned char sha256[32], struct estca_ra_member *m,
    STACK_OF(X509) **issuers, char *detail, size_t detaillen)
{
	static const char member_sql[] =
	    "SELECT m.id, r.name FROM est.role_member m"
	    " JOIN est.role r ON r.id = m.role"
	    " WHERE r.alias = $1 AND m.cert_sha256 = $2 ORDER BY m.id LIMIT 1";
	static const char issuer_sql[] =
	    "SELECT encode(i.cert_der, 'hex') FROM est.role_issuer i"
	    " JOIN est.role_member m ON m.role = i.role"
	    " JOIN est.role r ON r.id = m.role"
	    " WHERE r.alias = $1 AND m.cert_sha256 = $2 ORDER BY i.id LIMIT 64";
	const char *params[2];
	char *hash;
	PGresult *res;
	int r, bad = 0;

	memset(m, 0, sizeof(*m));
	*issuers = NULL;
	if ((hash = db_bytea_hex(sha256, 32)) == NULL)
		return ESTCA_ERR_NOMEM;
	params[0] = alias;
	params[1] = hash;
	if ((r = db_exec(db, member_sql, 2, params, &res, detail, detaillen)) != 0)
		goto out;
	if (PQntuples(res) != 1) {
		PQclear(res);
		db_set_detail(detail, detaillen, "role_member", "no member has this certificate");
		r = ESTCA_ERR_NOT_FOUND;
		goto out;
	}
	if (PQnfields(res) != 2 ||
	    db_get_ll(res, 0, 0, 0x7fffffffffffffffLL, &m->id) != 0 ||
	    db_get_text(res, 1, m->role, sizeof(m->role)) != 0) {
		PQclear(res);
		db_set_detail(detail, detaillen, "role_member", "row does not fit");
		r = ESTCA_ERR_INTERNAL;
		goto out;
	}
	PQclear(res);
	if ((r = db_exec(db, issuer_sql, 2, params, &res, detail, detaillen)) != 0)
		goto out;
	r = certs_of(res, issuers, &bad);
	PQclear(res);
	if (r == 0 && bad > 0)
		db_set_detail(detail, detaillen, "role_issuer", "a row does not parse");
out:
	OPENSSL_free(hash);
	return r;
}

int
estca_db_vendor_cas(struct estca_db *db, const char *alias,
    STACK_OF(X509) **out, int *bad, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT encode(cert_der, 'hex') FROM est.vendor_ca"
	    " WHERE alias = $1 ORDER BY id LIMIT 256";
	const char *params[1] = { alias };
	PGresult *res;
	int r;

	*out = NULL;
	*bad = 0;
	if ((r = db_exec(db, sql, 1, params, &res, detail, detaillen)) != 0)
		return r;
	r = certs_of(res, out, bad);
	PQclear(res);
	return r;
}

int
estca_db_digest_key(struct estca_db *db, unsigned char *key, size_t keycap,
    size_t *keylen, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT encode(key, 'hex') FROM est.digest_key WHERE id = 1";
	PGresult *res;
	unsigned char *k;
	long len = 0;
	int r;

	*keylen = 0;
	if ((r = db_exec(db, sql, 0, NULL, &res, detail, detaillen)) != 0)
		return r;
	if (PQntuples(res) != 1 || PQnfields(res) != 1 ||
	    (k = OPENSSL_hexstr2buf(PQgetvalue(res, 0, 0), &len)) == NULL) {
		PQclear(res);
		db_set_detail(detail, detaillen, "digest_key", "no usable key row");
		return ESTCA_ERR_INTERNAL;
	}
	PQclear(res);
	if (len <= 0 || (size_t)len > keycap) {
		OPENSSL_clear_free(k, (size_t)(len > 0 ? len : 0));
		db_set_detail(detail, detaillen, "digest_key", "key size");
		return ESTCA_ERR_INTERNAL;
	}
	memcpy(key, k, (size_t)len);
	*keylen = (size_t)len;
	OPENSSL_clear_free(k, (size_t)len);
	return 0;
}

int
estca_db_ra_digest_members(struct estca_db *db, const char *alias,
    const char *username, const char *algorithm, struct estca_ra_member *m,
    size_t *n, char *detail, size_t detaillen)
{
	static const char sql[] =
	    "SELECT m.id, r.name, d.ha1 FROM est.role_member m"
	    " JOIN est.role r ON r.id = m.role"
	    " JOIN est.role_member_digest d ON d.member = m.id"
	    " WHERE r.alias = $1 AND m.username = $2 AND d.algorithm = $3"
	    " AND d.realm = 'estca ' || $1 ORDER BY m.id LIMIT 8";
	const char *params[3] = { alias, username, algorithm };
	PGresult *res;
	int rows, r;

	*n = 0;
	if ((r = db_exec(db, sql, 3, params, &res, detail, detaillen)) != 0)
		return r;
	rows = PQntuples(res);
	if (PQnfields(res) != 3 || rows > ESTCA_DB_RA_MEMBERS_MAX) {
		PQclear(res);
		db_set_detail(detail, detaillen, "role_member_digest", "unexpected result");
		return ESTCA_ERR_INTERNAL;
	}
	for (int i = 0; i < rows; i++) {
		struct estca_ra_member *x = &m[i];

		memset(x, 0, sizeof(*x));
		if (db_get_ll(res, i, 0, 0x7fffffffffffffffLL, &x->id) != 0 ||
		    estca_str_copy(x->role, sizeof(x->role),
		    PQgetvalue(res, i, 1)) != 0 ||
		    estca_str_copy(x->password_hash, sizeof(x->password_hash),
		    PQgetvalue(res, i, 2)) != 0) {
			PQclear(res);
			for (int k = 0; k <= i; k++)
				OPENSSL_cleanse(&m[k], sizeof(m[k]));
			db_set_detail(detail, detaillen, "role_member_digest", "row does not fit");
			return ESTCA_ERR_INTERNAL;
		}
	}
	PQclear(res);
	*n = (size_t)rows;
	return 0;
}

int
estca_db_digest_nonce_use(struct estca_db *db, const char *nonce,
    const char *nc, long long expires, char *detail, size_t detaillen)
{
	static const char purge[] =
	    "DELETE FROM est.digest_nonce_used WHERE expires_at < now() - interval '1 minute'";
	static const char sql[] =
	    "INSERT INTO est.digest_nonce_used (nonce, nc, expires_at)"
	    " VALUES ($1, $2, to_timestamp($3::double precision))"
	    " ON CONFLICT DO NOTHING";
	char exp[24];
	const char *params[3] = { nonce, nc, exp };
	PGresult *res;
	int r;

	/* best effort: old rows only take room */
	(void)db_run(db, purge, 0, NULL, detail, detaillen);
	snprintf(exp, sizeof(exp), "%lld", expires);
	if ((r = db_exec(db, sql, 3, params, &res, detail, detaillen)) != 0)
		return r;
	r = strcmp(PQcmdTuples(res), "1") == 0 ? 0 : ESTCA_ERR_REFUSED;
	PQclear(res);
	if (r != 0)
		db_set_detail(detail, detaillen, "digest nonce", "used before");
	return r;
}
