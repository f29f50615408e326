/*
 * wire.h - the engine protocol: one length-prefixed DER message each way.
 *
 * Frame: 4-byte big-endian length, then exactly that many bytes of DER.
 * Both messages are described by OpenSSL ASN.1 templates (wire.c); nothing
 * here parses DER by hand, and a message with bytes left over is malformed.
 *
 *   EstcaRequest ::= SEQUENCE {
 *     version    INTEGER,                 -- ESTCA_WIRE_VERSION
 *     op         INTEGER,                 -- enum estca_op
 *     caName     [0] UTF8String OPTIONAL,
 *     profile    [1] UTF8String OPTIONAL,
 *     subject    [2] EXPLICIT Name OPTIONAL,
 *     sans       [3] IMPLICIT GeneralNames OPTIONAL,
 *     spki       [4] EXPLICIT SubjectPublicKeyInfo OPTIONAL,
 *     validity   [5] INTEGER OPTIONAL,    -- seconds wanted; capped by profile
 *     keyType    [6] UTF8String OPTIONAL, -- rsa:2048 ... ec:P-384
 *     requester  [7] UTF8String OPTIONAL  -- who asks, for the audit line
 *   }
 *   EstcaReply ::= SEQUENCE {
 *     version    INTEGER,
 *     status     INTEGER,                 -- 0 or an ESTCA_ERR_* value
 *     reason     [0] UTF8String OPTIONAL, -- one line, for the client
 *     certs      [1] IMPLICIT SEQUENCE OF Certificate OPTIONAL,
 *     pkcs8      [2] OCTET STRING OPTIONAL
 *   }
 */
#ifndef ESTCA_WIRE_H
#define ESTCA_WIRE_H

#include <stddef.h>
#include <openssl/asn1t.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "errors.h"
#include "buf.h"

#define ESTCA_WIRE_VERSION 1
#define ESTCA_WIRE_MAX_REQUEST (64 * 1024)
#define ESTCA_WIRE_MAX_REPLY (1024 * 1024)

enum estca_op {
	ESTCA_OP_GET_CHAIN = 1,  /* caName -> certs = CA chain, CA first */
	ESTCA_OP_SIGN = 2,       /* -> certs = { issued certificate } */
	ESTCA_OP_KEYGEN = 3,     /* -> certs = { certificate }, pkcs8 */
	ESTCA_OP_HEALTH = 4,     /* -> status only */
};

/*
 * SubjectPublicKeyInfo as plain structure: same DER as X509_PUBKEY, but
 * decoding it does not build an EVP_PKEY (OpenSSL's decoder machinery
 * costs more than the HSM signature).  profile.c inspects it.
 */
typedef struct estca_spki_st {
	X509_ALGOR *alg;
	ASN1_BIT_STRING *key;
} ESTCA_SPKI;

DECLARE_ASN1_FUNCTIONS(ESTCA_SPKI)

/* Convert a parsed public key (or an EVP_PKEY) to the wire form. */
int estca_spki_from_pubkey(const X509_PUBKEY *in, ESTCA_SPKI **out) ESTCA_WUR;
int estca_spki_from_pkey(const EVP_PKEY *in, ESTCA_SPKI **out) ESTCA_WUR;

typedef struct estca_req_st {
	ASN1_INTEGER *version;
	ASN1_INTEGER *op;
	ASN1_UTF8STRING *ca_name;
	ASN1_UTF8STRING *profile;
	X509_NAME *subject;
	STACK_OF(GENERAL_NAME) *sans;
	ESTCA_SPKI *spki;
	ASN1_INTEGER *validity;
	ASN1_UTF8STRING *key_type;
	ASN1_UTF8STRING *requester;
} ESTCA_REQ;

typedef struct estca_reply_st {
	ASN1_INTEGER *version;
	ASN1_INTEGER *status;
	ASN1_UTF8STRING *reason;
	STACK_OF(ASN1_TYPE) *certs;   /* certificates, kept as DER (SEQUENCE) */
	ASN1_OCTET_STRING *pkcs8;
} ESTCA_REPLY;

DECLARE_ASN1_FUNCTIONS(ESTCA_REQ)
DECLARE_ASN1_FUNCTIONS(ESTCA_REPLY)

/* Decode exactly len bytes; trailing bytes are ESTCA_ERR_MALFORMED, and
 * so are a reply whose certs are not all SEQUENCEs and a request with a
 * tag-0 element in an ANY field (key parameters, otherName values),
 * which would not survive re-encoding. */
