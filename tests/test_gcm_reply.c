/* Unit tests of gcm's reply parser (gcm/reply.c): JSON replies, error
 * bodies, server-sent events in pieces of every size, and the cleanup. */
#include "reply.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>

static int parse_content(const char *body, const char *want)
{
	GcmReply r;
	Error e;
	if (gcm_reply_parse(body, strlen(body), &r, &e))
		return 0;
	int ok = strcmp(r.content, want) == 0;
	gcm_reply_free(&r);
	return ok;
}

static int parse_fails(const char *body, const char *why)
{
	GcmReply r;
	Error e;
	if (gcm_reply_parse(body, strlen(body), &r, &e) == 0) {
		gcm_reply_free(&r);
		return 0;
	}
	return strstr(e.msg, "not the expected JSON") && strstr(e.msg, why);
}

/* Feed an event stream in pieces of `step` bytes; the content or NULL. */
static char *sse_run(const char *stream, size_t step, int *ok, Error *e)
{
	GcmSse s;
	gcm_sse_init(&s, NULL, NULL);
	size_t n = strlen(stream);
	*ok = 1;
	for (size_t i = 0; i < n && *ok; i += step)
		if (gcm_sse_feed(&s, stream + i, i + step <= n ? step : n - i, e))
			*ok = 0;
	if (*ok && gcm_sse_finish(&s, e))
		*ok = 0;
	char *c = *ok ? strdup(s.content) : NULL;
	gcm_sse_free(&s);
	return c;
}

static int sse_all_steps(const char *stream, const char *want)
{
	for (size_t step = 1; step <= strlen(stream); step++) {
		int ok;
		Error e;
		char *c = sse_run(stream, step, &ok, &e);
		int good = ok && strcmp(c, want) == 0;
		free(c);
		if (!good)
			return 0;
	}
	return 1;
}

static int cleaned(const char *in, int body, const char *want)
{
	char *c = gcm_clean_message(in, body);
	int ok = c && strcmp(c, want) == 0;
	if (!ok)
		printf("# clean: got [%s] want [%s]\n", c ? c : "(null)", want);
	free(c);
	return ok;
}

typedef struct {
	char buf[256];
	size_t n;
	int calls;
} Deltas;

static void on_delta(void *ctx, const char *s, size_t n)
{
	Deltas *d = ctx;
	memcpy(d->buf + d->n, s, n);
	d->n += n;
	d->calls++;
}

