/* Reply parsing: JSON bodies, server-sent events, error bodies, cleanup. */
#include "reply.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A streamed line or a reply body larger than this is not a commit message. */
#define SSE_LINE_MAX (8u << 20)

static void copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = 0;
}

/* ------------------------------------------------------------------------ */
/* Content of one choice: a string, null, or an array of text parts. */

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t nc = *cap ? *cap : 256;
		while (nc < *len + n + 1)
			nc *= 2;
		char *nb = realloc(*buf, nc);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = 0;
	return 0;
}

/* Append the text of a content value; -1 if it has the wrong shape. */
static int content_text(json_t *c, char **buf, size_t *len, size_t *cap)
{
	if (!c || json_is_null(c))
		return 0;
	if (json_is_string(c))
		return append(buf, len, cap, json_string_value(c), json_string_length(c));
	if (!json_is_array(c))
		return -1;
	size_t i;
	json_t *part;
	json_array_foreach(c, i, part) {
		json_t *t = json_object_get(part, "text");
		if (json_is_string(t) && append(buf, len, cap, json_string_value(t), json_string_length(t)))
			return -1;
	}
	return 0;
}

static void finish_reason(json_t *choice, char *dst, size_t cap)
{
	json_t *f = json_object_get(choice, "finish_reason");
	if (json_is_string(f))
		copy_field(dst, cap, json_string_value(f));
}

int gcm_reply_parse(const char *body, size_t len, GcmReply *r, Error *e)
{
	memset(r, 0, sizeof *r);
	json_error_t je;
	json_t *root = json_loadb(body, len, 0, &je);
	if (!root)
		return err_set(e, "the reply is not the expected JSON: %s at byte %d", je.text, je.position);
	int rc = -1;
	json_t *choices = json_object_get(root, "choices");
	json_t *choice = json_array_get(choices, 0);
	json_t *msg = json_object_get(choice, "message");
	if (!json_is_object(root) || !json_is_array(choices)) {
		err_set(e, "the reply is not the expected JSON: no \"choices\" array");
		goto out;
	}
	if (!json_is_object(choice) || !json_is_object(msg)) {
		err_set(e, "the reply is not the expected JSON: no choices[0].message object");
		goto out;
	}
	size_t n = 0, cap = 0;
	if (content_text(json_object_get(msg, "content"), &r->content, &n, &cap)) {
		free(r->content);
		r->content = NULL;
		err_set(e, "the reply is not the expected JSON: choices[0].message.content is not text");
		goto out;
	}
	if (!r->content && !(r->content = strdup(""))) {
		err_set(e, "out of memory");
		goto out;
	}
	finish_reason(choice, r->finish, sizeof r->finish);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void gcm_reply_free(GcmReply *r)
{
	free(r->content);
	r->content = NULL;
}

/* ------------------------------------------------------------------------ */
/* Error bodies. */

static void error_from_json(json_t *root, GcmApiError *ae)
{
	json_t *err = json_object_get(root, "error");
	json_t *obj = json_is_object(err) ? err : root;
	json_t *m = json_object_get(obj, "message");
	if (json_is_string(m))
		copy_field(ae->message, sizeof ae->message, json_string_value(m));
	else if (json_is_string(err))
		copy_field(ae->message, sizeof ae->message, json_string_value(err));
	else if (json_is_string(json_object_get(root, "detail")))
		copy_field(ae->message, sizeof ae->message, json_string_value(json_object_get(root, "detail")));
	const char *names[3] = {"type", "code", "param"};
	char *dst[3] = {ae->type, ae->code, ae->param};
	for (int i = 0; i < 3; i++) {
		json_t *v = json_object_get(obj, names[i]);
		if (json_is_string(v))
			copy_field(dst[i], 64, json_string_value(v));
		else if (json_is_integer(v))
			snprintf(dst[i], 64, "%lld", (long long)json_integer_value(v));
	}
}

/* Collapse whitespace runs, drop control characters, so that a server's
 * message fits on one line and cannot drive the terminal. */
static void one_line(char *s)
{
	char *w = s;
	int space = 1;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isspace(*p)) {
			if (!space)
				*w++ = ' ';
			space = 1;
		} else if (*p < 0x20 || *p == 0x7f) {
			continue;
		} else {
			*w++ = (char)*p;
			space = 0;
		}
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = 0;
}