int estca_wire_req_decode(const unsigned char *p, size_t len, ESTCA_REQ **out) ESTCA_WUR;
int estca_wire_reply_decode(const unsigned char *p, size_t len, ESTCA_REPLY **out) ESTCA_WUR;
/* Encode into b (framed: length prefix included). */
int estca_wire_req_encode(const ESTCA_REQ *r, struct estca_buf *b) ESTCA_WUR;
int estca_wire_reply_encode(const ESTCA_REPLY *r, struct estca_buf *b) ESTCA_WUR;

/* Helpers to fill and read fields. */
/*
 * Certificates in a reply travel as DER and are decoded only by callers
 * that need fields from them.  estca_wire_reply_add_cert() appends x's DER;
 * estca_wire_reply_cert_der() points into the reply (valid while it lives);
 * estca_wire_reply_cert() decodes certificate i into a new X509.
 */
int estca_wire_reply_add_cert(ESTCA_REPLY *rep, const X509 *x) ESTCA_WUR;
/* The same from a certificate's DER (copied). */
int estca_wire_reply_add_der(ESTCA_REPLY *rep, const unsigned char *der, size_t len) ESTCA_WUR;
int estca_wire_reply_ncerts(const ESTCA_REPLY *rep);
int estca_wire_reply_cert_der(const ESTCA_REPLY *rep, int i, const unsigned char **der,
    size_t *len) ESTCA_WUR;
int estca_wire_reply_cert(const ESTCA_REPLY *rep, int i, X509 **out) ESTCA_WUR;

int estca_wire_set_str(ASN1_UTF8STRING **f, const char *s) ESTCA_WUR;
int estca_wire_set_int(ASN1_INTEGER **f, long v) ESTCA_WUR;
/* Copy a UTF8String into a NUL-terminated C string; refuses embedded NULs. */
int estca_wire_get_str(const ASN1_UTF8STRING *f, char *dst, size_t dstlen) ESTCA_WUR;
int estca_wire_get_int(const ASN1_INTEGER *f, long *v) ESTCA_WUR;

/* Overwrite the bytes of a string that held a secret (before its free). */
void estca_wire_wipe(ASN1_STRING *s);

/*
 * Framed I/O on a blocking or non-blocking stream socket.  timeout_ms
 * bounds each wait for the peer (-1: no limit before the first byte of a
 * frame, used by the engine between requests).  A clean close before the
 * first byte returns ESTCA_ERR_IO with *eof set.
 */
/*
 * Frames arrive through a reader: one read() takes whatever the socket
 * holds, so several pipelined frames cost one system call.  Sockets are
 * non-blocking; a read is tried first and poll() used only when nothing is
 * there.
 *
 * estca_reader_next() hands out the next frame (*p, *n point into the
 * reader until the next call), reading as needed: the first byte of a
 * frame may take first_timeout_ms (-1: forever), the rest timeout_ms each.
 * wake_fd, if >= 0, is polled too; when it becomes readable while no frame
 * is buffered the call returns ESTCA_ERR_UNAVAILABLE.  *eof is set when
 * the peer closed between frames.  ESTCA_ERR_TOO_LARGE / _MALFORMED: the
 * stream cannot be resynchronized.
 */
struct estca_reader {
	struct estca_buf b;    /* what was read; frames are consumed from it */
};

void estca_reader_init(struct estca_reader *r, size_t max_frame, bool secret);
void estca_reader_free(struct estca_reader *r);
/* 1 if a complete frame is already buffered (no system call needed). */
int estca_reader_has_frame(const struct estca_reader *r);
int estca_reader_next(struct estca_reader *r, int fd, int wake_fd, size_t max,
    int first_timeout_ms, int timeout_ms, const unsigned char **p, size_t *n,
    int *eof) ESTCA_WUR;
/*
 * Take what the socket holds now, without waiting: 0 (maybe nothing new),
 * ESTCA_ERR_IO when the peer closed (*eof if between frames) or failed,
 * ESTCA_ERR_TOO_LARGE / _MALFORMED when the next frame's header is bad
 * (above max, or empty).
 */
int estca_reader_fill(struct estca_reader *r, int fd, size_t max, int *eof) ESTCA_WUR;
int estca_write_all(int fd, const unsigned char *p, size_t n, int timeout_ms) ESTCA_WUR;

#endif
