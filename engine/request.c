/*
 * request.c - one request of estca-signd, from its frame to its audit
 * line and reply: the CA chain, health, and sign/keygen, whose certificate
 * is built here from the named profile (issue.c).
 *
 * Every field is the peer's and may be hostile: it is checked before use
 * and escaped before it is logged.  It never signs a hash or a TBS handed
 * to it; a keygen private key leaves only in the reply, and is wiped.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include "log.h"
#include "signd.h"

/* A string field of the request, escaped for a log line ("" if absent). */
static void
field_text(const ASN1_UTF8STRING *f, char *out, size_t outlen)
{
	if (f == NULL)
		out[0] = 0;
	else
		estca_log_escape(out, outlen, ASN1_STRING_get0_data(f),
		    (size_t)ASN1_STRING_length(f));
}

static struct estca_ca *
find_ca(struct signd *sd, const char *name)
{
	for (size_t i = 0; i < sd->ncas; i++)
		if (strcmp(sd->cas[i].name, name) == 0)
			return &sd->cas[i];
	return NULL;
}

static int
set_error(ESTCA_REPLY *rep, int err, const char *reason)
{
	if (estca_wire_set_int(&rep->status, err) != 0)
		return ESTCA_ERR_NOMEM;
	return estca_wire_set_str(&rep->reason, reason ? reason : estca_strerror(err));
}

static int
op_chain(struct signd *sd, const ESTCA_REQ *q, ESTCA_REPLY *rep)
{
	char name[64], shown[128], reason[REASON_LEN];
	struct estca_ca *ca;

	if (estca_wire_get_str(q->ca_name, name, sizeof(name)) != 0)
		return set_error(rep, ESTCA_ERR_MALFORMED, "caName missing or invalid");
	if ((ca = find_ca(sd, name)) == NULL) {
		field_text(q->ca_name, shown, sizeof(shown));
		snprintf(reason, sizeof(reason), "unknown CA '%s'", shown);
		return set_error(rep, ESTCA_ERR_NOT_FOUND, reason);
	}
	for (int i = 0; i < sk_X509_num(ca->chain); i++) {
		int r = estca_wire_reply_add_cert(rep, sk_X509_value(ca->chain, i));

		if (r != 0)
			return r;
	}
	return 0;
}

