/* gcm's request: the Chat Completions body that asks for a commit message.
 * A system message states the task and that the diff is data, not
 * instructions; the diff goes alone in the user message, between tags it
 * cannot contain. */
#ifndef GCM_REQUEST_H
#define GCM_REQUEST_H

#include <stddef.h>
#include "err.h"

enum { GCM_STYLE_PLAIN, GCM_STYLE_CONVENTIONAL };

typedef struct {
	const char *model;
	int style;                 /* GCM_STYLE_* */
	int body;                  /* subject, blank line, short body */
	const char *instruction;   /* replaces the built-in instruction (--prompt); NULL = built in */
	double temperature;        /* < 0: not sent (the server's default) */
	int max_tokens;
	int max_completion_tokens; /* send max_completion_tokens instead of max_tokens */
	int stream;
} GcmRequestOpts;

/* The JSON body (malloc'd, NUL-terminated).  Invalid UTF-8 in the diff
 * becomes U+FFFD: JSON carries only Unicode text. */
char *gcm_request_json(const GcmRequestOpts *o, const char *diff, size_t len, Error *e);

/* The tag that delimits the diff: "diff", or "diff-N" when the diff holds
 * "</diff>" (so a diff cannot close its own block). */
void gcm_diff_tag(const char *diff, size_t len, char *tag, size_t cap);

/* Copy of s[0..n) with invalid UTF-8 replaced by U+FFFD; *outlen its length. */
char *gcm_utf8_clean(const char *s, size_t n, size_t *outlen);

#endif
