/* gcm's HTTP client (libcurl): one JSON POST with timeouts, retries with
 * exponential backoff on 429, 500, 502, 503, 504 and connection resets
 * (honouring Retry-After), streaming into the SSE parser, and a -v trace in
 * which the Authorization header and the key never appear. */
#ifndef GCM_HTTP_H
#define GCM_HTTP_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include "err.h"
#include "reply.h"

typedef struct {
	const char *url;
	const char *key;            /* NULL: no Authorization header */
	const char *body;
	size_t body_len;
	long connect_timeout;       /* seconds */
	long timeout;               /* seconds for the whole request */
	int retries;                /* at most this many retries */
	double backoff;             /* first wait in seconds; doubles on each retry */
	double retry_after_max;     /* a longer Retry-After ends the retries */
	FILE *trace;                /* -v: headers both ways, key redacted; NULL: off */
	FILE *diag;                 /* retry notices; NULL: quiet */
	GcmSse *sse;                /* stream: a 200 text/event-stream reply feeds this */
	const volatile int *cancel; /* becomes non-zero to abort (SIGINT) */
} GcmHttpRequest;

typedef struct {
	long status;                /* HTTP status of the last attempt */
	char *body;                 /* its body unless streamed (NUL-terminated) */
	size_t len;
	int streamed;               /* the body went to the SSE parser */
	double retry_after;         /* the last Retry-After in seconds; -1 if none */
	int attempts;
} GcmHttpReply;

/* 0 when an HTTP reply came back (any status: look at rp->status); -1 with
 * a one-line reason on DNS, connection, TLS, timeout or stream failures. */
int gcm_http_post(const GcmHttpRequest *rq, GcmHttpReply *rp, Error *e);
void gcm_http_reply_free(GcmHttpReply *rp);

/* Statuses worth another try. */
int gcm_http_retryable(long status);
/* Retry-After as seconds or an HTTP date (relative to now); -1 if invalid. */
double gcm_retry_after_parse(const char *value, time_t now);
/* Copy line to out with every occurrence of key and any Authorization
 * value replaced by [redacted]. */
void gcm_redact(const char *line, size_t n, const char *key, char *out, size_t cap);

#endif
