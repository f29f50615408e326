/*
 * log.c - see log.h.  The only process-wide state here is set once by
 * estca_log_init() before any thread starts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include "log.h"

static const char *log_ident = "estca";
static int log_syslog;
static int log_level = ESTCA_LOG_INFO;

void
estca_log_init(const char *ident, int use_syslog, int level)
{
	log_ident = ident;
	log_syslog = use_syslog;
	log_level = level;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

static const char *
level_name(int level)
{
	switch (level) {
	case ESTCA_LOG_ERR: return "error";
	case ESTCA_LOG_WARN: return "warning";
	case ESTCA_LOG_INFO: return "info";
	default: return "debug";
	}
}

void
estca_log(int level, const char *fmt, ...)
{
	char msg[2048], ts[32];
	va_list ap;
	struct tm tm;
	time_t now;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* one event, one line: a reason never spans lines */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	if (log_syslog) {
		syslog(level, "%s", msg);
		return;
	}
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "%s %s[%ld] %s: %s\n", ts, log_ident, (long)getpid(),
	    level_name(level), msg);
	fflush(stderr);
}

void
estca_log_ssl(int level, const char *what)
{
	unsigned long e;
	char buf[256];
	int any = 0;

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		estca_log(level, "%s: %s", what, buf);
		any = 1;
	}
	if (!any)
		estca_log(level, "%s", what);
}