int main(void)
{
	/* --- JSON replies --- */
	CHECK(parse_content("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"Fix it\"},"
			    "\"finish_reason\":\"stop\"}]}", "Fix it"), "json_string_content");
	CHECK(parse_content("{\"choices\":[{\"message\":{\"content\":null}}]}", ""), "json_null_content");
	CHECK(parse_content("{\"choices\":[{\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"Add \"},"
			    "{\"type\":\"text\",\"text\":\"x\"}]}}]}", "Add x"), "json_content_parts");
	CHECK(parse_fails("{not json", "byte"), "json_malformed");
	CHECK(parse_fails("{\"result\":\"x\"}", "choices"), "json_no_choices");
	CHECK(parse_fails("{\"choices\":[]}", "message"), "json_empty_choices");
	CHECK(parse_fails("{\"choices\":[{\"message\":{\"content\":42}}]}", "not text"), "json_content_number");
	CHECK(parse_fails("[1,2]", "choices"), "json_array_root");
	GcmReply r;
	Error e;
	const char *fin = "{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":\"length\"}]}";
	CHECK(gcm_reply_parse(fin, strlen(fin), &r, &e) == 0 && strcmp(r.finish, "length") == 0, "json_finish_reason");
	gcm_reply_free(&r);

	/* --- error bodies --- */
	GcmApiError ae;
	const char *oai = "{\"error\":{\"message\":\"Unsupported parameter: 'max_tokens' is not supported with "
			  "this model. Use 'max_completion_tokens' instead.\",\"type\":\"invalid_request_error\","
			  "\"param\":\"max_tokens\",\"code\":\"unsupported_parameter\"}}";
	gcm_api_error_parse(oai, strlen(oai), &ae);
	CHECK(strcmp(ae.param, "max_tokens") == 0 && strcmp(ae.code, "unsupported_parameter") == 0 &&
	      strncmp(ae.message, "Unsupported parameter", 21) == 0, "error_openai_fields");
	CHECK(gcm_api_error_is_max_tokens(&ae) && !gcm_api_error_is_context(&ae), "error_is_max_tokens");
	const char *ctx = "{\"error\":{\"message\":\"This model's maximum context length is 8192 tokens.\","
			  "\"code\":\"context_length_exceeded\"}}";
	gcm_api_error_parse(ctx, strlen(ctx), &ae);
	CHECK(gcm_api_error_is_context(&ae) && !gcm_api_error_is_max_tokens(&ae), "error_is_context_openai");
	const char *llama = "{\"error\":{\"code\":400,\"message\":\"the request exceeds the available context "
			    "size, try increasing it\",\"type\":\"exceed_context_size_error\"}}";
	gcm_api_error_parse(llama, strlen(llama), &ae);
	CHECK(gcm_api_error_is_context(&ae) && strcmp(ae.code, "400") == 0, "error_is_context_llama_server");
	const char *ol = "{\"error\":\"model 'x' not found\"}";
	gcm_api_error_parse(ol, strlen(ol), &ae);
	CHECK(strcmp(ae.message, "model 'x' not found") == 0, "error_string_ollama");
	gcm_api_error_parse("upstream\n  timed out\r\n", 22, &ae);
	CHECK(strcmp(ae.message, "upstream timed out") == 0, "error_plain_text_one_line");
	gcm_api_error_parse("<html><title>502</title></html>", 31, &ae);
	CHECK(ae.message[0] == 0, "error_html_dropped");
	const char *esc = "{\"error\":{\"message\":\"bad\\u001b[2Jthing\"}}";
	gcm_api_error_parse(esc, strlen(esc), &ae);
	CHECK(strchr(ae.message, 0x1b) == NULL, "error_control_chars_dropped");

	/* --- server-sent events --- */
	const char *stream =
		": keep-alive\n\n"
		"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\r\n\r\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\"Add \"}}]}\n\n"
		"event: message\nid: 3\ndata: {\"choices\":[{\"delta\":{\"content\":\"stream\"}}]}\r\r"
		"data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
		"data: [DONE]\n\n"
		"data: {\"choices\":[{\"delta\":{\"content\":\" after done\"}}]}\n\n";
	CHECK(sse_all_steps(stream, "Add stream"), "sse_every_split_gives_same_content");
	const char *multi = "data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"joined\"}}]}\n\n";
	CHECK(sse_all_steps(multi, "joined"), "sse_multiline_data_joined");
	const char *noterm = "data: {\"choices\":[{\"delta\":{\"content\":\"tail\"}}]}";
	CHECK(sse_all_steps(noterm, "tail"), "sse_unterminated_last_event");
	int ok;
	char *c = sse_run("data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\n\ndata: {oops\n\n", 7, &ok, &e);
	CHECK(!ok && strstr(e.msg, "event 2"), "sse_malformed_event_named");
	free(c);
	c = sse_run("data: {\"error\":{\"message\":\"overloaded\"}}\n\n", 5, &ok, &e);
	CHECK(!ok && strstr(e.msg, "overloaded"), "sse_error_event");
	free(c);
	c = sse_run(": nothing but comments\n\n", 3, &ok, &e);
	CHECK(!ok && strstr(e.msg, "no data events"), "sse_no_events");
	free(c);
	GcmSse s;
	Deltas d = {0};
	gcm_sse_init(&s, on_delta, &d);
	const char *two = "data: {\"choices\":[{\"delta\":{\"content\":\"ab\"}}]}\n\n"
			  "data: {\"choices\":[{\"delta\":{\"content\":\"cd\"}}]}\n\n";
	CHECK(gcm_sse_feed(&s, two, strlen(two), &e) == 0 && gcm_sse_finish(&s, &e) == 0 && d.calls == 2 &&
	      d.n == 4 && memcmp(d.buf, "abcd", 4) == 0, "sse_deltas_reported");
	gcm_sse_free(&s);

	/* --- cleanup --- */
	CHECK(cleaned("Fix the parser", 0, "Fix the parser"), "clean_plain");
	CHECK(cleaned("  \"Fix the parser\"  \n", 0, "Fix the parser"), "clean_quotes");
	CHECK(cleaned("`Fix the parser`", 0, "Fix the parser"), "clean_backticks");
	CHECK(cleaned("\xe2\x80\x9c" "Fix it" "\xe2\x80\x9d", 0, "Fix it"), "clean_smart_quotes");
	CHECK(cleaned("```\nFix the parser\n```", 0, "Fix the parser"), "clean_fences");
	CHECK(cleaned("```text\n'Fix the parser'\n```\n", 0, "Fix the parser"), "clean_fence_with_lang");
	CHECK(cleaned("<think>\nLet me see. Add x?\n</think>\n\nFix the parser", 0, "Fix the parser"), "clean_think");
	CHECK(cleaned("<THINK>a</THINK><think>b</think>Fix", 0, "Fix"), "clean_think_twice");
	CHECK(cleaned("reasoning first...\n</think>\nFix the parser", 0, "Fix the parser"), "clean_lone_close_think");
	CHECK(cleaned("<think>never closed, all reasoning", 0, ""), "clean_unclosed_think_is_empty");
	CHECK(cleaned("\n\n   \n", 0, ""), "clean_blank_is_empty");
	CHECK(cleaned("Fix a\nSecond line", 0, "Fix a"), "clean_first_line_only");
	CHECK(cleaned("Fix\x1b[31m red\x1b]0;title\x07 now\x01", 0, "Fix red now"), "clean_escapes_removed");
	CHECK(cleaned("Fix\tit", 0, "Fix it"), "clean_tab");
	CHECK(cleaned("\"Fix it\"\nBody one.\nBody two.\n\n\nPara two.\n", 1,
		      "Fix it\n\nBody one.\nBody two.\n\nPara two."), "clean_body_kept");
	CHECK(cleaned("```\nFix it\n\nBody.\n```", 1, "Fix it\n\nBody."), "clean_body_fenced");
	CHECK(gcm_subject_width("h\xc3\xa9llo\nbody") == 5, "subject_width_utf8");
	return test_done();
}
