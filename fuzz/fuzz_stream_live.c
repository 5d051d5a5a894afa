/* Fuzz target: the token stream reader (lib/stream.c) in live mode (as
 * tok-decode reads) on arbitrary bytes, seven tokens at a time.
 * Whatever the input, the reader returns tokens below the vocabulary or a
 * clean error; it never reads out of bounds or loops. */
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[2];
	if (size > 1 << 16 || pipe(fds))
		return 0;
	/* a pipe holds 64 KiB, so the whole input fits before we read */
	if (write(fds[1], data, size) != (ssize_t)size) {
		close(fds[0]);
		close(fds[1]);
		return 0;
	}
	close(fds[1]);
	TokenReader r;
	Error e;
	if (stream_open_fd(&r, fds[0], "fuzz", &e) == 0) {
		stream_set_limit(&r, 50257, "gpt2");
		r.live = 1;
		uint32_t buf[7];
		long long n;
		while ((n = stream_read(&r, buf, 7, &e)) > 0)
			for (long long i = 0; i < n; i++)
				if (buf[i] >= 50257)
					abort();
		stream_close(&r);
	}
	close(fds[0]);
	return 0;
}
