/* A progress meter on stderr: shown only when stderr is a terminal (or when
 * forced with --progress), silenced with -q, redrawn at most 10 times a second. */
#ifndef GPTKIT_PROGRESS_H
#define GPTKIT_PROGRESS_H

#include <stdint.h>

enum { PROGRESS_QUIET = -1, PROGRESS_AUTO = 0, PROGRESS_FORCE = 1 };

typedef struct {
	int enabled;
	const char *label;
	uint64_t total;    /* 0 = unknown */
	double t0, last;
	int drawn;
} Progress;

void progress_init(Progress *p, const char *label, uint64_t total, int mode);
/* done: units finished so far; extra: text appended to the line (may be NULL). */
void progress_update(Progress *p, uint64_t done, const char *extra);
/* Final redraw and newline (if anything was drawn). */
void progress_done(Progress *p, uint64_t done, const char *extra);

#endif
