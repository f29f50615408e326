/*
 * op_csrattrs.c - the EST csrattrs operation (RFC 7030 4.5, with the
 * clarifications of RFC 9908 where they apply).
 *
 * Answers the alias's list from est.csrattr as base64 DER CsrAttrs
 * (application/csrattrs), or 204 No Content when the list is empty.  The
 * list is public policy: no authentication is asked for.  The DER is
 * built with ASN.1 templates from the rows; a row whose values do not
 * decode is a configuration error (500), never silently dropped.
 *
 *   CsrAttrs ::= SEQUENCE SIZE (0..MAX) OF AttrOrOID
 *   AttrOrOID ::= CHOICE { oid OBJECT IDENTIFIER, attribute Attribute }
 */
#include <openssl/asn1t.h>
#include <openssl/x509.h>
#include "fcgi.h"
#include "b64.h"
#include "reply.h"
#include "log.h"

typedef struct {
	int type;
	union {
		ASN1_OBJECT *oid;
		X509_ATTRIBUTE *attribute;
	} d;
} ESTCA_ATTR_OR_OID;

ASN1_CHOICE(ESTCA_ATTR_OR_OID) = {
	ASN1_SIMPLE(ESTCA_ATTR_OR_OID, d.oid, ASN1_OBJECT),
	ASN1_SIMPLE(ESTCA_ATTR_OR_OID, d.attribute, X509_ATTRIBUTE),
} ASN1_CHOICE_END(ESTCA_ATTR_OR_OID)

DEFINE_STACK_OF(ESTCA_ATTR_OR_OID)
typedef STACK_OF(ESTCA_ATTR_OR_OID) ESTCA_CSRATTRS;

ASN1_ITEM_TEMPLATE(ESTCA_CSRATTRS) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SEQUENCE_OF, 0, CsrAttrs, ESTCA_ATTR_OR_OID)
ASN1_ITEM_TEMPLATE_END(ESTCA_CSRATTRS)

DECLARE_ASN1_FUNCTIONS(ESTCA_ATTR_OR_OID)
IMPLEMENT_ASN1_FUNCTIONS(ESTCA_ATTR_OR_OID)
DECLARE_ASN1_ENCODE_FUNCTIONS_only(ESTCA_CSRATTRS, ESTCA_CSRATTRS)
IMPLEMENT_ASN1_ENCODE_FUNCTIONS_fname(ESTCA_CSRATTRS, ESTCA_CSRATTRS, ESTCA_CSRATTRS)

/* The values of an Attribute: SET OF ANY. */
typedef STACK_OF(ASN1_TYPE) ESTCA_ANYSET;

ASN1_ITEM_TEMPLATE(ESTCA_ANYSET) =
	ASN1_EX_TEMPLATE_TYPE(ASN1_TFLG_SET_OF, 0, values, ASN1_ANY)
ASN1_ITEM_TEMPLATE_END(ESTCA_ANYSET)

DECLARE_ASN1_ENCODE_FUNCTIONS_only(ESTCA_ANYSET, ESTCA_ANYSET)
IMPLEMENT_ASN1_ENCODE_FUNCTIONS_fname(ESTCA_ANYSET, ESTCA_ANYSET, ESTCA_ANYSET)

static void
free_anyset(ESTCA_ANYSET *v)
{
	sk_ASN1_TYPE_pop_free(v, ASN1_TYPE_free);
}

/* One AttrOrOID from a row: a bare OID, or an Attribute with its values. */
static ESTCA_ATTR_OR_OID *
from_row(const struct estca_csrattr *row)
{
	ESTCA_ATTR_OR_OID *e = ESTCA_ATTR_OR_OID_new();
	ASN1_OBJECT *obj = OBJ_txt2obj(row->oid, 1);
	X509_ATTRIBUTE *at = NULL;
	ESTCA_ANYSET *vals = NULL;
	const unsigned char *q = row->values;

	if (e == NULL || obj == NULL)
		goto fail;
	if (row->values == NULL) {
		e->type = 0;
		e->d.oid = obj;
		return e;
	}
	vals = d2i_ESTCA_ANYSET(NULL, &q, (long)row->values_len);
	if (vals == NULL || q != row->values + row->values_len ||
	    sk_ASN1_TYPE_num(vals) < 1 || (at = X509_ATTRIBUTE_new()) == NULL ||
	    !X509_ATTRIBUTE_set1_object(at, obj))
		goto fail;
	for (int i = 0; i < sk_ASN1_TYPE_num(vals); i++) {
		const ASN1_TYPE *t = sk_ASN1_TYPE_value(vals, i);
		const void *data;

		switch (t->type) {
		case V_ASN1_OBJECT: data = t->value.object; break;
		case V_ASN1_NULL: data = NULL; break;
		case V_ASN1_BOOLEAN: data = t->value.boolean ? t : NULL; break;
		default: data = t->value.asn1_string; break;
		}
		if (!X509_ATTRIBUTE_set1_data(at, t->type, data, -1))
			goto fail;
	}
	free_anyset(vals);
	ASN1_OBJECT_free(obj);
	e->type = 1;
	e->d.attribute = at;
	return e;
fail:
	free_anyset(vals);
	X509_ATTRIBUTE_free(at);
	ASN1_OBJECT_free(obj);
	ESTCA_ATTR_OR_OID_free(e);
	return NULL;
}

int
estca_op_csrattrs(struct estca_ctx *ctx, struct estca_http *h)
{
	struct estca_csrattr *rows = NULL;
	ESTCA_CSRATTRS *list = NULL;
	struct estca_buf b64;
	unsigned char *der = NULL;
	size_t n = 0;
	int derlen, r;

	r = estca_db_csrattrs(ctx->db, h->alias.name, &rows, &n, h->detail,
	    sizeof(h->detail));
	if (r != 0)
		return estca_http_fail(h, r, r == ESTCA_ERR_UNAVAILABLE ?
		    "database temporarily unavailable" : NULL, NULL);
	if (n == 0)
		return estca_http_reply(h, 204, NULL, NULL, NULL, 0);
	if ((list = sk_ESTCA_ATTR_OR_OID_new_null()) == NULL) {
		r = ESTCA_ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		ESTCA_ATTR_OR_OID *e = from_row(&rows[i]);

		if (e == NULL || !sk_ESTCA_ATTR_OR_OID_push(list, e)) {
			ESTCA_ATTR_OR_OID_free(e);
			r = estca_http_fail(h, ESTCA_ERR_INTERNAL,
			    "CSR attributes of this alias are misconfigured",
			    "est.csrattr row %zu of alias %s (oid %s) does not encode",
			    i, h->alias.name, rows[i].oid);
			goto out;
		}
	}
	if ((derlen = i2d_ESTCA_CSRATTRS(list, &der)) <= 0) {
		r = estca_http_fail(h, ESTCA_ERR_INTERNAL, NULL,
		    "CsrAttrs of alias %s do not encode", h->alias.name);
		goto out;
	}
	estca_buf_init(&b64, 4 * (size_t)derlen + 1024, false);
	if ((r = estca_base64_lines(der, (size_t)derlen, &b64)) == 0)
		r = estca_http_reply(h, 200, "application/csrattrs",
		    "Content-Transfer-Encoding: base64\r\n", b64.data, b64.len);
	estca_buf_free(&b64);
out:
	OPENSSL_free(der);
	sk_ESTCA_ATTR_OR_OID_pop_free(list, ESTCA_ATTR_OR_OID_free);
	estca_db_csrattrs_free(rows, n);
	return r;
}
