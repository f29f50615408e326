/*
 * conf.h - the configuration file format shared by estca's daemons.
 *
 *   # comment
 *   key = value                 (global section, name "")
 *   [ca root]                   (section "ca", name "root")
 *   key_label = estca-root
 *
 * Keys are [a-z0-9_.-]+; values run to the end of the line, surrounding
 * blanks removed.  A key repeated in one section is an error, as is any
 * line that is not one of the forms above; the error names file and line.
 */
#ifndef ESTCA_CONF_H
#define ESTCA_CONF_H

#include <stddef.h>
#include "errors.h"

struct estca_conf_entry {
	char *section;  /* "" for the global section, else e.g. "ca" */
	char *name;     /* section name, "" for global */
	char *key;
	char *value;
	int line;
};

struct estca_conf {
	struct estca_conf_entry *e;
	size_t n;
	char path[256];
};

/* err (errlen bytes) receives "file:line: reason" on failure. */
int estca_conf_load(const char *path, struct estca_conf *c, char *err,
    size_t errlen) ESTCA_WUR;
void estca_conf_free(struct estca_conf *c);
/* Value of key in [section name], or NULL. */
const char *estca_conf_get(const struct estca_conf *c, const char *section,
    const char *name, const char *key);
/* Parse a decimal integer in [min,max]; 0 or ESTCA_ERR_CONFIG. */
int estca_conf_long(const char *s, long min, long max, long *out) ESTCA_WUR;

#endif
