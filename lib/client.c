/*
 * client.c - connection to estca-signd (client.h).  Holds no secret and no
 * key; it only frames requests and decodes replies with wire.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include "str.h"
#include "client.h"

struct estca_engine {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int fd;
	int timeout_ms;
	int last_errno;   /* of the last failed connect, for log lines */
};

int
estca_engine_open(const char *path, int timeout_ms, struct estca_engine **out)
{
	struct estca_engine *e;

	*out = NULL;
	if ((e = OPENSSL_zalloc(sizeof(*e))) == NULL)
		return ESTCA_ERR_NOMEM;
	if (estca_str_copy(e->path, sizeof(e->path), path) != 0) {
		OPENSSL_free(e);
		return ESTCA_ERR_CONFIG;
	}
	e->fd = -1;
	e->timeout_ms = timeout_ms;
	*out = e;
	return 0;
}

static void
disconnect(struct estca_engine *e)
{
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
}

void
estca_engine_close(struct estca_engine *e)
{
	if (e == NULL)
		return;
	disconnect(e);
	OPENSSL_free(e);
}

static int
connect_engine(struct estca_engine *e)
{
	struct sockaddr_un sun;
	int fd;

	if (e->fd >= 0)
		return 0;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (estca_str_copy(sun.sun_path, sizeof(sun.sun_path), e->path) != 0)
		return ESTCA_ERR_CONFIG;
	/* non-blocking: a full listen backlog must not hang a worker */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return ESTCA_ERR_UNAVAILABLE;
	for (int waited = 0;; waited += 10) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		if (errno != EAGAIN || waited >= e->timeout_ms) {
			e->last_errno = errno;
			close(fd);
			return ESTCA_ERR_UNAVAILABLE;
		}
		nanosleep(&ts, NULL);
	}
	e->fd = fd;
	return 0;
}

static int
call_once(struct estca_engine *e, const struct estca_buf *msg, ESTCA_REPLY **rep,
    int *eof)
{
	struct estca_reader in;
	const unsigned char *p;
	size_t n;
	int r;

	*eof = 0;
	if ((r = connect_engine(e)) != 0)
		return r;
	if ((r = estca_write_all(e->fd, msg->data, msg->len, e->timeout_ms)) != 0) {
		disconnect(e);
		*eof = 1;  /* a stale connection: the engine went away */
		return ESTCA_ERR_UNAVAILABLE;
	}
	/* the reply may carry a private key: the reader wipes its buffer */
	estca_reader_init(&in, ESTCA_WIRE_MAX_REPLY, true);
	r = estca_reader_next(&in, e->fd, -1, ESTCA_WIRE_MAX_REPLY, e->timeout_ms,
	    e->timeout_ms, &p, &n, eof);
	if (r == 0)
		r = estca_wire_reply_decode(p, n, rep);
	estca_reader_free(&in);
	if (r != 0) {
		disconnect(e);
		return r == ESTCA_ERR_MALFORMED ? r : ESTCA_ERR_UNAVAILABLE;
	}
	return 0;
}

int
estca_engine_last_errno(const struct estca_engine *e)
{
	return e->last_errno;
}

int
estca_engine_call(struct estca_engine *e, const ESTCA_REQ *req, ESTCA_REPLY **rep)
{
	struct estca_buf msg;
	int r, eof, had_conn = e->fd >= 0;

	*rep = NULL;
	estca_buf_init(&msg, ESTCA_WIRE_MAX_REQUEST + 4, false);
	if ((r = estca_wire_req_encode(req, &msg)) != 0)
		return r;
	r = call_once(e, &msg, rep, &eof);
	/* An idle kept connection may have been closed by an engine restart. */
	if (r != 0 && had_conn && eof)
		r = call_once(e, &msg, rep, &eof);
	estca_buf_free(&msg);
	return r;
}

int
estca_wire_reply_status(const ESTCA_REPLY *rep, char *reason, size_t reasonlen)
{
	long st = ESTCA_ERR_MALFORMED;

	if (estca_wire_get_int(rep->status, &st) != 0 || st > 0 || st < -1000)
		st = ESTCA_ERR_MALFORMED;
	if (reasonlen > 0) {
		if (rep->reason == NULL ||
		    estca_wire_get_str(rep->reason, reason, reasonlen) != 0) {
			const char *s = estca_strerror((int)st);
			size_t n = strlen(s);

			if (n >= reasonlen)
				n = reasonlen - 1;
			memcpy(reason, s, n);
			reason[n] = 0;
		}
	}
	return (int)st;
}

static ESTCA_REQ *
new_req(enum estca_op op)
{
	ESTCA_REQ *q = ESTCA_REQ_new();

	if (q == NULL)
		return NULL;
	if (estca_wire_set_int(&q->version, ESTCA_WIRE_VERSION) != 0 ||
	    estca_wire_set_int(&q->op, op) != 0) {
		ESTCA_REQ_free(q);
		return NULL;
	}
	return q;
}

