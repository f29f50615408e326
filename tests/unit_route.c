/*
 * unit_route.c - the EST router (fcgi/route.c) and the status table
 * (fcgi/status.c) driven by tables, without HTTP.  Prints TAP-style
 * "ok N - ..." lines; exits 1 if any case fails.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "route.h"
#include "status.h"
#include "tap.h"

#define NF ESTCA_ERR_NOT_FOUND
#define MA ESTCA_WEB_ERR_METHOD

struct rcase {
	const char *script;     /* SCRIPT_NAME (NULL: unset) */
	const char *pinfo;      /* PATH_INFO (NULL: unset) */
	const char *method;
	int want;               /* est_route() result */
	const char *alias;      /* expected alias when want is 0 */
	enum est_op op;         /* expected op when want is 0 or MA */
};

static const char alias64[] =
    "a123456789012345678901234567890123456789012345678901234567890123";

static const struct rcase cases[] = {
	/* Apache ScriptAlias /.well-known/est */
	{ "/.well-known/est", "/cacerts", "GET", 0, "est", EST_OP_CACERTS },
	{ "/.well-known/est", "/cacerts", "HEAD", 0, "est", EST_OP_CACERTS },
	{ "/.well-known/est", "/csrattrs", "GET", 0, "est", EST_OP_CSRATTRS },
	{ "/.well-known/est", "/simpleenroll", "POST", 0, "est", EST_OP_SIMPLEENROLL },
	{ "/.well-known/est", "/simplereenroll", "POST", 0, "est", EST_OP_SIMPLEREENROLL },
	{ "/.well-known/est", "/serverkeygen", "POST", 0, "est", EST_OP_SERVERKEYGEN },
	{ "/.well-known/est", "/fullcmc", "POST", 0, "est", EST_OP_FULLCMC },
	{ "/.well-known/est", "/iot/cacerts", "GET", 0, "iot", EST_OP_CACERTS },
	{ "/.well-known/est", "/est/cacerts", "GET", 0, "est", EST_OP_CACERTS },
	{ "/.well-known/est", "/A-b_9/simpleenroll", "POST", 0, "A-b_9",
	    EST_OP_SIMPLEENROLL },
	/* lighttpd, or a server that puts everything in one variable */
	{ NULL, "/.well-known/est/cacerts", "GET", 0, "est", EST_OP_CACERTS },
	{ "", "/.well-known/est/x/cacerts", "GET", 0, "x", EST_OP_CACERTS },
	{ "/.well-known/est/cacerts", NULL, "GET", 0, "est", EST_OP_CACERTS },
	{ "/.well-known", "/est/cacerts", "GET", 0, "est", EST_OP_CACERTS },
	/* lighttpd prefix match: /.well-known/estXYZ must not route */
	{ "/.well-known/est", "XYZ/cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "XYZ", "GET", NF, NULL, 0 },
	{ "/.well-known/estcacerts", NULL, "GET", NF, NULL, 0 },
	{ "/.well-known/es", "t/cacerts", "GET", 0, "est", EST_OP_CACERTS },
	/* wrong prefixes */
	{ NULL, NULL, "GET", NF, NULL, 0 },
	{ "", "", "GET", NF, NULL, 0 },
	{ "/.well-known/est", NULL, "GET", NF, NULL, 0 },
	{ "/.well-known/est", "", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/", "GET", NF, NULL, 0 },
	{ "/.well-known/EST", "/cacerts", "GET", NF, NULL, 0 },
	{ "/well-known/est", "/cacerts", "GET", NF, NULL, 0 },
	{ "", "cacerts", "GET", NF, NULL, 0 },
	{ "/x/.well-known/est", "/cacerts", "GET", NF, NULL, 0 },
	/* unknown or partial operations: equality only */
	{ "/.well-known/est", "/cacert", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/cacertsX", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/CACERTS", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/simpleenrol", "POST", NF, NULL, 0 },
	{ "/.well-known/est", "/nope", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/est/nope", "GET", NF, NULL, 0 },
	/* extra, empty or strange segments */
	{ "/.well-known/est", "/cacerts/", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/est/cacerts/", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/a/b/cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "//cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/est//cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/est/", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/../cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/./cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/a.b/cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/a b/cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/a%20b/cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/\xc3\xa9t\xc3\xa9/cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/a\nb/cacerts", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/cacerts?x=1", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/cacerts;x", "GET", NF, NULL, 0 },
	{ "/.well-known/est", "/cacerts\n", "GET", NF, NULL, 0 },
	/* alias length */
	{ "/.well-known/est", "/a123456789012345678901234567890123456789012345678901234567890123/cacerts",
	    "GET", 0, alias64, EST_OP_CACERTS },
	{ "/.well-known/est", "/a1234567890123456789012345678901234567890123456789012345678901234/cacerts",
	    "GET", NF, NULL, 0 },
	/* methods: known op, wrong method -> 405 with the op known */
	{ "/.well-known/est", "/cacerts", "POST", MA, NULL, EST_OP_CACERTS },
	{ "/.well-known/est", "/cacerts", "get", MA, NULL, EST_OP_CACERTS },
	{ "/.well-known/est", "/cacerts", "GETX", MA, NULL, EST_OP_CACERTS },
	{ "/.well-known/est", "/cacerts", "GE", MA, NULL, EST_OP_CACERTS },
	{ "/.well-known/est", "/cacerts", "", MA, NULL, EST_OP_CACERTS },
	{ "/.well-known/est", "/cacerts", NULL, MA, NULL, EST_OP_CACERTS },
	{ "/.well-known/est", "/cacerts", "OPTIONS", MA, NULL, EST_OP_CACERTS },
	{ "/.well-known/est", "/simpleenroll", "GET", MA, NULL, EST_OP_SIMPLEENROLL },
	{ "/.well-known/est", "/simpleenroll", "HEAD", MA, NULL, EST_OP_SIMPLEENROLL },
	{ "/.well-known/est", "/simpleenroll", "PUT", MA, NULL, EST_OP_SIMPLEENROLL },
	{ "/.well-known/est", "/x/fullcmc", "GET", MA, NULL, EST_OP_FULLCMC },
	{ "/.well-known/est", "/csrattrs", "POST", MA, NULL, EST_OP_CSRATTRS },
	/* unknown op wins over wrong method: 404, not 405 */
	{ "/.well-known/est", "/nope", "POST", NF, NULL, 0 },
};

#define S(x) ((x) != NULL ? (x) : "(null)")


static void
route_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rcase *c = &cases[i];
		struct est_route rt;
		int r, good;

		r = est_route(c->script, c->pinfo, c->method, &rt);
		good = r == c->want;
		if (good && r == 0)
			good = strcmp(rt.alias, c->alias) == 0 && rt.op == c->op &&
			    rt.op_name != NULL &&
			    strcmp(rt.op_name, est_op_name(c->op)) == 0;
		if (good && r == MA)
			good = rt.op == c->op && rt.allow != NULL;
		if (good && r != 0)
			good = rt.why != NULL && rt.why[0] != 0;
		if (!good)
			printf("# got %d alias \"%s\" op %d why \"%s\"\n", r,
			    rt.alias, (int)rt.op, rt.why ? rt.why : "");
		tap_ok(good, "route [%s] + [%s] %s", S(c->script), S(c->pinfo),
		    S(c->method));
	}
}

static void
allow_headers(void)
{
	struct est_route rt;

	tap_ok(est_route("/.well-known/est", "/cacerts", "PUT", &rt) == MA &&
	    strcmp(rt.allow, "GET, HEAD") == 0, "Allow for cacerts PUT");
	tap_ok(est_route("/.well-known/est", "/simpleenroll", "GET", &rt) == MA &&
	    strcmp(rt.allow, "POST") == 0, "Allow for simpleenroll GET");
}

static void
long_inputs(void)
{
	char big[5000];
	struct est_route rt;

	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = 0;
	tap_ok(est_route("/.well-known/est", big, "GET", &rt) == NF,
	    "very long PATH_INFO");
	tap_ok(est_route(big, "/cacerts", "GET", &rt) == NF,
	    "very long SCRIPT_NAME");
	tap_ok(est_route(big, big, "GET", &rt) == NF,
	    "very long SCRIPT_NAME and PATH_INFO");
}

/* Every error code has one status; the ones the design names are right. */
static void
status_table(void)
{
	static const struct { int err, http; } want[] = {
		{ ESTCA_OK, 200 },
		{ ESTCA_ERR_MALFORMED, 400 },
		{ ESTCA_ERR_REFUSED, 403 },
		{ ESTCA_ERR_NOT_FOUND, 404 },
		{ ESTCA_WEB_ERR_METHOD, 405 },
		{ ESTCA_ERR_TOO_LARGE, 413 },
		{ ESTCA_WEB_ERR_NOT_IMPL, 501 },
		{ ESTCA_ERR_UNAVAILABLE, 503 },
		{ ESTCA_ERR_INTERNAL, 500 },
		{ ESTCA_ERR_NOMEM, 500 },
		{ ESTCA_ERR_HSM, 500 },
		{ -9999, 500 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct estca_status *st = estca_status_of(want[i].err);

		tap_ok(st != NULL && st->http == want[i].http &&
		    st->reason != NULL && strchr(st->reason, '\n') == NULL &&
		    st->phrase != NULL, "status of error %d is %d", want[i].err,
		    want[i].http);
	}
	tap_ok(estca_status_of(ESTCA_ERR_UNAVAILABLE)->retry_after &&
	    !estca_status_of(ESTCA_ERR_NOT_FOUND)->retry_after,
	    "Retry-After only for 503");
	for (int e = 0; e >= ESTCA_ERR_UNSUPPORTED; e--) {
		tap_ok(estca_status_of(e)->err == e, "table lists error %d", e);
	}
	tap_ok(estca_web_engine_err(ESTCA_ERR_UNAVAILABLE) == ESTCA_ERR_UNAVAILABLE &&
	    estca_web_engine_err(ESTCA_ERR_IO) == ESTCA_ERR_UNAVAILABLE &&
	    estca_web_engine_err(ESTCA_ERR_MALFORMED) == ESTCA_ERR_INTERNAL &&
	    estca_web_engine_err(ESTCA_ERR_NOT_FOUND) == ESTCA_ERR_INTERNAL,
	    "engine errors map to 503 or 500");
}

int
main(void)
{
	route_cases();
	allow_headers();
	long_inputs();
	status_table();
	return tap_done();
}
