/*
 * log.h - diagnostics of estca's programs: one line per event on stderr
 * (which the rig and web servers send to their log files) or to syslog.
 * Callers must never pass a PIN, an enrollment code or key material.
 */
#ifndef ESTCA_LOG_H
#define ESTCA_LOG_H

#include <stddef.h>

enum estca_log_level { ESTCA_LOG_ERR = 3, ESTCA_LOG_WARN = 4,
	ESTCA_LOG_INFO = 6, ESTCA_LOG_DEBUG = 7 };

/* ident: program name; use_syslog: 1 for syslog, 0 for stderr. */
void estca_log_init(const char *ident, int use_syslog, int level);
void estca_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Log and drain the OpenSSL error queue, prefixed by what failed. */
void estca_log_ssl(int level, const char *what);

/*
 * Escape n bytes of s (NUL bytes included) for one field of a log or
 * audit line, into dst (dstlen bytes, NUL-terminated; dstlen >= 4).
 * Printable ASCII is copied, except that '"' and '\\' become \" and \\;
 * every other byte (controls, newlines, DEL, NUL, bytes above 0x7e)
 * becomes \xNN.  The result is printable ASCII without an unescaped
 * quote.  When it does not fit, it is cut before an escape and ends in
 * "...".  Returns dst.
 */
char *estca_log_escape(char *dst, size_t dstlen, const void *s, size_t n);

#define log_err(...) estca_log(ESTCA_LOG_ERR, __VA_ARGS__)
#define log_warn(...) estca_log(ESTCA_LOG_WARN, __VA_ARGS__)
#define log_info(...) estca_log(ESTCA_LOG_INFO, __VA_ARGS__)
#define log_debug(...) estca_log(ESTCA_LOG_DEBUG, __VA_ARGS__)

#endif