/* Free a reply, wiping a private key it carries first. */
static void
free_reply(ESTCA_REPLY *rep)
{
	if (rep != NULL && rep->pkcs8 != NULL)
		estca_wire_wipe(rep->pkcs8);
	ESTCA_REPLY_free(rep);
}

static void
set_reason(char *reason, size_t reasonlen, int err)
{
	const char *s = estca_strerror(err);
	size_t n = strlen(s);

	if (reasonlen == 0)
		return;
	if (n >= reasonlen)
		n = reasonlen - 1;
	memcpy(reason, s, n);
	reason[n] = 0;
}

/*
 * Send q (freed here) and read the reply's status: the call's error with
 * reason set and *rep NULL, or the reply's status with *rep for the
 * caller to free (free_reply / ESTCA_REPLY_free take NULL).
 */
static int
call_status(struct estca_engine *e, ESTCA_REQ *q, ESTCA_REPLY **rep,
    char *reason, size_t reasonlen)
{
	int r = estca_engine_call(e, q, rep);

	ESTCA_REQ_free(q);
	if (r != 0) {
		*rep = NULL;
		set_reason(reason, reasonlen, r);
		return r;
	}
	return estca_wire_reply_status(*rep, reason, reasonlen);
}

/* Every certificate of a successful reply, decoded; at least one. */
static int
certs_of(const ESTCA_REPLY *rep, STACK_OF(X509) **out)
{
	STACK_OF(X509) *sk;
	int n = estca_wire_reply_ncerts(rep), r = 0;

	*out = NULL;
	if (n < 1)
		return ESTCA_ERR_MALFORMED;
	if ((sk = sk_X509_new_reserve(NULL, n)) == NULL)
		return ESTCA_ERR_NOMEM;
	for (int i = 0; i < n && r == 0; i++) {
		X509 *x = NULL;

		if ((r = estca_wire_reply_cert(rep, i, &x)) == 0 && !sk_X509_push(sk, x)) {
			X509_free(x);
			r = ESTCA_ERR_NOMEM;
		}
	}
	if (r != 0) {
		sk_X509_pop_free(sk, X509_free);
		return r;
	}
	*out = sk;
	return 0;
}

int
estca_engine_get_chain(struct estca_engine *e, const char *ca_name,
    STACK_OF(X509) **chain, char *reason, size_t reasonlen)
{
	ESTCA_REQ *q = new_req(ESTCA_OP_GET_CHAIN);
	ESTCA_REPLY *rep = NULL;
	int r;

	*chain = NULL;
	if (q == NULL || estca_wire_set_str(&q->ca_name, ca_name) != 0) {
		ESTCA_REQ_free(q);
		set_reason(reason, reasonlen, ESTCA_ERR_NOMEM);
		return ESTCA_ERR_NOMEM;
	}
	r = call_status(e, q, &rep, reason, reasonlen);
	if (r == 0) {
		if ((r = certs_of(rep, chain)) != 0)
			set_reason(reason, reasonlen, r);
	}
	ESTCA_REPLY_free(rep);
	return r;
}

/* The sign (key_type NULL) or keygen request for a; *out owned by caller. */
static int
issue_req(const struct estca_sign_args *a, const char *key_type, ESTCA_REQ **out)
{
	ESTCA_REQ *q = new_req(key_type ? ESTCA_OP_KEYGEN : ESTCA_OP_SIGN);
	int r = ESTCA_ERR_NOMEM;

	*out = NULL;
	if (q == NULL ||
	    estca_wire_set_str(&q->ca_name, a->ca_name) != 0 ||
	    estca_wire_set_str(&q->profile, a->profile) != 0 ||
	    estca_wire_set_str(&q->requester, a->requester ? a->requester : "") != 0 ||
	    (q->subject = X509_NAME_dup(a->subject)) == NULL ||
	    (a->sans != NULL && (q->sans = ASN1_item_dup(
	    ASN1_ITEM_rptr(GENERAL_NAMES), (void *)a->sans)) == NULL))
		goto fail;
	if (key_type != NULL) {
		if (estca_wire_set_str(&q->key_type, key_type) != 0)
			goto fail;
	} else if (estca_spki_from_pubkey(a->spki, &q->spki) != 0) {
		r = ESTCA_ERR_MALFORMED;
		goto fail;
	}
	if (a->validity_secs > 0 &&
	    estca_wire_set_int(&q->validity, a->validity_secs) != 0)
		goto fail;
	*out = q;
	return 0;
fail:
	ESTCA_REQ_free(q);
	return r;
}

int
estca_sign_frame(const struct estca_sign_args *a, struct estca_buf *frame)
{
	ESTCA_REQ *q;
	int r;

	if ((r = issue_req(a, NULL, &q)) != 0)
		return r;
	r = estca_wire_req_encode(q, frame);
	ESTCA_REQ_free(q);
	return r;
}

/*
 * Send a sign or keygen request and check the reply's shape: status 0,
 * exactly one certificate, and a key for keygen.  *out is the reply.
 */
