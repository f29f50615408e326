/*
 * main.c - estca-fcgi: the EST responder behind Apache mod_fcgid or
 * lighttpd mod_fastcgi.
 *
 * Owns the command line, the configuration, the per-process context and
 * the accept loop.  Each request is routed (route.c), its alias looked up
 * (db.c) and handed to one operation file (op_*.c); every error answer is
 * sent and logged here, from status.c's table.  There is no mutable state
 * outside the context struct created in main().  The worker holds no key
 * and never trusts a header a client could have set.
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <libpq-fe.h>
#include <openssl/crypto.h>
#include <fcgiapp.h>
#include "fcgi.h"
#include "body.h"
#include "check.h"
#include "reply.h"
#include "status.h"
#include "log.h"
#include "schema_version.h"

#define DEFAULT_CONF "/etc/estca/fcgi.conf"
#define CONF_ENV "ESTCA_FCGI_CONF"

typedef int (*op_handler)(struct estca_ctx *, struct estca_http *);

/* Which file answers which operation (NULL: routed but not implemented),
 * and whether it reads the request body. */
static const struct {
	enum est_op op;
	op_handler fn;
	bool body;
} handlers[] = {
	{ EST_OP_CACERTS, estca_op_cacerts, false },
	{ EST_OP_SIMPLEENROLL, estca_op_simpleenroll, true },
	{ EST_OP_SIMPLEREENROLL, estca_op_simplereenroll, true },
	{ EST_OP_SERVERKEYGEN, estca_op_serverkeygen, true },
	{ EST_OP_FULLCMC, NULL, false },
	{ EST_OP_CSRATTRS, estca_op_csrattrs, false },
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: estca-fcgi [-n | --check-config] [-f FILE]\n"
	    "  FastCGI responder for EST; the web server starts it with the\n"
	    "  listen socket on standard input.\n"
	    "  -f FILE         configuration (default $" CONF_ENV " or " DEFAULT_CONF ")\n"
	    "  -n              check the configuration file only, then exit\n"
	    "  --check-config  check the file, connect to PostgreSQL (run it as\n"
	    "                  the web server's user), compare the schema version\n"
	    "                  with this build's (%d), ask the engine for its\n"
	    "                  health and for the chain of each alias's CA, exit\n"
	    "  -h, --help      this help\n"
	    "Exit status 0: valid; 1: a check failed (one line on stderr each).\n",
	    ESTCA_SCHEMA_VERSION);
}

/* Every key estca-fcgi reads (doc/rig.md, fcgi.conf). */
static const struct estca_conf_key fcgi_keys[] = {
	{ "", "pg_conninfo", 1 },
	{ "", "engine_socket", 1 },
	{ "", "engine_timeout_ms", 0 },
	{ "", "log_level", 0 },
	{ "", "max_body", 0 },
	{ NULL, NULL, 0 },
};

