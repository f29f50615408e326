/*
 * names.h - reading and comparing certificate names: one attribute of a
 * subject, a subject without one attribute, a subject as RFC 4514 text,
 * byte-for-byte equality, a subject against a registered RFC 4514 string
 * (lib/dn.h, included here) and a SAN against a registered SAN (the
 * matching rules are in policy.h).  Pure functions: no I/O, no
 * decisions.  policy.h includes this header.
 */
#ifndef ESTCA_NAMES_H
#define ESTCA_NAMES_H

#include <stddef.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include "dn.h"
#include "errors.h"

/*
 * The value of the attribute named field (an OpenSSL short or long name,
 * or a dotted OID) in name, as UTF-8 into dst.  It must occur exactly once
 * and hold no NUL.  Returns 0, ESTCA_ERR_NOT_FOUND (absent),
 * ESTCA_ERR_REFUSED (more than once, empty, too long, not text) or
 * ESTCA_ERR_CONFIG (field is no attribute type OpenSSL knows).  dst is
 * wiped on failure; pass a secret buffer for codes.
 */
int estca_name_field(const X509_NAME *name, const char *field, char *dst,
    size_t dstlen) ESTCA_WUR;

/* A copy of name without its (single) field attribute; caller frees. */
int estca_name_without(const X509_NAME *name, const char *field,
    X509_NAME **out) ESTCA_WUR;

/* Is gn equal to the registered SAN text reg ("DNS:x", ...)?  1 or 0. */
int estca_san_match(const GENERAL_NAME *gn, const char *reg);

/* One line describing gn ("DNS:x", "IP:192.0.2.1", "otherName") for
 * reasons and audit rows. */
void estca_san_text(const GENERAL_NAME *gn, char *dst, size_t dstlen);

/* Are a and b the same name, byte for byte (their DER)?  1, 0, or
 * ESTCA_ERR_INTERNAL when one does not encode.  Never X509_NAME_cmp,
 * which folds case and spaces, where identity is decided. */
int estca_name_der_eq(const X509_NAME *a, const X509_NAME *b);

/* name as RFC 4514 text (UTF-8), for the database and the log. */
int estca_name_text(const X509_NAME *name, char *dst, size_t dstlen) ESTCA_WUR;

#endif
