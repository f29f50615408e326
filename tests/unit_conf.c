/*
 * unit_conf.c - tests of the configuration reader (lib/conf.h).
 *
 * Each case writes a small file to a temporary directory, loads it and
 * checks values or the "file:line: reason" error.  TAP output.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "conf.h"
#include "tap.h"

static char tmpdir[256];

static int
streq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Write text to tmpdir/name; the path goes to path (PATH_MAX bytes). */
static void
write_file(const char *name, const char *text, char *path)
{
	FILE *f;

	snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF ||
	    fclose(f) != 0) {
		printf("Bail out! cannot write %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void
test_valid(void)
{
	char path[PATH_MAX], err[512] = "";
	struct estca_conf c;
	int r;

	write_file("valid.conf",
	    "# a comment\n"
	    "\n"
	    "socket = /run/estca/signd.sock\n"
	    "  threads=4  \n"
	    "log_level = info # not a comment: values run to the line end\n"
	    "\t# indented comment\n"
	    "[ca root]\n"
	    "key_label = estca-root\n"
	    "chain = /etc/estca/root.pem\n"
	    "[ ca  issuing-1 ]\n"
	    "key_label = estca-issuing\n"
	    "[profile tls-server]\n"
	    "days = 365\r\n", path);
	r = estca_conf_load(path, &c, err, sizeof(err));
	tap_ok(r == 0, "valid file loads (%s)", err);
	if (r != 0)
		return;
	tap_ok(c.n == 7, "7 entries (got %zu)", c.n);
	tap_ok(streq(estca_conf_get(&c, "", "", "socket"), "/run/estca/signd.sock"),
	    "global value");
	tap_ok(streq(estca_conf_get(&c, "", "", "threads"), "4"),
	    "blanks around key and value are removed");
	tap_ok(streq(estca_conf_get(&c, "", "", "log_level"),
	    "info # not a comment: values run to the line end"),
	    "value runs to the end of the line");
	tap_ok(streq(estca_conf_get(&c, "ca", "root", "key_label"), "estca-root"),
	    "[ca root] key_label");
	tap_ok(streq(estca_conf_get(&c, "ca", "issuing-1", "key_label"),
	    "estca-issuing"), "[ca issuing-1] key_label, blanks in header");
	tap_ok(streq(estca_conf_get(&c, "profile", "tls-server", "days"), "365"),
	    "CRLF line end is trimmed");
	tap_ok(estca_conf_get(&c, "", "", "key_label") == NULL,
	    "section keys are not global");
	tap_ok(estca_conf_get(&c, "ca", "root", "days") == NULL,
	    "key of another section is not found");
	tap_ok(estca_conf_get(&c, "ca", "nope", "key_label") == NULL,
	    "unknown section name gives NULL");
	for (size_t i = 0; i < c.n; i++)
		if (strcmp(c.e[i].key, "chain") == 0)
			tap_ok(c.e[i].line == 9, "entry remembers its line (%d)",
			    c.e[i].line);
	estca_conf_free(&c);
	tap_ok(c.e == NULL && c.n == 0, "free empties the struct");
	estca_conf_free(&c);
	tap_ok(1, "free twice is harmless");
}

/* Load text; expect ESTCA_ERR_CONFIG with "<path>:<line>:" and want. */
static void
expect_error(const char *name, const char *text, int line, const char *want)
{
	char path[PATH_MAX], err[512] = "", prefix[PATH_MAX + 32];
	struct estca_conf c;
	int r;

	write_file(name, text, path);
	r = estca_conf_load(path, &c, err, sizeof(err));
	tap_ok(r == ESTCA_ERR_CONFIG, "%s: refused", name);
	snprintf(prefix, sizeof(prefix), "%s:%d:", path, line);
	tap_ok(strncmp(err, prefix, strlen(prefix)) == 0,
	    "%s: error names line %d (%s)", name, line, err);
	tap_ok(strstr(err, want) != NULL, "%s: error says '%s'", name, want);
	tap_ok(c.e == NULL && c.n == 0, "%s: nothing left allocated", name);
	if (r == 0)
		estca_conf_free(&c);
}

static void
test_errors(void)
{
	char path[PATH_MAX], err[512] = "", *big;
	struct estca_conf c;
	size_t biglen = 5000;
	int r;

	expect_error("dup.conf",
	    "a = 1\n"
	    "[ca x]\n"
	    "a = 2\n"
	    "b = 3\n"
	    "# comment\n"
	    "b = 4\n", 6, "twice");
	expect_error("badline.conf",
	    "a = 1\n"
	    "\n"
	    "this line has no equals sign\n", 3, "expected key = value");
	expect_error("badkey.conf", "Upper = 1\n", 1, "bad key name");
	expect_error("emptykey.conf", "x = 1\n = 2\n", 2, "bad key name");
	expect_error("section1.conf", "[ca\n", 1, "section");
	expect_error("section2.conf", "[ca]\n", 1, "section");
	expect_error("section3.conf", "ok = 1\n[ca a b]\n", 2, "section");
	expect_error("section4.conf", "[ca x] trailing\n", 1, "section");

	/* The same key in two sections is fine. */
	write_file("samekey.conf", "a = 0\n[ca x]\na = 1\n[ca y]\na = 2\n", path);
	r = estca_conf_load(path, &c, err, sizeof(err));
	tap_ok(r == 0, "same key in different sections loads (%s)", err);
	if (r == 0) {
		tap_ok(streq(estca_conf_get(&c, "ca", "y", "a"), "2"),
		    "[ca y] a = 2");
		estca_conf_free(&c);
	}

	/* A line longer than the reader's buffer. */
	if ((big = malloc(biglen + 16)) == NULL) {
		printf("Bail out! out of memory\n");
		exit(1);
	}
	memcpy(big, "ok = 1\nk = ", 11);
	memset(big + 11, 'v', biglen);
	memcpy(big + 11 + biglen, "\n", 2);
	write_file("long.conf", big, path);
	free(big);
	r = estca_conf_load(path, &c, err, sizeof(err));
	tap_ok(r == ESTCA_ERR_CONFIG && strstr(err, ":2:") != NULL,
	    "overlong line refused at line 2 (%s)", err);
	if (r == 0)
		estca_conf_free(&c);

	/* Missing file. */
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	r = estca_conf_load(path, &c, err, sizeof(err));
	tap_ok(r == ESTCA_ERR_CONFIG, "missing file refused");
	tap_ok(strstr(err, path) != NULL, "error names the missing file (%s)", err);

	/* Empty file: valid, no entries. */
	write_file("empty.conf", "", path);
	r = estca_conf_load(path, &c, err, sizeof(err));
	tap_ok(r == 0 && c.n == 0, "empty file loads with no entries");
	if (r == 0)
		estca_conf_free(&c);
}

static void
test_long(void)
{
	long v = -12345;

	tap_ok(estca_conf_long("42", 0, 100, &v) == 0 && v == 42, "42 in [0,100]");
	tap_ok(estca_conf_long("0", 0, 100, &v) == 0 && v == 0, "min is allowed");
	tap_ok(estca_conf_long("100", 0, 100, &v) == 0 && v == 100,
	    "max is allowed");
	tap_ok(estca_conf_long("-5", -10, 10, &v) == 0 && v == -5,
	    "negative in range");
	v = 7;
	tap_ok(estca_conf_long("101", 0, 100, &v) == ESTCA_ERR_CONFIG && v == 7,
	    "above max refused, out untouched");
	tap_ok(estca_conf_long("-1", 0, 100, &v) == ESTCA_ERR_CONFIG,
	    "below min refused");
	tap_ok(estca_conf_long("", 0, 100, &v) == ESTCA_ERR_CONFIG,
	    "empty refused");
	tap_ok(estca_conf_long(NULL, 0, 100, &v) == ESTCA_ERR_CONFIG,
	    "NULL refused");
	tap_ok(estca_conf_long("12x", 0, 100, &v) == ESTCA_ERR_CONFIG,
	    "trailing garbage refused");
	tap_ok(estca_conf_long("0x10", 0, 100, &v) == ESTCA_ERR_CONFIG,
	    "hex refused (decimal only)");
	tap_ok(estca_conf_long("99999999999999999999999", LONG_MIN, LONG_MAX, &v) ==
	    ESTCA_ERR_CONFIG, "overflow refused");
	tap_ok(estca_conf_long("9223372036854775807", LONG_MIN, LONG_MAX, &v) == 0 &&
	    v == LONG_MAX, "LONG_MAX accepted");
}

static void
cleanup(void)
{
	static const char *const names[] = {
		"valid.conf", "dup.conf", "badline.conf", "badkey.conf",
		"emptykey.conf", "section1.conf", "section2.conf",
		"section3.conf", "section4.conf", "samekey.conf", "long.conf",
		"empty.conf",
	};
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

/* estca_conf_check() against a key table. */
static void
test_table(void)
{
	static const struct estca_conf_key keys[] = {
		{ "", "socket", 1 },
		{ "", "threads", 0 },
		{ "ca", "key_label", 1 },
		{ "ca", "chain", 0 },
		{ "profile", "*", 0 },
		{ NULL, NULL, 0 },
	};
	static const struct {
		const char *text;
		const char *want;     /* NULL: accepted; else in the error */
	} cases[] = {
		{ "socket = /s\n[ca a]\nkey_label = k\n[profile p]\nanything = 1\n",
		    NULL },
		{ "socket = /s\nthreads = 2\n", NULL },
		{ "socket = /s\nthraeds = 2\n", ":2: unknown key 'thraeds'" },
		{ "socket = /s\n[ca a]\nkey_label = k\nlabel = x\n",
		    ":4: unknown key 'label' in [ca a]" },
		{ "socket = /s\n[cb a]\nkey_label = k\n", ":3: unknown section [cb]" },
		{ "threads = 2\n", ": socket is required" },
		{ "socket =\n", ": socket is required" },
		{ "socket = /s\n[ca a]\nchain = c\n", ": [ca a] needs key_label" },
		{ "socket = /s\n[ca a]\nkey_label = k\n[ca b]\nchain = c\n",
		    ": [ca b] needs key_label" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[PATH_MAX], err[512] = "";
		struct estca_conf c;
		int r;

		write_file("table.conf", cases[i].text, path);
		if (estca_conf_load(path, &c, err, sizeof(err)) != 0) {
			tap_ok(0, "table case %zu loads (%s)", i, err);
			continue;
		}
		r = estca_conf_check(&c, keys, err, sizeof(err));
		if (cases[i].want == NULL)
			tap_ok(r == 0, "table case %zu accepted (%s)", i, err);
		else
			tap_ok(r == ESTCA_ERR_CONFIG && strstr(err, cases[i].want) != NULL,
			    "table case %zu: %s (got: %s)", i, cases[i].want, err);
		estca_conf_free(&c);
	}
}

int
main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/unit_conf.XXXXXX",
	    t != NULL && *t != 0 ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_valid();
	test_errors();
	test_long();
	test_table();
	cleanup();
	return tap_done();
}
