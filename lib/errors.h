/*
 * errors.h - the one error convention of estca.
 *
 * Every fallible function returns 0 on success or one of these negative
 * values.  The same numbers travel on the engine wire (as their absolute
 * value) so the web tier can map an engine refusal to an HTTP status in one
 * table (fcgi/status.c).  Never renumber; append.
 */
#ifndef ESTCA_ERRORS_H
#define ESTCA_ERRORS_H

#define ESTCA_WUR __attribute__((warn_unused_result))

enum estca_err {
	ESTCA_OK = 0,
	ESTCA_ERR_INTERNAL = -1,      /* a bug or an unexpected library failure */
	ESTCA_ERR_NOMEM = -2,         /* allocation failed */
	ESTCA_ERR_TOO_LARGE = -3,     /* input above the size cap of its buffer */
	ESTCA_ERR_MALFORMED = -4,     /* input does not decode, or has bytes left over */
	ESTCA_ERR_IO = -5,            /* read/write/connect failed or peer closed */
	ESTCA_ERR_CONFIG = -6,        /* configuration file invalid */
	ESTCA_ERR_NOT_FOUND = -7,     /* unknown CA, profile, alias, key or object */
	ESTCA_ERR_REFUSED = -8,       /* policy (profile, lint, authorization) says no */
	ESTCA_ERR_UNAVAILABLE = -9,   /* HSM/DB/engine temporarily unavailable: retry */
	ESTCA_ERR_HSM = -10,          /* PKCS#11 call failed (not retryable) */
	ESTCA_ERR_VERSION = -11,      /* protocol version not supported */
	ESTCA_ERR_PERM = -12,         /* peer credentials or file permissions refused */
	ESTCA_ERR_UNSUPPORTED = -13,  /* operation or algorithm not implemented */
};

/* Short constant text for an error code; never NULL. */
const char *estca_strerror(int err);

#endif
