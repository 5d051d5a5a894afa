/* Fuzz target: gcm's diff handling (gcm/diff.c, gcm/secrets.c) on
 * arbitrary bytes: cutting to a budget never goes over it (one token per
 * byte here) and the secret scan stays in bounds. */
#include "diff.h"
#include "secrets.h"

#include <stdint.h>
#include <stdlib.h>

static size_t bytes(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size > 1 << 16)
		return 0;
	size_t budget = (size_t)data[0] * 8;
	const char *diff = (const char *)data + 1;
	size_t len = size - 1;
	GcmTrimmed t;
	Error e;
	if (gcm_diff_trim(diff, len, budget, bytes, NULL, &t, &e) == 0) {
		if (t.tokens > budget || t.len != t.tokens || t.tokens_in != len)
			abort();
		gcm_trimmed_free(&t);
	}
	GcmSecret hits[4];
	size_t n = gcm_secrets_scan(diff, len, hits, 4);
	for (size_t i = 0; i < n && i < 4; i++)
		if (!hits[i].what)
			abort();
	return 0;
}
