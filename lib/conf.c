/* conf.c - reader for the configuration format of conf.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "str.h"
#include "conf.h"

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = 0;
	return s;
}

static int
valid_word(const char *s)
{
	if (*s == 0)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) ||
		    *s == '_' || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

static int
add(struct estca_conf *c, const char *sec, const char *name, const char *key,
    const char *value, int line)
{
	struct estca_conf_entry *ne, *x;

	ne = OPENSSL_realloc(c->e, (c->n + 1) * sizeof(*c->e));
	if (ne == NULL)
		return ESTCA_ERR_NOMEM;
	c->e = ne;
	x = &c->e[c->n];
	x->section = OPENSSL_strdup(sec);
	x->name = OPENSSL_strdup(name);
	x->key = OPENSSL_strdup(key);
	x->value = OPENSSL_strdup(value);
	x->line = line;
	c->n++;
	if (!x->section || !x->name || !x->key || !x->value)
		return ESTCA_ERR_NOMEM;
	return 0;
}

void
estca_conf_free(struct estca_conf *c)
{
	for (size_t i = 0; i < c->n; i++) {
		OPENSSL_free(c->e[i].section);
		OPENSSL_free(c->e[i].name);
		OPENSSL_free(c->e[i].key);
		OPENSSL_free(c->e[i].value);
	}
	OPENSSL_free(c->e);
	c->e = NULL;
	c->n = 0;
}

int
estca_conf_load(const char *path, struct estca_conf *c, char *err, size_t errlen)
{
	char line[4096], sec[64] = "", name[128] = "";
	FILE *f;
	int lineno = 0, r = 0;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return ESTCA_ERR_CONFIG;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s, *eq, *k, *v;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(err, errlen, "%s:%d: line too long", path, lineno);
			r = ESTCA_ERR_CONFIG;
			break;
		}
		s = trim(line);
		if (*s == 0 || *s == '#')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']'), *sp;

			if (end == NULL || end[1] != 0) {
				snprintf(err, errlen, "%s:%d: bad section header", path, lineno);
				r = ESTCA_ERR_CONFIG;
				break;
			}
			*end = 0;
			s = trim(s + 1);
			sp = strpbrk(s, " \t");
			if (sp != NULL) {
				*sp = 0;
				sp = trim(sp + 1);
			} else {
				sp = s + strlen(s);
			}
			if (!valid_word(s) || !valid_word(sp) ||
			    estca_str_copy(sec, sizeof(sec), s) != 0 ||
			    estca_str_copy(name, sizeof(name), sp) != 0) {
				snprintf(err, errlen,
				    "%s:%d: section must be [type name]", path, lineno);
				r = ESTCA_ERR_CONFIG;
				break;
			}
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errlen, "%s:%d: expected key = value", path, lineno);
			r = ESTCA_ERR_CONFIG;
			break;
		}
		*eq = 0;
		k = trim(s);
		v = trim(eq + 1);
		if (!valid_word(k)) {
			snprintf(err, errlen, "%s:%d: bad key name", path, lineno);
			r = ESTCA_ERR_CONFIG;
			break;
		}
		if (estca_conf_get(c, sec, name, k) != NULL) {
			snprintf(err, errlen, "%s:%d: %s given twice", path, lineno, k);
			r = ESTCA_ERR_CONFIG;
			break;
		}
		if ((r = add(c, sec, name, k, v, lineno)) != 0) {
			snprintf(err, errlen, "%s:%d: out of memory", path, lineno);
			break;
		}
	}
	if (r == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		r = ESTCA_ERR_CONFIG;
	}
	fclose(f);
	if (r != 0)
		estca_conf_free(c);
	return r;
}

const char *
estca_conf_get(const struct estca_conf *c, const char *section,
    const char *name, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->e[i].section, section) == 0 &&
		    strcmp(c->e[i].name, name) == 0 &&
		    strcmp(c->e[i].key, key) == 0)
			return c->e[i].value;
	return NULL;
}

int
estca_conf_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == 0)
		return ESTCA_ERR_CONFIG;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != 0 || v < min || v > max)
		return ESTCA_ERR_CONFIG;
	*out = v;
	return 0;
}

/* Is there a row for section type sec (and key, if not NULL) in keys? */
static const struct estca_conf_key *
conf_key_find(const struct estca_conf_key *keys, const char *sec,
    const char *key)
{
	for (const struct estca_conf_key *k = keys; k->key != NULL; k++)
		if (strcmp(k->section, sec) == 0 && (key == NULL ||
		    strcmp(k->key, "*") == 0 || strcmp(k->key, key) == 0))
			return k;
	return NULL;
}

int
estca_conf_check(const struct estca_conf *c, const struct estca_conf_key *keys,
    char *err, size_t errlen)
{
	/* every line names a known section type and key */
	for (size_t i = 0; i < c->n; i++) {
		const struct estca_conf_entry *e = &c->e[i];

		if (conf_key_find(keys, e->section, NULL) == NULL) {
			snprintf(err, errlen, "%s:%d: unknown section [%s]",
			    c->path, e->line, e->section);
			return ESTCA_ERR_CONFIG;
		}
		if (conf_key_find(keys, e->section, e->key) == NULL) {
			snprintf(err, errlen, "%s:%d: unknown key '%s'%s%s%s%s%s",
			    c->path, e->line, e->key, e->section[0] ? " in [" : "",
			    e->section, e->name[0] ? " " : "", e->name,
			    e->section[0] ? "]" : "");
			return ESTCA_ERR_CONFIG;
		}
	}
	/* required keys: globally, and in each section present */
	for (const struct estca_conf_key *k = keys; k->key != NULL; k++) {
		const char *v;

		if (!k->required)
			continue;
		if (k->section[0] == 0) {
			if ((v = estca_conf_get(c, "", "", k->key)) == NULL ||
			    v[0] == 0) {
				snprintf(err, errlen, "%s: %s is required", c->path,
				    k->key);
				return ESTCA_ERR_CONFIG;
			}
			continue;
		}
		for (size_t i = 0; i < c->n; i++) {
			const struct estca_conf_entry *e = &c->e[i];

			if (strcmp(e->section, k->section) != 0)
				continue;
			if ((v = estca_conf_get(c, e->section, e->name,
			    k->key)) == NULL || v[0] == 0) {
				snprintf(err, errlen, "%s: [%s %s] needs %s", c->path,
				    e->section, e->name, k->key);
				return ESTCA_ERR_CONFIG;
			}
		}
	}
	return 0;
}
