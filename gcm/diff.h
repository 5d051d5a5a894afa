/* gcm's diff handling: split a unified diff (git diff --cached) into files,
 * headers and hunk lines, and cut it to a token budget: first the bodies of
 * lock files, minified files and binary patches, then the largest files'
 * hunks, keeping every file's header and a --stat style list of what went. */
#ifndef GCM_DIFF_H
#define GCM_DIFF_H

#include <stddef.h>
#include "err.h"

/* Counts the tokens of s[0..n). */
typedef size_t (*GcmCountFn)(void *ctx, const char *s, size_t n);

typedef struct {
	char *text;        /* the diff to send (NUL-terminated) */
	size_t len;
	size_t tokens;     /* tokens in text */
	size_t tokens_in;  /* tokens in the whole diff */
	char *left_out;    /* lines " path | what", NULL when nothing was cut */
} GcmTrimmed;

int gcm_diff_trim(const char *diff, size_t len, size_t budget, GcmCountFn count, void *ctx,
		  GcmTrimmed *out, Error *e);
void gcm_trimmed_free(GcmTrimmed *t);

/* A dependency lock file by name (package-lock.json, Cargo.lock, go.sum...). */
int gcm_is_lock_file(const char *path);
/* A minified or generated bundle by name (*.min.js, *.map, ...). */
int gcm_is_minified_name(const char *path);

/* Track the current file's path through a diff's header lines: "diff --git
 * a/X b/Y" and "+++ b/Y" set it (quotes and the b/ prefix removed, /dev/null
 * ignored).  Returns 1 when line was such a header line. */
int gcm_diff_path_line(const char *line, size_t n, char *path, size_t cap);

#endif
