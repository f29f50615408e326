/*
 * approval.c - see approval.h.  Owns how a queued request is recognised
 * (the SHA-256 of the CSR's DER, so line breaks or base64 variants of
 * the same CSR still match) and what is kept of it.  Must never hand the
 * database a CSR that carries an enrollment code.
 */
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "approval.h"
#include "policy.h"

void
estca_queued_free(struct estca_queued *q)
{
	OPENSSL_clear_free(q->der, q->derlen);
	memset(q, 0, sizeof(*q));
}

int
estca_approval_key(const struct estca_csr *req, struct estca_queued *q,
    char *detail, size_t detaillen)
{
	unsigned int mdlen = 0;
	int n;

	memset(q, 0, sizeof(*q));
	if ((n = estca_csr_der(req, &q->der)) <= 0) {
		snprintf(detail, detaillen, "CSR does not re-encode");
		return ESTCA_ERR_INTERNAL;
	}
	q->derlen = (size_t)n;
	if (!EVP_Digest(q->der, q->derlen, q->sha256, &mdlen, EVP_sha256(),
	    NULL) || mdlen != 32) {
		snprintf(detail, detaillen, "SHA-256 of the CSR failed");
		return ESTCA_ERR_INTERNAL;
	}
	return 0;
}

int
estca_approval_find(struct estca_db *db, const char *alias,
    const char *operation, const char *auth, const struct estca_csr *req,
    struct estca_queued *q, char *detail, size_t detaillen)
{
	int r;

	if ((r = estca_approval_key(req, q, detail, detaillen)) != 0)
		return r;
	r = estca_db_approval_find(db, alias, operation, q->sha256, auth,
	    &q->row, detail, detaillen);
	if (r == ESTCA_ERR_NOT_FOUND)
		return 0;
	if (r != 0)
		return r;
	q->found = true;
	return 0;
}

/* The SANs as one line, "DNS:a, IP:192.0.2.1"; "" when none. */
static int
sans_line(const GENERAL_NAMES *sans, char *dst, size_t len)
{
	size_t o = 0;

	dst[0] = 0;
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		char one[300];
		int w;

		estca_san_text(sk_GENERAL_NAME_value(sans, i), one, sizeof(one));
		w = snprintf(dst + o, len - o, "%s%s", i > 0 ? ", " : "", one);
		if (w < 0 || (size_t)w >= len - o)
			return ESTCA_ERR_TOO_LARGE;
		o += (size_t)w;
	}
	return 0;
}

int
estca_approval_store(struct estca_db *db, const struct estca_queued *q,
    const struct estca_approval_req *r, long long *id, char *detail,
    size_t detaillen)
{
	char subject[ESTCA_DB_DN_MAX + 1], sans[4096];
	unsigned char *spki = NULL;
	struct estca_approval_new n;
	int len, rc;

	*id = 0;
	if (estca_name_text(r->subject, subject, sizeof(subject)) != 0 ||
	    sans_line(r->sans, sans, sizeof(sans)) != 0) {
		snprintf(detail, detaillen, "subject or SANs too long to queue");
		return ESTCA_ERR_INTERNAL;
	}
	if ((len = i2d_X509_PUBKEY(r->spki, &spki)) <= 0) {
		snprintf(detail, detaillen, "public key does not encode");
		return ESTCA_ERR_INTERNAL;
	}
	memset(&n, 0, sizeof(n));
	n.alias = r->alias;
	n.end_entity = r->end_entity;
	n.username = r->username;
	n.operation = r->operation;
	n.sha256 = q->sha256;
	n.csr_der = r->secret_in_csr ? NULL : q->der;
	n.csr_len = r->secret_in_csr ? 0 : q->derlen;
	n.spki_der = spki;
	n.spki_len = (size_t)len;
	n.subject = subject;
	n.sans = sans[0] != 0 ? sans : NULL;
	n.requester = r->requester;
	n.auth = r->auth;
	rc = estca_db_approval_insert(db, &n, id, detail, detaillen);
	OPENSSL_free(spki);
	return rc;
}