/* Put key's PKCS#8 DER into the reply; the temporary copy is wiped. */
static int
pkcs8_into(ESTCA_REPLY *rep, EVP_PKEY *key)
{
	unsigned char *der = NULL;
	PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(key);
	int n;

	if (p8 == NULL)
		return ESTCA_ERR_INTERNAL;
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (n <= 0)
		return ESTCA_ERR_INTERNAL;
	if ((rep->pkcs8 = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(rep->pkcs8, der, n)) {
		OPENSSL_clear_free(der, (size_t)n);
		return ESTCA_ERR_NOMEM;
	}
	OPENSSL_clear_free(der, (size_t)n);
	return 0;
}

/*
 * sign and keygen: build the certificate for the request's subject and
 * SANs, and either the request's public key (sign) or a key pair the
 * token generates now (keygen, whose PKCS#8 goes into the reply).  With
 * defer, a sign request is only built: sign_batch() signs it.
 */
static void
issue_start(struct signd *sd, struct conn *c, struct slot *sl, int defer)
{
	const ESTCA_REQ *q = sl->q;
	char keytype[16], caname[64], profname[64], shown[128];
	const struct estca_profile *p = NULL;
	struct estca_ca *ca = NULL;
	struct estca_ee_req rq;
	long validity = 0;
	int keygen = sl->keygen, err;

	sl->issuing = 1;
	sl->a.event = keygen ? "keygen" : "sign";
	sl->a.uid = c->uid;
	sl->a.subject = q->subject;
	sl->a.spki = q->spki;
	/* as sent, escaped: a bad or oversized field is audited too */
	field_text(q->requester, sl->a.requester, sizeof(sl->a.requester));
	field_text(q->ca_name, sl->a.ca, sizeof(sl->a.ca));
	field_text(q->profile, sl->a.profile, sizeof(sl->a.profile));
	if (estca_wire_get_str(q->ca_name, caname, sizeof(caname)) != 0 ||
	    estca_wire_get_str(q->profile, profname, sizeof(profname)) != 0 ||
	    q->subject == NULL || (!keygen && q->spki == NULL) ||
	    (keygen && estca_wire_get_str(q->key_type, keytype, sizeof(keytype)) != 0) ||
	    (q->validity != NULL &&
	     (estca_wire_get_int(q->validity, &validity) != 0 || validity < 0))) {
		sl->err = ESTCA_ERR_MALFORMED;
		snprintf(sl->reason, sizeof(sl->reason), keygen ?
		    "keygen needs caName, profile, subject, keyType and a valid validity" :
		    "sign needs caName, profile, subject, spki and a valid validity");
		return;
	}
	if ((ca = find_ca(sd, caname)) == NULL) {
		sl->err = ESTCA_ERR_NOT_FOUND;
		field_text(q->ca_name, shown, sizeof(shown));
		snprintf(sl->reason, sizeof(sl->reason), "unknown CA '%s'", shown);
		return;
	}
	if ((p = estca_profile_find(&sd->profiles, profname)) == NULL) {
		sl->err = ESTCA_ERR_NOT_FOUND;
		field_text(q->profile, shown, sizeof(shown));
		snprintf(sl->reason, sizeof(sl->reason), "unknown profile '%s'", shown);
		return;
	}
	rq.subject = q->subject;
	rq.sans = q->sans;
	rq.spki = q->spki;
	rq.validity_secs = validity;
	rq.curves = &sd->curves;
	rq.verify = sd->verify_signatures;
	if ((err = hsm_acquire(sd)) != 0) {
		sl->err = err;
		snprintf(sl->reason, sizeof(sl->reason), "HSM unavailable; retry later");
		return;
	}
	err = in_hsm(sd, c, ca, p, &rq, keygen ? keytype : NULL, sl->serial, &sl->x,
	    &sl->newkey, &sl->newspki, sl->reason, sizeof(sl->reason));
	defer = defer && !keygen;
	if (err == 0 && !defer)
		err = estca_sign_ee(ca, sl->x, rq.verify, &sl->der, sl->reason,
		    sizeof(sl->reason));
	hsm_release(sd, err);
	if (sl->newspki != NULL)
		sl->a.spki = sl->newspki;
	sl->err = err;
	if (err == 0 && defer) {
		/* built and linted; signed with the rest of its batch */
		sl->ca = ca;
		sl->verify = rq.verify;
		sl->state = SLOT_SIGNING;
	}
}

/* Decode one request frame and do it, all but a deferred signature. */
void
slot_start(struct signd *sd, struct conn *c, const unsigned char *in,
    size_t inlen, struct slot *sl, int defer)
{
	long version, op;

	memset(sl, 0, sizeof(*sl));
	estca_buf_init(&sl->der, ESTCA_WIRE_MAX_REPLY, false);
	sl->c = c;
	sl->state = SLOT_READY;
	if ((sl->rep = ESTCA_REPLY_new()) == NULL ||
	    estca_wire_set_int(&sl->rep->version, ESTCA_WIRE_VERSION) != 0 ||
	    estca_wire_set_int(&sl->rep->status, 0) != 0) {
		sl->fatal = ESTCA_ERR_NOMEM;
		return;
	}
	if (estca_wire_req_decode(in, inlen, &sl->q) != 0) {
		log_warn("malformed request from uid %ld (%zu bytes)", (long)c->uid,
		    inlen);
		sl->fatal = set_error(sl->rep, ESTCA_ERR_MALFORMED, "request does not decode");
	} else if (estca_wire_get_int(sl->q->version, &version) != 0 ||
	    version != ESTCA_WIRE_VERSION) {
		sl->fatal = set_error(sl->rep, ESTCA_ERR_VERSION,
		    "protocol version not supported");
	} else if (estca_wire_get_int(sl->q->op, &op) != 0) {
		sl->fatal = set_error(sl->rep, ESTCA_ERR_MALFORMED, "op missing");
	} else {
		switch (op) {
		case ESTCA_OP_GET_CHAIN:
			sl->fatal = op_chain(sd, sl->q, sl->rep);
			break;
		case ESTCA_OP_HEALTH:
			break;
		case ESTCA_OP_SIGN:
		case ESTCA_OP_KEYGEN:
			sl->keygen = op == ESTCA_OP_KEYGEN;
			issue_start(sd, c, sl, defer);
			break;
		default:
			sl->fatal = set_error(sl->rep, ESTCA_ERR_UNSUPPORTED,
			    "unknown operation");
			break;
		}
	}
}

/*
 * A ready request: its audit line, and its framed reply appended to out
 * (NULL: the connection is gone; the audit line is still written).
 * Frees what the slot holds.  Non-zero: no reply could be built.
 */
int
slot_finish(struct signd *sd, const struct conn *c, struct slot *sl,
    struct estca_buf *out)
{
	int r = sl->fatal;

	if (r == 0 && sl->issuing) {
		if (sl->err == 0) {
			atomic_fetch_add(&sd->n_signed, 1);
			sl->a.serial = sl->serial;
			sl->a.result = "issued";
			audit(sd, &sl->a);
			r = estca_wire_reply_add_der(sl->rep, sl->der.data, sl->der.len);
			if (r == 0 && sl->keygen)
				r = pkcs8_into(sl->rep, sl->newkey);
		} else {
			sl->a.result = "refused";
			sl->a.reason = sl->reason;
			audit(sd, &sl->a);
			log_warn("%s refused for uid %ld: %s", sl->a.event, (long)c->uid,
			    sl->reason);
			r = set_error(sl->rep, sl->err, sl->reason);
		}
	}
	if (r == 0 && out != NULL)
		r = estca_wire_reply_encode(sl->rep, out);
	if (sl->rep != NULL && sl->rep->pkcs8 != NULL)   /* a private key */
		estca_wire_wipe(sl->rep->pkcs8);
	ESTCA_REPLY_free(sl->rep);
	ESTCA_REQ_free(sl->q);
	X509_free(sl->x);
	estca_buf_free(&sl->der);
	EVP_PKEY_free(sl->newkey);
	ESTCA_SPKI_free(sl->newspki);
	sl->rep = NULL;
	sl->q = NULL;
	sl->x = NULL;
	sl->newkey = NULL;
	sl->newspki = NULL;
	return r;
}

int
send_error(int fd, int err, const char *reason)
{
	ESTCA_REPLY *rep = ESTCA_REPLY_new();
	struct estca_buf out;
	int r = ESTCA_ERR_NOMEM;

	estca_buf_init(&out, ESTCA_WIRE_MAX_REPLY + 4, false);
	if (rep != NULL && estca_wire_set_int(&rep->version, ESTCA_WIRE_VERSION) == 0 &&
	    set_error(rep, err, reason) == 0 &&
	    (r = estca_wire_reply_encode(rep, &out)) == 0)
		r = estca_write_all(fd, out.data, out.len, WRITE_TIMEOUT_MS);
	ESTCA_REPLY_free(rep);
	estca_buf_free(&out);
	return r;
}
