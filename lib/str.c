/*
 * str.c - see str.h.  Owns bounded copies, hex and the '?' filter for
 * untrusted text.  (Escaping for the engine's audit lines, which must
 * keep every byte recoverable, is estca_log_escape() in log.c.)
 */
#include <string.h>
#include "str.h"

int
estca_str_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (dstlen == 0)
		return ESTCA_ERR_TOO_LARGE;
	if (n >= dstlen) {
		dst[0] = 0;
		return ESTCA_ERR_TOO_LARGE;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int
estca_hex(char *dst, size_t dstlen, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";

	if (dstlen == 0)
		return ESTCA_ERR_TOO_LARGE;
	if (n > (dstlen - 1) / 2) {
		dst[0] = 0;
		return ESTCA_ERR_TOO_LARGE;
	}
	for (size_t i = 0; i < n; i++) {
		dst[2 * i] = hex[p[i] >> 4];
		dst[2 * i + 1] = hex[p[i] & 15];
	}
	dst[2 * n] = 0;
	return 0;
}

int
estca_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
estca_serial_text(char *dst, size_t dstlen, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0, i = 0;

	while (i < n && p[i] == 0)
		i++;
	if (dstlen < 2 || (n - i) * 2 + 1 > dstlen) {
		if (dstlen > 0)
			dst[0] = 0;
		return ESTCA_ERR_TOO_LARGE;
	}
	if (i == n) {
		memcpy(dst, "0", 2);
		return 0;
	}
	if (p[i] < 16)                  /* no leading zero digit either */
		dst[o++] = hex[p[i++]];
	for (; i < n; i++) {
		dst[o++] = hex[p[i] >> 4];
		dst[o++] = hex[p[i] & 15];
	}
	dst[o] = 0;
	return 0;
}

void
estca_printable(char *dst, size_t dstlen, const unsigned char *s, size_t n)
{
	size_t i;

	if (dstlen == 0)
		return;
	for (i = 0; i < n && i + 1 < dstlen; i++)
		dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? (char)s[i] : '?';
	dst[i] = 0;
}

void
estca_one_line(char *dst, size_t dstlen, const char *s)
{
	size_t i = 0, n = s != NULL ? strlen(s) : 0;

	if (dstlen == 0)
		return;
	/* library messages end in newlines; they are not part of the line */
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' '))
		n--;
	for (; i < n && i + 1 < dstlen; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = 0;
}
