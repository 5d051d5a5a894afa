/* gcm's reply parser: Chat Completions replies as one JSON body or as
 * server-sent events, the error bodies servers send back, and the cleanup
 * that turns model output into a commit message.  No I/O: bytes in, strings
 * out, so every function here can be fed anything (see fuzz/fuzz_gcm_reply.c). */
#ifndef GCM_REPLY_H
#define GCM_REPLY_H

#include <stddef.h>
#include "err.h"

/* The useful part of a successful reply. */
typedef struct {
	char *content;     /* malloc'd; "" when the server sent null or nothing */
	char finish[32];   /* finish_reason, "" when absent */
} GcmReply;

/* Parse a non-streaming reply: {"choices":[{"message":{"content":...}}]}.
 * Content may be a string, null, or an array of {"type":"text","text":...}
 * parts.  Anything else is "the reply is not the expected JSON: why". */
int gcm_reply_parse(const char *body, size_t len, GcmReply *r, Error *e);
void gcm_reply_free(GcmReply *r);

/* An error body: {"error":{"message","type","code","param"}}, {"error":"..."},
 * {"message":...}, or plain text.  Fields are cut to fit and never NULL. */
typedef struct {
	char message[400];
	char type[64];
	char code[64];
	char param[64];
} GcmApiError;

void gcm_api_error_parse(const char *body, size_t len, GcmApiError *ae);
/* The prompt did not fit the model's context window. */
int gcm_api_error_is_context(const GcmApiError *ae);
/* The server wants max_completion_tokens instead of max_tokens. */
int gcm_api_error_is_max_tokens(const GcmApiError *ae);

/* Incremental server-sent events parser for a streamed reply.  Feed it the
 * bytes as they come, in pieces of any size; each content delta goes to
 * on_delta (may be NULL) and onto the accumulated content. */
typedef struct {
	char *line;  size_t line_len, line_cap;    /* the partial line */
	char *data;  size_t data_len, data_cap;    /* data: lines of this event */
	char *content; size_t content_len, content_cap;
	char finish[32];
	int has_data;     /* this event has a data field */
	int last_cr;      /* the previous byte was CR (CRLF may span feeds) */
	int done;         /* saw data: [DONE] */
	int events;       /* data events parsed */
	int failed;       /* an error event arrived: see error */
	GcmApiError error;
	void (*on_delta)(void *ctx, const char *s, size_t n);
	void *ctx;
} GcmSse;

void gcm_sse_init(GcmSse *s, void (*on_delta)(void *, const char *, size_t), void *ctx);
/* -1 with a reason on a malformed event, an oversized line, or no memory. */
int gcm_sse_feed(GcmSse *s, const char *buf, size_t n, Error *e);
/* End of stream: dispatches a last unterminated event; -1 if the stream held
 * no events at all or an error event.  The content is s->content. */
int gcm_sse_finish(GcmSse *s, Error *e);
void gcm_sse_free(GcmSse *s);

/* Turn model output into a commit message: drop <think>...</think> (and a
 * reasoning preamble ended by a lone </think>), code fence lines, control
 * characters, and quotes or backticks around the subject; then keep the first
 * non-empty line, or with body != 0 that line, a blank line and the rest.
 * Returns a malloc'd string, "" when nothing is left, NULL only without memory. */
char *gcm_clean_message(const char *content, int body);

/* Characters (not bytes) in the first line of a UTF-8 message. */
size_t gcm_subject_width(const char *msg);

#endif