/* Load and check path into c; err receives one line on failure. */
static int
load_conf(const char *path, struct estca_fcgi_conf *c, char *err, size_t errlen)
{
	struct estca_conf *raw = &c->raw;
	const char *v;
	char *pqerr = NULL;
	PQconninfoOption *opts;
	long n;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = estca_conf_load(path, raw, err, errlen)) != 0)
		return r;
	c->path = raw->path;
	if (estca_conf_check(raw, fcgi_keys, err, errlen) != 0)
		goto bad;

	c->pg_conninfo = estca_conf_get(raw, "", "", "pg_conninfo");
	/* Syntax only; whether the server answers is a run-time matter. */
	if ((opts = PQconninfoParse(c->pg_conninfo, &pqerr)) == NULL) {
		char line[200];

		estca_one_line(line, sizeof(line), pqerr != NULL ? pqerr :
		    "out of memory");
		snprintf(err, errlen, "%s: pg_conninfo: %s", path, line);
		PQfreemem(pqerr);
		goto bad;
	}
	PQconninfoFree(opts);

	c->engine_socket = estca_conf_get(raw, "", "", "engine_socket");
	if (c->engine_socket == NULL || c->engine_socket[0] != '/' ||
	    strlen(c->engine_socket) >= 108) {
		snprintf(err, errlen, "%s: engine_socket is required "
		    "(an absolute path shorter than 108 bytes)", path);
		goto bad;
	}

	c->engine_timeout_ms = 30000;
	if ((v = estca_conf_get(raw, "", "", "engine_timeout_ms")) != NULL) {
		if (estca_conf_long(v, 1, 600000, &n) != 0) {
			snprintf(err, errlen, "%s: engine_timeout_ms must be "
			    "1..600000", path);
			goto bad;
		}
		c->engine_timeout_ms = (int)n;
	}

	c->max_body = 65536;
	if ((v = estca_conf_get(raw, "", "", "max_body")) != NULL) {
		if (estca_conf_long(v, 1024, 64L * 1024 * 1024, &n) != 0) {
			snprintf(err, errlen, "%s: max_body must be "
			    "1024..67108864", path);
			goto bad;
		}
		c->max_body = (size_t)n;
	}

	c->log_level = ESTCA_LOG_INFO;
	if ((v = estca_conf_get(raw, "", "", "log_level")) != NULL) {
		if (strcmp(v, "error") == 0)
			c->log_level = ESTCA_LOG_ERR;
		else if (strcmp(v, "warning") == 0)
			c->log_level = ESTCA_LOG_WARN;
		else if (strcmp(v, "info") == 0)
			c->log_level = ESTCA_LOG_INFO;
		else if (strcmp(v, "debug") == 0)
			c->log_level = ESTCA_LOG_DEBUG;
		else {
			snprintf(err, errlen, "%s: log_level must be error, "
			    "warning, info or debug", path);
			goto bad;
		}
	}
	return 0;
bad:
	estca_conf_free(raw);
	return ESTCA_ERR_CONFIG;
}

static const char *
param(const FCGX_Request *fx, const char *name)
{
	return FCGX_GetParam(name, fx->envp);
}

/*
 * The request path for log lines: what the client asked for if the server
 * says (REQUEST_URI), else the CGI split.  Bytes outside printable ASCII
 * are escaped so a request cannot forge or break a log line.
 */
static void
log_path(const FCGX_Request *fx, char *dst, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *parts[2] = { param(fx, "REQUEST_URI"), NULL };
	size_t o = 0;

	if (parts[0] == NULL) {
		parts[0] = param(fx, "SCRIPT_NAME");
		parts[1] = param(fx, "PATH_INFO");
	}
	for (int k = 0; k < 2; k++) {
		for (const char *s = parts[k]; s != NULL && *s; s++) {
			unsigned char c = (unsigned char)*s;

			if (o + 4 >= len) {
				if (len >= 4)
					memcpy(dst + len - 4, "...", 4);
				return;
			}
			if (c > 0x20 && c < 0x7f && c != '%') {
				dst[o++] = (char)c;
			} else {
				dst[o++] = '%';
				dst[o++] = hex[c >> 4];
				dst[o++] = hex[c & 15];
			}
		}
	}
	if (o == 0)
		dst[o++] = '-';
	dst[o] = 0;
}

/* Answer err for h and log it with the request's method and path. */
static void
answer_error(struct estca_http *h, int err)
{
	const struct estca_status *st = estca_status_of(err);
	const char *addr = param(h->fx, "REMOTE_ADDR");
	char method[16], detail[sizeof(h->detail)];
	/* our faults and outages are errors; refusals and 501 are routine */
	int level = st->http >= 500 && st->http != 501 ? ESTCA_LOG_ERR :
	    ESTCA_LOG_INFO;

	if (h->reason[0] == 0)
		estca_one_line(h->reason, sizeof(h->reason), st->reason);
	estca_one_line(method, sizeof(method), h->method[0] ? h->method : "-");
	estca_one_line(detail, sizeof(detail), h->detail);
	estca_log(level, "%s %s from %s: %d %s%s%s%s", method, h->logpath,
	    addr != NULL ? addr : "?", st->http, h->reason,
	    detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
	if (estca_http_reply_error(h, err) != 0)
		log_info("%s %s: client went away while answering", method,
		    h->logpath);
}

/*
 * OpenSSL's allocator for this process: every block is wiped before it
 * goes back to the C library.  The request body, the CSR's DER, the
 * decoded request with its challengePassword, Basic credentials and
 * serverkeygen private keys all live in OpenSSL-allocated memory, so no
 * secret outlives its owner there, whichever path freed it.
 * XXX libfcgi's own stream buffer keeps the last bytes of a body until
 * the next request overwrites them; it is not ours to wipe.
 */
static void
wipe_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p != NULL) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void *
wipe_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n);
}

