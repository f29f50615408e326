/*
 * fuzz.h - what the libFuzzer harnesses of fuzz/ share: an assertion
 * that survives NDEBUG and says which invariant broke, and splitting one
 * input into NUL-separated strings.
 *
 * Each harness feeds one decoder of the project and checks what is cheap
 * to check about its answer (a round trip, a bound, a re-encoding).  A
 * harness must never leak: LeakSanitizer runs after every input.
 */
#ifndef ESTCA_FUZZ_H
#define ESTCA_FUZZ_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond) do {                                           \
	if (!(cond)) {                                                  \
		fprintf(stderr, "%s:%d: invariant broken: %s\n",        \
		    __FILE__, __LINE__, #cond);                         \
		abort();                                                \
	}                                                               \
} while (0)

/*
 * Split data[0..size) at NUL bytes into at most max strings, each a
 * NUL-terminated copy in one allocation the caller frees (*mem).  Strings
 * past the input's end are NULL.  Returns how many there are.
 */
static inline size_t
fuzz_split(const unsigned char *data, size_t size, char **out, size_t max,
    char **mem)
{
	char *m = malloc(size + 1);
	size_t n = 0, start = 0;

	*mem = m;
	for (size_t i = 0; i < max; i++)
		out[i] = NULL;
	if (m == NULL)
		return 0;
	memcpy(m, data, size);
	m[size] = 0;
	for (size_t i = 0; i <= size && n < max; i++) {
		if (i == size || m[i] == 0) {
			out[n++] = m + start;
			start = i + 1;
		}
	}
	return n;
}

#endif