void gcm_api_error_parse(const char *body, size_t len, GcmApiError *ae)
{
	memset(ae, 0, sizeof *ae);
	json_t *root = body && len ? json_loadb(body, len, 0, NULL) : NULL;
	if (json_is_object(root))
		error_from_json(root, ae);
	else if (body && len) {
		size_t n = len < sizeof ae->message - 1 ? len : sizeof ae->message - 1;
		memcpy(ae->message, body, n);
		ae->message[n] = 0;
		/* an HTML error page says nothing useful past its title */
		if (memchr(ae->message, '<', n))
			ae->message[0] = 0;
	}
	json_decref(root);
	one_line(ae->message);
	one_line(ae->type);
	one_line(ae->code);
	one_line(ae->param);
}

static int has(const char *s, const char *needle)
{
	return strcasestr(s, needle) != NULL;
}

int gcm_api_error_is_context(const GcmApiError *ae)
{
	return strcmp(ae->code, "context_length_exceeded") == 0 ||
	       has(ae->type, "exceed_context_size") ||
	       has(ae->message, "context length") || has(ae->message, "context_length") ||
	       has(ae->message, "context window") || has(ae->message, "maximum context") ||
	       has(ae->message, "exceeds the available context") ||
	       has(ae->message, "prompt is too long") || has(ae->message, "too many tokens");
}

int gcm_api_error_is_max_tokens(const GcmApiError *ae)
{
	return strcmp(ae->param, "max_tokens") == 0 || has(ae->message, "max_completion_tokens");
}

/* ------------------------------------------------------------------------ */
/* Server-sent events (the WHATWG event-stream format, as OpenAI, Ollama and
 * llama-server send it): lines end in LF, CR or CRLF; "data:" lines of one
 * event are joined with LF; a blank line dispatches; ":" starts a comment. */

void gcm_sse_init(GcmSse *s, void (*on_delta)(void *, const char *, size_t), void *ctx)
{
	memset(s, 0, sizeof *s);
	s->on_delta = on_delta;
	s->ctx = ctx;
}

void gcm_sse_free(GcmSse *s)
{
	free(s->line);
	free(s->data);
	free(s->content);
	s->line = s->data = s->content = NULL;
}

static int sse_dispatch(GcmSse *s, Error *e)
{
	if (!s->has_data)
		return 0;
	s->has_data = 0;
	size_t n = s->data_len;
	s->data_len = 0;
	if (s->done)
		return 0;     /* anything after [DONE] is ignored */
	const char *d = s->data ? s->data : "";
	if (n == 6 && memcmp(d, "[DONE]", 6) == 0) {
		s->done = 1;
		return 0;
	}
	s->events++;
	json_error_t je;
	json_t *root = json_loadb(d, n, 0, &je);
	if (!json_is_object(root)) {
		json_decref(root);
		return err_set(e, "the reply is not the expected JSON: event %d: %s", s->events,
			       root ? "not an object" : je.text);
	}
	int rc = 0;
	json_t *err = json_object_get(root, "error");
	if (err) {
		error_from_json(root, &s->error);
		one_line(s->error.message);
		s->failed = 1;
		json_decref(root);
		return 0;
	}
	json_t *choice = json_array_get(json_object_get(root, "choices"), 0);
	if (choice) {
		json_t *delta = json_object_get(choice, "delta");
		if (!delta)
			delta = json_object_get(choice, "message");
		size_t before = s->content_len;
		if (json_is_object(delta) &&
		    content_text(json_object_get(delta, "content"), &s->content, &s->content_len, &s->content_cap)) {
			rc = err_set(e, "the reply is not the expected JSON: event %d: content is not text", s->events);
		} else if (s->content_len > before && s->on_delta) {
			s->on_delta(s->ctx, s->content + before, s->content_len - before);
		}
		finish_reason(choice, s->finish, sizeof s->finish);
	}
	json_decref(root);
	return rc;
}