static int
issue(struct estca_engine *e, const struct estca_sign_args *a,
    const char *key_type, ESTCA_REPLY **out, char *reason, size_t reasonlen)
{
	ESTCA_REQ *q;
	ESTCA_REPLY *rep = NULL;
	int r;

	*out = NULL;
	if ((r = issue_req(a, key_type, &q)) != 0) {
		set_reason(reason, reasonlen, r);
		return r;
	}
	r = call_status(e, q, &rep, reason, reasonlen);
	if (r == 0 && (estca_wire_reply_ncerts(rep) != 1 ||
	    (key_type != NULL && rep->pkcs8 == NULL))) {
		r = ESTCA_ERR_MALFORMED;
		set_reason(reason, reasonlen, r);
	}
	if (r != 0) {
		free_reply(rep);
		return r;
	}
	*out = rep;
	return 0;
}

int
estca_engine_sign(struct estca_engine *e, const struct estca_sign_args *a,
    X509 **cert, char *reason, size_t reasonlen)
{
	ESTCA_REPLY *rep;
	int r;

	*cert = NULL;
	if ((r = issue(e, a, NULL, &rep, reason, reasonlen)) != 0)
		return r;
	if ((r = estca_wire_reply_cert(rep, 0, cert)) != 0)
		set_reason(reason, reasonlen, r);
	free_reply(rep);
	return r;
}

int
estca_engine_sign_der(struct estca_engine *e, const struct estca_sign_args *a,
    unsigned char **der, size_t *derlen, char *reason, size_t reasonlen)
{
	ESTCA_REPLY *rep;
	const unsigned char *p;
	int r;

	*der = NULL;
	*derlen = 0;
	if ((r = issue(e, a, NULL, &rep, reason, reasonlen)) != 0)
		return r;
	if ((r = estca_wire_reply_cert_der(rep, 0, &p, derlen)) == 0 &&
	    (*der = OPENSSL_memdup(p, *derlen)) == NULL)
		r = ESTCA_ERR_NOMEM;
	if (r != 0) {
		*derlen = 0;
		set_reason(reason, reasonlen, r);
	}
	free_reply(rep);
	return r;
}

int
estca_engine_keygen_der(struct estca_engine *e, const struct estca_sign_args *a,
    const char *key_type, unsigned char **der, size_t *derlen,
    unsigned char **pkcs8, size_t *pkcs8len, char *reason, size_t reasonlen)
{
	ESTCA_REPLY *rep;
	const unsigned char *p;
	int r;

	*der = NULL;
	*derlen = 0;
	*pkcs8 = NULL;
	*pkcs8len = 0;
	if ((r = issue(e, a, key_type, &rep, reason, reasonlen)) != 0)
		return r;
	if ((r = estca_wire_reply_cert_der(rep, 0, &p, derlen)) == 0 &&
	    (*der = OPENSSL_memdup(p, *derlen)) == NULL)
		r = ESTCA_ERR_NOMEM;
	if (r == 0) {
		*pkcs8len = (size_t)ASN1_STRING_length(rep->pkcs8);
		*pkcs8 = OPENSSL_memdup(ASN1_STRING_get0_data(rep->pkcs8), *pkcs8len);
		if (*pkcs8 == NULL)
			r = ESTCA_ERR_NOMEM;
	}
	if (r != 0) {
		OPENSSL_free(*der);
		*der = NULL;
		*derlen = 0;
		*pkcs8len = 0;
		set_reason(reason, reasonlen, r);
	}
	free_reply(rep);
	return r;
}

int
estca_engine_keygen(struct estca_engine *e, const struct estca_sign_args *a,
    const char *key_type, X509 **cert, unsigned char **pkcs8, size_t *pkcs8len,
    char *reason, size_t reasonlen)
{
	unsigned char *der;
	const unsigned char *p;
	size_t derlen;
	int r;

	*cert = NULL;
	r = estca_engine_keygen_der(e, a, key_type, &der, &derlen, pkcs8,
	    pkcs8len, reason, reasonlen);
	if (r != 0)
		return r;
	p = der;
	if (derlen > 0x7fffffff ||
	    (*cert = d2i_X509(NULL, &p, (long)derlen)) == NULL ||
	    p != der + derlen) {
		X509_free(*cert);
		*cert = NULL;
		OPENSSL_clear_free(*pkcs8, *pkcs8len);
		*pkcs8 = NULL;
		*pkcs8len = 0;
		r = ESTCA_ERR_MALFORMED;
		set_reason(reason, reasonlen, r);
	}
	OPENSSL_free(der);
	return r;
}

int
estca_engine_health(struct estca_engine *e, char *reason, size_t reasonlen)
{
	ESTCA_REQ *q = new_req(ESTCA_OP_HEALTH);
	ESTCA_REPLY *rep = NULL;
	int r;

	if (q == NULL)
		return ESTCA_ERR_NOMEM;
	r = call_status(e, q, &rep, reason, reasonlen);
	ESTCA_REPLY_free(rep);
	return r;
}
