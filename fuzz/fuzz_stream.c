/* Fuzz target: the token stream reader (lib/stream.c) on arbitrary bytes,
 * in both modes: filling whole requests (97 tokens at a time, as gpt-train
 * reads) and live (7 at a time, as tok-decode reads).  Whatever the input,
 * the reader returns tokens below the vocabulary or a clean error; it never
 * reads out of bounds or loops. */
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static void read_all(const uint8_t *data, size_t size, int live)
{
	int fds[2];
	if (pipe(fds))
		return;
	/* a pipe holds 64 KiB, so the whole input fits before we read */
	if (write(fds[1], data, size) != (ssize_t)size) {
		close(fds[0]);
		close(fds[1]);
		return;
	}
	close(fds[1]);
	TokenReader r;
	Error e;
	if (stream_open_fd(&r, fds[0], "fuzz", &e) == 0) {
		stream_set_limit(&r, 50257, "gpt2");
		r.live = live;
		uint32_t buf[97];
		size_t want = live ? 7 : 97;
		long long n;
		while ((n = stream_read(&r, buf, want, &e)) > 0)
			for (long long i = 0; i < n; i++)
				if (buf[i] >= 50257)
					abort();
		stream_close(&r);
	}
	close(fds[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	read_all(data, size, 0);
	read_all(data, size, 1);
	return 0;
}
