/*
 * fuzz_reader.c - the engine's frame reader (estca_reader_next,
 * estca_reader_fill, estca_reader_has_frame) on a byte stream arriving
 * through a socketpair whose writer then closes.
 *
 * The first input byte chooses the frame cap (64 KB or 300 bytes) and
 * whether frames are taken by estca_reader_next() alone or by
 * estca_reader_fill() + estca_reader_has_frame() as the engine's
 * connection loop does; the rest is the stream (at most 64 KB, which a
 * socketpair takes without blocking).
 *
 * Invariants: frames come out in order, each exactly the bytes after its
 * 4-byte header, none empty or above the cap; the stream ends with EOF
 * exactly when every byte was handed out, otherwise with the header
 * error or a truncated frame.  Each frame is also given to the message
 * decoders, which must not crash.
 */
#include <stdint.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>
#include "fuzz.h"
#include "wire.h"

#define STREAM_MAX (64 * 1024)

static size_t
be32(const unsigned char *p)
{
	return ((size_t)p[0] << 24) | ((size_t)p[1] << 16) | ((size_t)p[2] << 8) | p[3];
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct estca_reader rd;
	const unsigned char *p;
	size_t n, off = 0, max;
	int sv[2], eof = 0, r, sel, frames = 0;

	if (size < 1 || size - 1 > STREAM_MAX)
		return 0;
	sel = data[0];
	data++;
	size--;
	max = (sel & 1) ? ESTCA_WIRE_MAX_REQUEST : 300;
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	{
		int sz = 4 * STREAM_MAX;

		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}
	if (size > 0)
		FUZZ_CHECK(send(sv[0], data, size, MSG_DONTWAIT) == (ssize_t)size);
	close(sv[0]);
	estca_reader_init(&rd, max, (sel & 4) != 0);

	for (;;) {
		if (sel & 2) {
			/* the engine's way: fill, then take what is buffered */
			if (!estca_reader_has_frame(&rd)) {
				r = estca_reader_fill(&rd, sv[1], max, &eof);
				if (r != 0)
					break;
				continue;
			}
		}
		r = estca_reader_next(&rd, sv[1], -1, max, 0, 0, &p, &n, &eof);
		if (r != 0)
			break;
		FUZZ_CHECK(n >= 1 && n <= max);
		FUZZ_CHECK(off + 4 + n <= size);
		FUZZ_CHECK(be32(data + off) == n);
		FUZZ_CHECK(memcmp(p, data + off + 4, n) == 0);
		off += 4 + n;
		frames++;
		if (frames % 2 == 1) {
			ESTCA_REQ *req;

			if (estca_wire_req_decode(p, n, &req) == 0)
				ESTCA_REQ_free(req);
		} else {
			ESTCA_REPLY *rep;

			if (estca_wire_reply_decode(p, n, &rep) == 0)
				ESTCA_REPLY_free(rep);
		}
	}
	if (eof) {
		FUZZ_CHECK(r == ESTCA_ERR_IO && off == size);
	} else if (r == ESTCA_ERR_MALFORMED || r == ESTCA_ERR_TOO_LARGE) {
		FUZZ_CHECK(size - off >= 4);
		n = be32(data + off);
		FUZZ_CHECK(r == ESTCA_ERR_MALFORMED ? n == 0 : n > max);
	} else {
		/* the peer closed inside a frame */
		FUZZ_CHECK(r == ESTCA_ERR_IO && off < size);
	}
	estca_reader_free(&rd);
	close(sv[1]);
	return 0;
}
