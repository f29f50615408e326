/*
 * route.c - see route.h.  Owns the list of EST operations and the methods
 * each accepts.  Must never touch the network, the database or the heap:
 * it runs on untrusted input before anything else has looked at it.
 */
#include <stddef.h>
#include <string.h>
#include "route.h"
#include "status.h"

struct op_def {
	const char *name;
	enum est_op op;
	const char *method;   /* the one method the operation is defined for */
	const char *allow;    /* what we answer in Allow: */
};

/* GET operations also take HEAD (RFC 9110 9.3.2); main.c sends no body. */
static const struct op_def ops[] = {
	{ "cacerts", EST_OP_CACERTS, "GET", "GET, HEAD" },
	{ "simpleenroll", EST_OP_SIMPLEENROLL, "POST", "POST" },
	{ "simplereenroll", EST_OP_SIMPLEREENROLL, "POST", "POST" },
	{ "serverkeygen", EST_OP_SERVERKEYGEN, "POST", "POST" },
	{ "fullcmc", EST_OP_FULLCMC, "POST", "POST" },
	{ "csrattrs", EST_OP_CSRATTRS, "GET", "GET, HEAD" },
};

const char *
est_op_name(enum est_op op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

static int
alias_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Does [s, s+n) equal the NUL-terminated word w exactly? */
static int
seg_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && memcmp(s, w, n) == 0;
}

static int
fail(struct est_route *out, int err, const char *why)
{
	out->why = why;
	return err;
}

int
est_route(const char *script_name, const char *path_info, const char *method,
    struct est_route *out)
{
	/* Longest good path is 17 + 64 + 1 + 14 bytes; anything near this cap
	 * is refused before it is looked at. */
	char path[256];
	const char *rest, *slash, *opseg;
	size_t a, b, oplen;
	const struct op_def *d = NULL;

	memset(out, 0, sizeof(*out));
	if (script_name == NULL)
		script_name = "";
	if (path_info == NULL)
		path_info = "";
	if (method == NULL)
		method = "";
	a = strlen(script_name);
	b = strlen(path_info);
	if (a >= sizeof(path) || b >= sizeof(path) - a)
		return fail(out, ESTCA_ERR_NOT_FOUND, "path too long");
	memcpy(path, script_name, a);
	memcpy(path + a, path_info, b);
	path[a + b] = 0;

	/* "/.well-known/est" followed by exactly "/"; never "estXYZ". */
	if (strncmp(path, EST_PATH_PREFIX "/", sizeof(EST_PATH_PREFIX)) != 0)
		return fail(out, ESTCA_ERR_NOT_FOUND, "not an EST path");
	rest = path + sizeof(EST_PATH_PREFIX);

	slash = strchr(rest, '/');
	if (slash == NULL) {
		opseg = rest;
		memcpy(out->alias, EST_DEFAULT_ALIAS, sizeof(EST_DEFAULT_ALIAS));
	} else {
		size_t alen = (size_t)(slash - rest);

		if (alen == 0)
			return fail(out, ESTCA_ERR_NOT_FOUND, "empty path segment");
		if (alen > EST_ALIAS_MAX)
			return fail(out, ESTCA_ERR_NOT_FOUND, "alias name too long");
		for (size_t i = 0; i < alen; i++)
			if (!alias_char(rest[i]))
				return fail(out, ESTCA_ERR_NOT_FOUND,
				    "bad character in alias name");
		opseg = slash + 1;
		if (strchr(opseg, '/') != NULL)
			return fail(out, ESTCA_ERR_NOT_FOUND, "too many path segments");
		memcpy(out->alias, rest, alen);
		out->alias[alen] = 0;
	}
	oplen = strlen(opseg);
	if (oplen == 0) {
		out->alias[0] = 0;
		return fail(out, ESTCA_ERR_NOT_FOUND, "no operation in path");
	}
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (seg_is(opseg, oplen, ops[i].name))
			d = &ops[i];
	if (d == NULL) {
		out->alias[0] = 0;
		return fail(out, ESTCA_ERR_NOT_FOUND, "unknown EST operation");
	}
	out->op = d->op;
	out->op_name = d->name;
	out->allow = d->allow;
	if (strcmp(method, d->method) == 0)
		return 0;
	if (strcmp(d->method, "GET") == 0 && strcmp(method, "HEAD") == 0)
		return 0;
	return fail(out, ESTCA_WEB_ERR_METHOD, "method not allowed for this operation");
}