static int sse_line(GcmSse *s, Error *e)
{
	const char *l = s->line ? s->line : "";
	size_t n = s->line_len;
	s->line_len = 0;
	if (n == 0)
		return sse_dispatch(s, e);
	if (l[0] == ':')
		return 0;
	const char *colon = memchr(l, ':', n);
	size_t flen = colon ? (size_t)(colon - l) : n;
	const char *v = colon ? colon + 1 : l + n;
	if (colon && v < l + n && *v == ' ')
		v++;
	size_t vlen = (size_t)(l + n - v);
	if (flen != 4 || memcmp(l, "data", 4) != 0)
		return 0;     /* event:, id:, retry: and unknown fields do not matter here */
	if (s->data_len + vlen + 1 > SSE_LINE_MAX)
		return err_set(e, "the reply is not the expected JSON: event over %u bytes", SSE_LINE_MAX);
	if (s->has_data && append(&s->data, &s->data_len, &s->data_cap, "\n", 1))
		return err_set(e, "out of memory");
	if (append(&s->data, &s->data_len, &s->data_cap, v, vlen))
		return err_set(e, "out of memory");
	s->has_data = 1;
	return 0;
}

int gcm_sse_feed(GcmSse *s, const char *buf, size_t n, Error *e)
{
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		if (c == '\n' && s->last_cr) {
			s->last_cr = 0;
			continue;
		}
		s->last_cr = (c == '\r');
		if (c == '\n' || c == '\r') {
			if (sse_line(s, e))
				return -1;
			continue;
		}
		/* copy the rest of the line in one go */
		size_t j = i;
		while (j < n && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (s->line_len + (j - i) > SSE_LINE_MAX)
			return err_set(e, "the reply is not the expected JSON: line over %u bytes", SSE_LINE_MAX);
		if (append(&s->line, &s->line_len, &s->line_cap, buf + i, j - i))
			return err_set(e, "out of memory");
		i = j - 1;
	}
	return 0;
}

int gcm_sse_finish(GcmSse *s, Error *e)
{
	if (s->line_len && sse_line(s, e))
		return -1;
	if (sse_dispatch(s, e))
		return -1;
	if (s->failed)
		return err_set(e, "the server reported an error: %s",
			       s->error.message[0] ? s->error.message : "(no message)");
	if (!s->events)
		return err_set(e, "the reply is not the expected JSON: no data events in the stream");
	if (!s->content && !(s->content = strdup("")))
		return err_set(e, "out of memory");
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Cleanup. */

/* Case-insensitive search within [s, end). */
static const char *find_ci(const char *s, const char *end, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = s; p + n <= end; p++)
		if (strncasecmp(p, needle, n) == 0)
			return p;
	return NULL;
}

/* Remove reasoning: <think>..</think>, <thinking>..</thinking>; an opening
 * tag never closed hides the rest; a closing tag with no opening ends a
 * preamble (templates that put <think> in the prompt). */
static void strip_think(char *s)
{
	static const char *const tags[][2] = {{"<think>", "</think>"}, {"<thinking>", "</thinking>"}};
	for (int t = 0; t < 2; t++) {
		const char *open = tags[t][0], *close = tags[t][1];
		char *end = s + strlen(s);
		char *c = (char *)find_ci(s, end, close);
		char *o = (char *)find_ci(s, end, open);
		if (c && (!o || c < o)) {
			size_t k = strlen(close);
			memmove(s, c + k, (size_t)(end - c - k) + 1);
		}
		for (;;) {
			end = s + strlen(s);
			o = (char *)find_ci(s, end, open);
			if (!o)
				break;
			c = (char *)find_ci(o, end, close);
			if (!c) {
				*o = 0;
				break;
			}
			size_t k = strlen(close);
			memmove(o, c + k, (size_t)(end - c - k) + 1);
		}
	}
}

