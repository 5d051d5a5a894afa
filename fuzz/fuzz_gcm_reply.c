/* Fuzz target: gcm's reply parser (gcm/reply.c) on arbitrary bytes, as a
 * JSON reply, an error body and a server-sent event stream, and the
 * cleanup of whatever content comes out.  Checks, beyond memory safety:
 * an event stream parses the same whole and in pieces, and a cleaned
 * message holds no control characters (and no newline in one-line mode). */
#include "reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_clean(const char *content)
{
	for (int body = 0; body < 2; body++) {
		char *m = gcm_clean_message(content, body);
		if (!m)
			continue;
		for (const unsigned char *p = (const unsigned char *)m; *p; p++)
			if ((*p < 0x20 && *p != '\n') || *p == 0x7f || (!body && *p == '\n'))
				abort();
		if (strlen(m) > strlen(content) + 1)
			abort();
		gcm_subject_width(m);
		free(m);
	}
}

static int sse(const uint8_t *data, size_t size, size_t step, char **content)
{
	GcmSse s;
	Error e;
	gcm_sse_init(&s, NULL, NULL);
	int rc = 0;
	for (size_t i = 0; i < size && rc == 0; i += step)
		rc = gcm_sse_feed(&s, (const char *)data + i, i + step <= size ? step : size - i, &e);
	if (rc == 0)
		rc = gcm_sse_finish(&s, &e);
	*content = rc == 0 ? strdup(s.content) : NULL;
	gcm_sse_free(&s);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 1 << 16)
		return 0;
	GcmReply r;
	Error e;
	if (gcm_reply_parse((const char *)data, size, &r, &e) == 0) {
		check_clean(r.content);
		gcm_reply_free(&r);
	}
	GcmApiError ae;
	gcm_api_error_parse((const char *)data, size, &ae);
	gcm_api_error_is_context(&ae);
	gcm_api_error_is_max_tokens(&ae);

	char *whole, *pieces;
	size_t step = size ? 1 + data[0] % 7 : 1;
	int a = sse(data, size, size ? size : 1, &whole);
	int b = sse(data, size, step, &pieces);
	if (a != b || (a == 0 && strcmp(whole, pieces) != 0))
		abort();
	if (whole)
		check_clean(whole);
	free(whole);
	free(pieces);

	char *text = malloc(size + 1);
	if (text) {
		memcpy(text, data, size);
		text[size] = 0;
		check_clean(text);
		free(text);
	}
	return 0;
}
