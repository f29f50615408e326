/*
 * dn.h - RFC 4514 text and certificate subjects: does a subject equal a
 * string, and the subject a string names.  One parser for the web tier's
 * registered subjects (fcgi/names.h includes this header) and estca-ca's
 * --subject, so both read a string in the same RDN order.  Pure
 * functions: no I/O.
 */
#ifndef ESTCA_DN_H
#define ESTCA_DN_H

#include <openssl/x509.h>
#include "errors.h"

/*
 * Does name equal the RFC 4514 string dn: the same RDNs in the same order
 * and grouping (the string lists the last RDN first), each type by OID and
 * each value byte for byte as UTF-8, no case folded?  Returns
 * 1 (equal), 0 (different) or ESTCA_ERR_MALFORMED when dn does not parse
 * (hex '#' values and quoted values are not supported).
 */
int estca_dn_match(const X509_NAME *name, const char *dn);

/*
 * The subject the RFC 4514 string dn names, built with the parser of
 * estca_dn_match (so estca_dn_match(*out, dn) == 1): the last RDN of the
 * string first in the encoding, multi-valued RDNs kept, values as UTF-8
 * (OpenSSL picks each attribute's string type).  Returns 0 (caller frees
 * *out), ESTCA_ERR_MALFORMED (dn does not parse or names an unknown
 * type), ESTCA_ERR_NOMEM or ESTCA_ERR_INTERNAL.
 */
int estca_dn_build(const char *dn, X509_NAME **out) ESTCA_WUR;

#endif
