/*
 * fuzz_route.c - est_route() on SCRIPT_NAME, PATH_INFO and REQUEST_METHOD
 * taken from the input (NUL-separated; a missing one is NULL).
 *
 * Invariants: a routed path is exactly the prefix, the alias (when not
 * the default) and the operation's name, the alias is [A-Za-z0-9_-]{1,64},
 * and a failure always says why.
 */
#include <stdint.h>
#include "fuzz.h"
#include "route.h"
#include "status.h"

static int
alias_ok(const char *a)
{
	size_t n = strlen(a);

	if (n == 0 || n > EST_ALIAS_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' && a[i] <= 'Z') ||
		    (a[i] >= '0' && a[i] <= '9') || a[i] == '_' || a[i] == '-'))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s[3], *mem, path[600], want[600];
	struct est_route rt;
	int r;

	fuzz_split(data, size, s, 3, &mem);
	if (mem == NULL)
		return 0;
	r = est_route(s[0], s[1], s[2], &rt);
	FUZZ_CHECK(r == 0 || r == ESTCA_ERR_NOT_FOUND || r == ESTCA_WEB_ERR_METHOD);
	if (r != 0)
		FUZZ_CHECK(rt.why != NULL);
	if (r == ESTCA_WEB_ERR_METHOD)
		FUZZ_CHECK(rt.op != EST_OP_NONE && rt.allow != NULL);
	if (r == 0) {
		FUZZ_CHECK(rt.op != EST_OP_NONE && rt.op_name != NULL &&
		    rt.allow != NULL);
		FUZZ_CHECK(strcmp(rt.op_name, est_op_name(rt.op)) == 0);
		FUZZ_CHECK(alias_ok(rt.alias));
		snprintf(path, sizeof(path), "%s%s", s[0] ? s[0] : "",
		    s[1] ? s[1] : "");
		if (strcmp(rt.alias, EST_DEFAULT_ALIAS) == 0 &&
		    strcmp(path + (strlen(path) > sizeof(EST_PATH_PREFIX) ?
		    sizeof(EST_PATH_PREFIX) : 0), rt.op_name) == 0)
			snprintf(want, sizeof(want), "%s/%s", EST_PATH_PREFIX,
			    rt.op_name);
		else
			snprintf(want, sizeof(want), "%s/%s/%s", EST_PATH_PREFIX,
			    rt.alias, rt.op_name);
		FUZZ_CHECK(strcmp(path, want) == 0);
		FUZZ_CHECK(s[2] != NULL && (strcmp(s[2], "GET") == 0 ||
		    strcmp(s[2], "HEAD") == 0 || strcmp(s[2], "POST") == 0));
	}
	free(mem);
	return 0;
}