static int is_fence(const char *l, size_t n)
{
	while (n && (*l == ' ' || *l == '\t'))
		l++, n--;
	return n >= 3 && (memcmp(l, "```", 3) == 0 || memcmp(l, "~~~", 3) == 0);
}

/* Trim spaces, then quotes or backticks that wrap the whole line, repeatedly. */
static void trim_subject(const char **b, const char **e)
{
	static const char *const pairs[][2] = {
		{"\"", "\""}, {"'", "'"}, {"`", "`"}, {"\xe2\x80\x9c", "\xe2\x80\x9d"},
		{"\xe2\x80\x98", "\xe2\x80\x99"}, {"**", "**"},
	};
	for (;;) {
		while (*b < *e && isspace((unsigned char)**b))
			(*b)++;
		while (*e > *b && isspace((unsigned char)(*e)[-1]))
			(*e)--;
		int stripped = 0;
		for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
			size_t lo = strlen(pairs[i][0]), lc = strlen(pairs[i][1]);
			if ((size_t)(*e - *b) >= lo + lc && memcmp(*b, pairs[i][0], lo) == 0 &&
			    memcmp(*e - lc, pairs[i][1], lc) == 0) {
				*b += lo;
				*e -= lc;
				stripped = 1;
				break;
			}
		}
		if (!stripped)
			return;
	}
}

char *gcm_clean_message(const char *content, int body)
{
	size_t n = strlen(content);
	char *s = malloc(n + 1), *out = malloc(n + 2);
	if (!s || !out) {
		free(s);
		free(out);
		return NULL;
	}
	/* control characters out (a reply must not drive the terminal); tabs become spaces */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)content[i];
		if (c == 0x1b && i + 1 < n && content[i + 1] == '[') {
			/* CSI: parameters, then one final byte in 0x40..0x7e */
			for (i += 2; i < n && !((unsigned char)content[i] >= 0x40 && (unsigned char)content[i] <= 0x7e); i++)
				;
			continue;
		}
		if (c == 0x1b && i + 1 < n && content[i + 1] == ']') {
			/* OSC: up to BEL or ESC \ */
			for (i += 2; i < n && content[i] != 0x07 && content[i] != 0x1b; i++)
				;
			if (i + 1 < n && content[i] == 0x1b && content[i + 1] == '\\')
				i++;
			continue;
		}
		if (c == '\t')
			s[k++] = ' ';
		else if (c == '\n' || (c >= 0x20 && c != 0x7f))
			s[k++] = (char)c;
		else if (c == '\r' && (i + 1 >= n || content[i + 1] != '\n'))
			s[k++] = '\n';
	}
	s[k] = 0;
	strip_think(s);

	size_t o = 0;
	int have_subject = 0, body_started = 0, pending_blank = 0;
	for (const char *l = s; *l;) {
		const char *nl = strchr(l, '\n');
		const char *le = nl ? nl : l + strlen(l);
		const char *next = nl ? nl + 1 : le;
		if (is_fence(l, (size_t)(le - l))) {
			l = next;
			continue;
		}
		const char *b = l, *e = le;
		if (!have_subject) {
			trim_subject(&b, &e);
			if (b < e) {
				memcpy(out + o, b, (size_t)(e - b));
				o += (size_t)(e - b);
				have_subject = 1;
				if (!body)
					break;
			}
		} else {
			while (e > b && isspace((unsigned char)e[-1]))
				e--;
			if (b == e) {
				pending_blank = body_started;
			} else {
				/* the body starts after one blank line; inner blank lines stay */
				out[o++] = '\n';
				if (!body_started || pending_blank)
					out[o++] = '\n';
				body_started = 1;
				pending_blank = 0;
				memcpy(out + o, b, (size_t)(e - b));
				o += (size_t)(e - b);
			}
		}
		l = next;
	}
	out[o] = 0;
	free(s);
	return out;
}

size_t gcm_subject_width(const char *msg)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)msg; *p && *p != '\n'; p++)
		if ((*p & 0xc0) != 0x80)
			w++;
	return w;
}
