/*
 * codehash.h - checking an enrollment code against its stored hash,
 * whichever kind it is: bcrypt (or any crypt(3) method) for codes a
 * person chose, the fast salted SHA-256 of sql/011_generated_codes.sql for
 * codes the CA generated.  No I/O; tests/unit_codehash.c drives it.
 */
#ifndef ESTCA_CODEHASH_H
#define ESTCA_CODEHASH_H

#include <stdbool.h>

/* The prefix of a generated code's hash. */
#define ESTCA_CODEHASH_FAST "$estca-sha256$"

/*
 * Does code match hash?  "$estca-sha256$SALT$DIGEST": one SHA-256 of the
 * 16 salt bytes and the code, compared in constant time; a malformed one
 * never matches.  Anything else: estca_crypt_matches() (cred.h).
 */
bool estca_code_matches(const char *code, const char *hash);

#endif
