/*
 * unit_str.c - tests of lib/str.c: bounded copy, hex, one-line text.
 * TAP output.
 */
#include <string.h>
#include "str.h"
#include "tap.h"

int
main(void)
{
	char d[8], h[9];
	const unsigned char bytes[] = { 0x00, 0x7f, 0xa5, 0xff };
	const unsigned char raw[] = { 'a', '\n', 0x01, 0x80, 'b' };

	tap_ok(estca_str_copy(d, sizeof(d), "1234567") == 0 &&
	    strcmp(d, "1234567") == 0, "copy: 7 bytes fit in 8");
	memcpy(d, "xxxxxxx", 8);
	tap_ok(estca_str_copy(d, sizeof(d), "12345678") == ESTCA_ERR_TOO_LARGE &&
	    d[0] == 0, "copy: 8 bytes do not fit in 8, dst emptied");
	tap_ok(estca_str_copy(d, 0, "") == ESTCA_ERR_TOO_LARGE,
	    "copy: no room at all");
	tap_ok(estca_str_copy(d, sizeof(d), "") == 0 && d[0] == 0,
	    "copy: empty string");
	tap_ok(estca_hex(h, sizeof(h), bytes, 4) == 0 &&
	    strcmp(h, "007fa5ff") == 0, "hex: lower case, leading zeros kept");
	tap_ok(estca_hex(h, 8, bytes, 4) == ESTCA_ERR_TOO_LARGE && h[0] == 0,
	    "hex: no room for the NUL");
	tap_ok(estca_hex(h, sizeof(h), bytes, 0) == 0 && h[0] == 0,
	    "hex: nothing");
	tap_ok(estca_hexval('0') == 0 && estca_hexval('9') == 9 &&
	    estca_hexval('a') == 10 && estca_hexval('F') == 15 &&
	    estca_hexval('g') == -1 && estca_hexval('/') == -1 &&
	    estca_hexval(0) == -1, "hexval: digits of either case, -1 else");
	estca_one_line(d, sizeof(d), "ab\tc\n\r ");
	tap_ok(strcmp(d, "ab?c") == 0, "one line: tab shown, trailing newline dropped");
	estca_one_line(d, sizeof(d), "0123456789");
	tap_ok(strcmp(d, "0123456") == 0, "one line: cut at the buffer");
	estca_one_line(d, sizeof(d), NULL);
	tap_ok(d[0] == 0, "one line: NULL is empty");
	estca_printable(d, sizeof(d), raw, sizeof(raw));
	tap_ok(strcmp(d, "a???b") == 0, "printable: controls and high bytes shown as ?");
	{
		const unsigned char s1[] = { 0x00, 0x00, 0x0a, 0xbc };
		const unsigned char s2[] = { 0x7f, 0x01 };
		const unsigned char s0[] = { 0x00, 0x00 };
		char sn[8];

		tap_ok(estca_serial_text(sn, sizeof(sn), s1, 4) == 0 &&
		    strcmp(sn, "ABC") == 0, "serial: leading zero bytes and digit dropped");
		tap_ok(estca_serial_text(sn, sizeof(sn), s2, 2) == 0 &&
		    strcmp(sn, "7F01") == 0, "serial: upper case");
		tap_ok(estca_serial_text(sn, sizeof(sn), s0, 2) == 0 &&
		    strcmp(sn, "0") == 0, "serial: zero is 0");
		tap_ok(estca_serial_text(sn, 4, s2, 2) == ESTCA_ERR_TOO_LARGE &&
		    sn[0] == 0, "serial: no room");
	}
	return tap_done();
}
