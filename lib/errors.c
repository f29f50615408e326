/* errors.c - names of the ESTCA_ERR_* codes, for logs and error replies. */
#include "errors.h"

const char *
estca_strerror(int err)
{
	switch (err) {
	case ESTCA_OK: return "ok";
	case ESTCA_ERR_INTERNAL: return "internal error";
	case ESTCA_ERR_NOMEM: return "out of memory";
	case ESTCA_ERR_TOO_LARGE: return "input too large";
	case ESTCA_ERR_MALFORMED: return "malformed input";
	case ESTCA_ERR_IO: return "i/o error";
	case ESTCA_ERR_CONFIG: return "configuration error";
	case ESTCA_ERR_NOT_FOUND: return "not found";
	case ESTCA_ERR_REFUSED: return "refused by policy";
	case ESTCA_ERR_UNAVAILABLE: return "temporarily unavailable";
	case ESTCA_ERR_HSM: return "hsm error";
	case ESTCA_ERR_VERSION: return "unsupported protocol version";
	case ESTCA_ERR_PERM: return "permission denied";
	case ESTCA_ERR_UNSUPPORTED: return "not supported";
	}
	return "unknown error";
}
