/* gcm's client: from a staged diff to a commit message.  Cuts the diff to
 * its token budget, sends the request, and handles what servers answer:
 * max_tokens refused (ask again with max_completion_tokens), the context
 * window exceeded (ask once more with half the diff), an empty message (ask
 * once more), and one-line errors for everything else.  Asking again later
 * (regenerate) reuses what it learnt. */
#ifndef GCM_CLIENT_H
#define GCM_CLIENT_H

#include <stdio.h>
#include "diff.h"
#include "err.h"
#include "http.h"
#include "request.h"
#include "tokens.h"

typedef struct {
	/* settings */
	const char *base;            /* API base URL, no trailing slash */
	const char *key;             /* NULL: none */
	const char *key_source;      /* for the 401 message */
	GcmRequestOpts req;
	size_t max_diff_tokens;
	const GcmTokens *tokens;
	long connect_timeout, timeout;
	int retries;
	double backoff, retry_after_max;
	FILE *trace;                 /* -v */
	FILE *diag;                  /* notes: what was left out, retries */
	FILE *show;                  /* --stream on a terminal: deltas shown here; NULL: not shown */
	const volatile int *cancel;
	const char *diff;
	size_t diff_len;
	/* state */
	GcmTrimmed cut;              /* the diff as sent */
	int context_retried;
} GcmClient;

/* A commit message (malloc'd, cleaned, non-empty) or -1 with a reason. */
int gcm_client_generate(GcmClient *c, char **msg, Error *e);
void gcm_client_free(GcmClient *c);

#endif
