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
	/* one event, one line: a reason never spans lines, and no control
	 * character (terminal escapes) reaches the log */
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
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

/* The escaped form of c into e (1, 2 or 4 characters); returns its length. */
static size_t
escape_byte(unsigned char c, char e[4])
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		e[0] = '\\';
		e[1] = (char)c;
		return 2;
	}
	if (c >= 0x20 && c < 0x7f) {
		e[0] = (char)c;
		return 1;
	}
	e[0] = '\\';
	e[1] = 'x';
	e[2] = hex[c >> 4];
	e[3] = hex[c & 15];
	return 4;
}

char *
estca_log_escape(char *dst, size_t dstlen, const void *src, size_t n)
{
	const unsigned char *s = src;
	size_t o = 0, total = 0, room;
	char e[4];

	if (dstlen < 4) {
		if (dstlen > 0)
			dst[0] = 0;
		return dst;
	}
	for (size_t i = 0; i < n && total < dstlen; i++)
		total += escape_byte(s[i], e);
	/* all of it, or what fits before "..." */
	room = total < dstlen ? dstlen - 1 : dstlen - 4;
	for (size_t i = 0; i < n; i++) {
		size_t k = escape_byte(s[i], e);

		if (o + k > room)
			break;
		memcpy(dst + o, e, k);
		o += k;
	}
	if (total >= dstlen) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = 0;
	return dst;
}
