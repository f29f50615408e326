/*
 * profile_int.h - between the files of the profile module (profile.c,
 * ku.c): not for other callers, who use profile.h.
 */
#ifndef ESTCA_PROFILE_INT_H
#define ESTCA_PROFILE_INT_H

#include <stddef.h>
#include "profile.h"

/*
 * Start-up check of a loaded profile (ku.c): its key usage fits its
 * extended key usage.  0, or ESTCA_ERR_CONFIG and a one-line err.
 */
int check_usage(const struct estca_profile *p, char *err, size_t errlen);

#endif