/* realloc never leaves the old block unwiped: allocate, copy, wipe. */
static void *
wipe_realloc(void *p, size_t n, const char *file, int line)
{
	size_t old;
	void *q;

	if (p == NULL)
		return wipe_malloc(n, file, line);
	if (n == 0) {
		wipe_free(p, file, line);
		return NULL;
	}
	old = malloc_usable_size(p);
	if ((q = malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, old < n ? old : n);
	wipe_free(p, file, line);
	return q;
}

/* No core dumps, no ptrace by the same user: a worker's memory holds
 * enrollment codes, RA passwords and serverkeygen keys while it works. */
static int
no_core_dumps(void)
{
	struct rlimit rl = { 0, 0 };

	if (setrlimit(RLIMIT_CORE, &rl) != 0 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
		return -1;
	return 0;
}

static void
handle(struct estca_ctx *ctx, FCGX_Request *fx)
{
	struct estca_http h;
	op_handler fn = NULL;
	bool body = false;
	int r, route_r;

	memset(&h, 0, sizeof(h));
	h.fx = fx;
	h.method = param(fx, "REQUEST_METHOD");
	if (h.method == NULL)
		h.method = "";
	h.head = strcmp(h.method, "HEAD") == 0;
	log_path(fx, h.logpath, sizeof(h.logpath));
	estca_buf_init(&h.body, ctx->conf.max_body, true);

	route_r = est_route(param(fx, "SCRIPT_NAME"), param(fx, "PATH_INFO"),
	    h.method, &h.route);
	if (route_r == 0) {
		for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
			if (handlers[i].op == h.route.op) {
				fn = handlers[i].fn;
				body = handlers[i].body;
			}
	}
	/*
	 * The body is read (exactly, up to max_body) or drained before any
	 * answer, so a server that sends the whole body first (mod_fcgid) is
	 * never stuck.  A body that is unusable is the handler's to refuse.
	 */
	if (fn != NULL && body)
		h.body_err = estca_body_read(fx->in, param(fx, "CONTENT_LENGTH"),
		    ctx->conf.max_body, &h.body, h.body_why, sizeof(h.body_why));
	else
		estca_drain_body(&h, ctx->conf.max_body);

	if (route_r != 0) {
		estca_http_fail(&h, route_r, h.route.why, NULL);
		answer_error(&h, route_r);
		goto out;
	}
	if (fn == NULL) {
		estca_http_fail(&h, ESTCA_WEB_ERR_NOT_IMPL,
		    h.route.op == EST_OP_FULLCMC ?
		    "fullcmc (Full PKI Request) is not supported; use simpleenroll "
		    "or simplereenroll" : "not implemented yet", NULL);
		answer_error(&h, ESTCA_WEB_ERR_NOT_IMPL);
		goto out;
	}

	estca_db_new_request(ctx->db);
	r = estca_db_alias(ctx->db, h.route.alias, &h.alias, h.detail,
	    sizeof(h.detail));
	if (r == ESTCA_ERR_NOT_FOUND) {
		char why[sizeof(h.reason)];

		snprintf(why, sizeof(why), "unknown alias \"%s\"", h.route.alias);
		h.detail[0] = 0;
		estca_http_fail(&h, r, why, NULL);
		answer_error(&h, r);
		goto out;
	}
	if (r != 0) {
		estca_http_fail(&h, r, r == ESTCA_ERR_UNAVAILABLE ?
		    "database temporarily unavailable" : NULL, NULL);
		answer_error(&h, r);
		goto out;
	}

	r = fn(ctx, &h);
	/* Every path ends its transaction; one left open would be a bug, and
	 * must not carry into the next request. */
	if (estca_db_in_transaction(ctx->db)) {
		log_err("%s %s: a transaction was left open; rolled back",
		    h.method, h.logpath);
		estca_db_rollback(ctx->db);
	}
	if (r == 0) {
		log_debug("%s %s: %d", h.method, h.logpath, h.status);
		goto out;
	}
	if (h.status != 0) {
		/* The reply had started: nothing sensible can follow it. */
		log_info("%s %s: client went away while answering", h.method,
		    h.logpath);
		goto out;
	}
	answer_error(&h, r);
out:
	estca_buf_free(&h.body);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "check-config", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct estca_ctx ctx;
	FCGX_Request req;
	const char *path = getenv(CONF_ENV);
	char err[512];
	int ch, check_only = 0, r, wiping;

	/* before anything of OpenSSL's is allocated */
	wiping = CRYPTO_set_mem_functions(wipe_malloc, wipe_realloc, wipe_free);
	memset(&ctx, 0, sizeof(ctx));
	while ((ch = getopt_long(argc, argv, "f:nh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			path = optarg;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'C':
			check_only = 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (path == NULL || path[0] == 0)
		path = DEFAULT_CONF;

	estca_log_init("estca-fcgi", 0, ESTCA_LOG_INFO);
	if (load_conf(path, &ctx.conf, err, sizeof(err)) != 0) {
		fprintf(stderr, "estca-fcgi: %s\n", err);
		return 1;
	}
	if (check_only == 1) {
		printf("estca-fcgi: %s: configuration OK\n", path);
		estca_conf_free(&ctx.conf.raw);
		return 0;
	}
	if (check_only == 2) {
		r = estca_fcgi_check(&ctx.conf) == 0 ? 0 : 1;
		estca_conf_free(&ctx.conf.raw);
		return r;
	}
	estca_log_init("estca-fcgi", 0, ctx.conf.log_level);
	if (!wiping) {
		log_err("cannot install the wiping allocator");
		r = 1;
		goto out;
	}
	if (no_core_dumps() != 0) {
		log_err("cannot disable core dumps: %s", strerror(errno));
		r = 1;
		goto out;
	}

	/* A web server or engine that hangs up must not kill the worker. */
	signal(SIGPIPE, SIG_IGN);

	if (FCGX_Init() != 0) {
		log_err("cannot initialise libfcgi");
		r = 1;
		goto out;
	}
	if (FCGX_IsCGI()) {
		log_err("standard input is not a FastCGI listen socket "
		    "(start me from the web server; -n checks the configuration)");
		r = 1;
		goto out;
	}
	if (estca_engine_open(ctx.conf.engine_socket, ctx.conf.engine_timeout_ms,
	    &ctx.engine) != 0 ||
	    estca_db_open(ctx.conf.pg_conninfo, &ctx.db) != 0) {
		log_err("cannot set up engine or database handles");
		r = 1;
		goto out;
	}
	if (FCGX_InitRequest(&req, 0, 0) != 0) {
		log_err("cannot initialise the FastCGI request");
		r = 1;
		goto out;
	}
	log_info("ready (engine %s, config %s)", ctx.conf.engine_socket, path);
	while (FCGX_Accept_r(&req) >= 0) {
		handle(&ctx, &req);
		FCGX_Finish_r(&req);
	}
	/* The web server closed the listen socket or told us to stop. */
	log_info("accept loop ended; exiting");
	FCGX_Free(&req, 1);
	r = 0;
out:
	estca_db_close(ctx.db);
	estca_engine_close(ctx.engine);
	estca_conf_free(&ctx.conf.raw);
	return r;
}
