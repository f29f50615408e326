/*
 * fuzz_conf.c - estca_conf_load() and estca_conf_check() on an arbitrary
 * configuration file.  estca_conf_load() takes a path, so the input is
 * written to a memory file (memfd, made once) and read through
 * /proc/self/fd/N: no disk, nothing to clean up.
 *
 * Invariants: every entry has a valid key, no key twice in one section,
 * estca_conf_get() finds each entry's own value, line numbers increase;
 * on failure the error names the file and the struct is empty.  The
 * check runs against a table shaped like estca-fcgi's and estca-signd's.
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include "fuzz.h"
#include "conf.h"

static const struct estca_conf_key keys[] = {
	{ "", "database", 1 },
	{ "", "engine_socket", 0 },
	{ "", "log_level", 0 },
	{ "ca", "key_label", 1 },
	{ "ca", "cert", 0 },
	{ "profile", "*", 0 },
	{ NULL, NULL, 0 },
};

static int fd = -1;
static char path[64];

static int
key_ok(const char *k)
{
	if (*k == 0)
		return 0;
	for (; *k; k++)
		if (!((*k >= 'a' && *k <= 'z') || (*k >= '0' && *k <= '9') ||
		    *k == '_' || *k == '.' || *k == '-'))
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct estca_conf c;
	char err[512];
	long v;
	int r;

	if (size > 256 * 1024)
		return 0;
	if (fd < 0) {
		FUZZ_CHECK((fd = memfd_create("estca-fuzz-conf", 0)) >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size);

	err[0] = 0;
	r = estca_conf_load(path, &c, err, sizeof(err));
	if (r != 0) {
		FUZZ_CHECK(r == ESTCA_ERR_CONFIG || r == ESTCA_ERR_NOMEM);
		FUZZ_CHECK(strncmp(err, path, strlen(path)) == 0);
		FUZZ_CHECK(c.e == NULL && c.n == 0);
		return 0;
	}
	for (size_t i = 0; i < c.n; i++) {
		const struct estca_conf_entry *e = &c.e[i];

		FUZZ_CHECK(key_ok(e->key));
		FUZZ_CHECK(e->section[0] == 0 || key_ok(e->section));
		FUZZ_CHECK(estca_conf_get(&c, e->section, e->name, e->key) ==
		    e->value);
		FUZZ_CHECK(i == 0 || e->line > c.e[i - 1].line);
		/* values are trimmed and one line */
		FUZZ_CHECK(strchr(e->value, '\n') == NULL);
		(void)estca_conf_long(e->value, 0, 1000, &v);
	}
	err[0] = 0;
	r = estca_conf_check(&c, keys, err, sizeof(err));
	FUZZ_CHECK(r == 0 || (r == ESTCA_ERR_CONFIG && err[0] != 0));
	if (r == 0)
		FUZZ_CHECK(estca_conf_get(&c, "", "", "database") != NULL);
	estca_conf_free(&c);
	FUZZ_CHECK(c.e == NULL && c.n == 0);
	return 0;
}
