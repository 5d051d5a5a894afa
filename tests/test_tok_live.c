/* The live mode of the token stream reader (lib/stream.c, TokenReader.live),
 * which tok-decode uses to show tokens as they arrive: stream_read hands
 * over the tokens at hand instead of waiting for more, holds back only a
 * token that could start a concatenated header, and still finds headers. */
#include "stream.h"
#include "tap.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void put16(int fd, uint32_t v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	if (write(fd, b, 2) != 2)
		abort();
}

int main(void)
{
	alarm(20); /* a read that blocks fails the test instead of hanging it */
	int fds[2];
	if (pipe(fds))
		return 1;
	uint8_t hdr[STREAM_HEADER_BYTES];
	/* n_vocab 0: the magic's low half is a valid token value */
	stream_make_header(hdr, 0, -1, "", 0);
	if (write(fds[1], hdr, sizeof hdr) != (ssize_t)sizeof hdr)
		return 1;
	put16(fds[1], 1);
	put16(fds[1], 2);
	put16(fds[1], 3);
	TokenReader r;
	Error e;
	CHECK(stream_open_fd(&r, fds[0], "pipe", &e) == 0, "live-open");
	r.live = 1;
	uint32_t out[64];
	long long n = stream_read(&r, out, 64, &e);
	CHECK(n == 3 && out[0] == 1 && out[2] == 3, "live-returns-tokens-at-hand");
	/* a token that could start a header waits for the bytes that decide */
	put16(fds[1], STREAM_MAGIC16 & 0xffff);
	put16(fds[1], 7);
	put16(fds[1], 8);
	/* ... a whole second stream follows: the reader must see its header */
	stream_make_header(hdr, 0, -1, "", 0);
	if (write(fds[1], hdr, sizeof hdr) != (ssize_t)sizeof hdr)
		return 1;
	put16(fds[1], 9);
	n = stream_read(&r, out, 64, &e);
	CHECK(n == 4 && out[0] == (STREAM_MAGIC16 & 0xffff) && out[1] == 7 && out[2] == 8 && out[3] == 9,
	      "live-magic-like-token-and-concatenated-header");
	/* at the end of input a magic-like token is a token */
	put16(fds[1], STREAM_MAGIC16 & 0xffff);
	put16(fds[1], 5);
	close(fds[1]);
	n = stream_read(&r, out, 64, &e);
	CHECK(n == 2 && out[0] == (STREAM_MAGIC16 & 0xffff) && out[1] == 5, "live-magic-like-token-at-end");
	n = stream_read(&r, out, 64, &e);
	CHECK(n == 0, "live-end");
	stream_close(&r);
	return test_done();
}
