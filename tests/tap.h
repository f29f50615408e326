/*
 * tap.h - the one TAP (Test Anything Protocol) helper of the C unit
 * tests: tap_ok() prints "ok N - what" or "not ok N - what" (control
 * characters in what shown as '?', so one check is one line), tap_done()
 * prints the plan and gives main's exit status.  Include it in one .c
 * file per test program; its counters are that program's.
 */
#ifndef ESTCA_TAP_H
#define ESTCA_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_run, tap_failed;

static void tap_ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One check: cond true passes.  Returns nothing; the count is kept. */
static void
tap_ok(int cond, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	for (char *p = what; *p != 0; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	tap_run++;
	if (!cond)
		tap_failed++;
	printf("%s %d - %s\n", cond ? "ok" : "not ok", tap_run, what);
}

/* The plan line; 0 when every check passed, else 1. */
static int
tap_done(void)
{
	printf("1..%d\n", tap_run);
	return tap_failed != 0;
}

#endif
