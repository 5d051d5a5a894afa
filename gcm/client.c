/* The client: request, reply, and the servers' ways of saying no. */
#include "client.h"

#include <stdlib.h>
#include <string.h>

static size_t count_cb(void *ctx, const char *s, size_t n)
{
	return gcm_tokens_count(ctx, s, n);
}

static int cut_diff(GcmClient *c, size_t budget, Error *e)
{
	gcm_trimmed_free(&c->cut);
	if (gcm_diff_trim(c->diff, c->diff_len, budget, count_cb, (void *)c->tokens, &c->cut, e))
		return -1;
	if (c->cut.left_out && c->diag)
		fprintf(c->diag, "gcm: the diff has %zu tokens, over the budget of %zu; left out:\n%s",
			c->cut.tokens_in, budget, c->cut.left_out);
	return 0;
}

static void show_delta(void *ctx, const char *s, size_t n)
{
	FILE *f = ctx;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\n' || ch == '\t' || (ch >= 0x20 && ch != 0x7f))
			fputc(ch, f);
	}
	fflush(f);
}

/* The server's message, one line, with the key taken out. */
static void server_message(const GcmClient *c, const GcmApiError *ae, char *out, size_t cap)
{
	char red[sizeof ae->message + 64];
	gcm_redact(ae->message, strlen(ae->message), c->key, red, sizeof red);
	if (red[0])
		snprintf(out, cap, ": %s", red);
	else
		out[0] = 0;
}

static int status_error(const GcmClient *c, const GcmHttpReply *rp, const GcmApiError *ae, Error *e)
{
	char m[600];
	server_message(c, ae, m, sizeof m);
	switch (rp->status) {
	case 400:
		return err_set(e, "400 Bad Request%s", m[0] ? m : ": (no message from the server)");
	case 401:
		if (!c->key)
			return err_set(e, "401 Unauthorized: no API key is set (GCM_API_KEY, OPENAI_API_KEY or "
				       "~/.config/gcm/key)%s", m);
		return err_set(e, "401 Unauthorized: the server refused the API key from %s%s", c->key_source, m);
	case 403:
		return err_set(e, "403 Forbidden: the key may not use model '%s' or this endpoint%s", c->req.model, m);
	case 404:
		return err_set(e, "404 Not Found: unknown model '%s', or no chat completions at %s%s", c->req.model,
			       c->base, m);
	case 429:
		if (rp->retry_after > c->retry_after_max)
			return err_set(e, "429 Too Many Requests: the server asks to wait %.0f s%s", rp->retry_after, m);
		return err_set(e, "429 Too Many Requests (rate limit or quota), after %d attempts%s", rp->attempts, m);
	default:
		if (rp->status >= 500)
			return err_set(e, "server error %ld, after %d attempts%s", rp->status, rp->attempts, m);
		return err_set(e, "HTTP %ld%s", rp->status, m);
	}
}

/* One request; 0 with the raw content, 1 to ask again (state changed),
 * -1 on error. */
static int ask(GcmClient *c, char **content, char *finish, Error *e)
{
	char *json = gcm_request_json(&c->req, c->cut.text, c->cut.len, e);
	if (!json)
		return -1;
	char url[2048];
	snprintf(url, sizeof url, "%s/chat/completions", c->base);
	GcmSse sse;
	gcm_sse_init(&sse, c->show ? show_delta : NULL, c->show);
	GcmHttpRequest rq = {
		.url = url, .key = c->key, .body = json, .body_len = strlen(json),
		.connect_timeout = c->connect_timeout, .timeout = c->timeout, .retries = c->retries,
		.backoff = c->backoff, .retry_after_max = c->retry_after_max, .trace = c->trace,
		.diag = c->diag, .sse = c->req.stream ? &sse : NULL, .cancel = c->cancel,
	};
	GcmHttpReply rp;
	int rc = gcm_http_post(&rq, &rp, e);
	free(json);
	if (rc)
		goto out;
	rc = -1;
	if (rp.status == 200) {
		if (rp.streamed || (rp.len >= 5 && memcmp(rp.body, "data:", 5) == 0)) {
			if (!rp.streamed && gcm_sse_feed(&sse, rp.body, rp.len, e))
				goto out;
			if (gcm_sse_finish(&sse, e))
				goto out;
			if (c->show && sse.content_len)
				fputc('\n', c->show);
			*content = sse.content;
			sse.content = NULL;
			snprintf(finish, 32, "%s", sse.finish);
		} else {
			GcmReply r;
			if (gcm_reply_parse(rp.body, rp.len, &r, e))
				goto out;
			*content = r.content;
			snprintf(finish, 32, "%s", r.finish);
		}
		rc = 0;
		goto out;
	}
	GcmApiError ae;
	gcm_api_error_parse(rp.body, rp.len, &ae);
	if (rp.status >= 400 && rp.status < 500 && !c->req.max_completion_tokens && gcm_api_error_is_max_tokens(&ae)) {
		c->req.max_completion_tokens = 1;
		if (c->diag)
			fprintf(c->diag, "gcm: the server wants max_completion_tokens; asking again\n");
		rc = 1;
		goto out;
	}
	if (rp.status >= 400 && gcm_api_error_is_context(&ae) && !c->context_retried) {
		c->context_retried = 1;
		size_t sent = c->cut.tokens < c->max_diff_tokens ? c->cut.tokens : c->max_diff_tokens;
		if (c->diag)
			fprintf(c->diag, "gcm: the diff does not fit the model's context; asking again with half of it\n");
		rc = cut_diff(c, sent / 2, e) ? -1 : 1;
		goto out;
	}
	status_error(c, &rp, &ae, e);
out:
	gcm_sse_free(&sse);
	gcm_http_reply_free(&rp);
	return rc;
}

int gcm_client_generate(GcmClient *c, char **msg, Error *e)
{
	if (!c->cut.text && cut_diff(c, c->max_diff_tokens, e))
		return -1;
	int empty_retried = 0;
	for (int round = 0; round < 6; round++) {
		char *content = NULL, finish[32] = "";
		int rc = ask(c, &content, finish, e);
		if (rc < 0)
			return -1;
		if (rc > 0)
			continue;
		char *m = gcm_clean_message(content, c->req.body);
		free(content);
		if (!m)
			return err_set(e, "out of memory");
		if (m[0]) {
			*msg = m;
			return 0;
		}
		free(m);
		if (empty_retried)
			return err_set(e, "the model returned an empty message twice%s",
				       strcmp(finish, "length") == 0 ? " (cut off at --max-tokens; raise it)" : "");
		empty_retried = 1;
		if (c->diag)
			fprintf(c->diag, "gcm: the model returned an empty message; asking again\n");
	}
	return err_set(e, "the server kept refusing the request");
}

void gcm_client_free(GcmClient *c)
{
	gcm_trimmed_free(&c->cut);
}
