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
/*
 * The keys a program accepts, as a table ending with { NULL, NULL }: the
 * section type ("" for the global section) and the key; key "*" accepts
 * every key of that section type (another module checks them).  required:
 * the global section, or every section of that type present, must have it.
 */
struct estca_conf_key {
	const char *section;
	const char *key;
	int required;
};

/*
 * Check c against keys: every section type and key is in the table, every
 * required key is there.  0, or ESTCA_ERR_CONFIG with err (errlen bytes)
 * "file:line: unknown key 'k' in [section name]", "file:line: unknown
 * section [s]" or "file: [section] needs k".
 */
int estca_conf_check(const struct estca_conf *c,
    const struct estca_conf_key *keys, char *err, size_t errlen) ESTCA_WUR;

/* Parse a decimal integer in [min,max]; 0 or ESTCA_ERR_CONFIG. */
int estca_conf_long(const char *s, long min, long max, long *out) ESTCA_WUR;

#endif
