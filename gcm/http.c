/* The HTTP client. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A non-streamed reply larger than this is not a commit message. */
#define BODY_MAX (16u << 20)

typedef struct {
	const GcmHttpRequest *rq;
	GcmHttpReply *rp;
	CURL *curl;
	size_t cap;
	int event_stream;        /* this attempt's Content-Type is text/event-stream */
	int sse_failed;          /* the SSE parser refused the stream */
	int too_big;
	Error sse_err;
} Transfer;

int gcm_http_retryable(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

double gcm_retry_after_parse(const char *value, time_t now)
{
	while (*value == ' ' || *value == '\t')
		value++;
	if (isdigit((unsigned char)*value)) {
		char *end;
		double s = strtod(value, &end);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		return *end || !isfinite(s) ? -1 : s;
	}
	time_t t = curl_getdate(value, NULL);
	if (t == (time_t)-1)
		return -1;
	return t > now ? (double)(t - now) : 0;
}

void gcm_redact(const char *line, size_t n, const char *key, char *out, size_t cap)
{
	size_t k = 0, klen = key ? strlen(key) : 0;
	if (cap == 0)
		return;
	if (n >= 14 && strncasecmp(line, "authorization:", 14) == 0) {
		snprintf(out, cap, "%.*s [redacted]", 14, line);
		return;
	}
	for (size_t i = 0; i < n && k + 1 < cap;) {
		if (klen && i + klen <= n && memcmp(line + i, key, klen) == 0) {
			const char *r = "[redacted]";
			for (; *r && k + 1 < cap; r++)
				out[k++] = *r;
			i += klen;
		} else {
			out[k++] = line[i++];
		}
	}
	out[k] = 0;
}

static void trace_lines(Transfer *t, const char *prefix, const char *data, size_t size)
{
	FILE *f = t->rq->trace;
	for (size_t off = 0; off < size;) {
		const char *nl = memchr(data + off, '\n', size - off);
		size_t end = nl ? (size_t)(nl - data) : size;
		size_t n = end - off;
		if (n && data[off + n - 1] == '\r')
			n--;
		if (n) {
			char line[2048];
			gcm_redact(data + off, n, t->rq->key, line, sizeof line);
			for (char *p = line; *p; p++)
				if ((unsigned char)*p < 0x20 && *p != '\t')
					*p = '?';
			fprintf(f, "%s%s\n", prefix, line);
		}
		off = nl ? end + 1 : size;
	}
}

static int on_debug(CURL *c, curl_infotype type, char *data, size_t size, void *ud)
{
	(void)c;
	Transfer *t = ud;
	switch (type) {
	case CURLINFO_TEXT: trace_lines(t, "* ", data, size); break;
	case CURLINFO_HEADER_OUT: trace_lines(t, "> ", data, size); break;
	case CURLINFO_HEADER_IN: trace_lines(t, "< ", data, size); break;
	default: break;
	}
	return 0;
}

static size_t on_header(char *data, size_t size, size_t nitems, void *ud)
{
	Transfer *t = ud;
	size_t n = size * nitems;
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		t->event_stream = 0;
		t->rp->retry_after = -1;
	} else if (n > 12 && strncasecmp(data, "retry-after:", 12) == 0) {
		char v[128];
		size_t k = n - 12 < sizeof v - 1 ? n - 12 : sizeof v - 1;
		memcpy(v, data + 12, k);
		v[k] = 0;
		t->rp->retry_after = gcm_retry_after_parse(v, time(NULL));
	} else if (n > 13 && strncasecmp(data, "content-type:", 13) == 0) {
		const char *v = data + 13;
		while (v < data + n && *v == ' ')
			v++;
		t->event_stream = (size_t)(data + n - v) >= 17 && strncasecmp(v, "text/event-stream", 17) == 0;
	}
	return n;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
	Transfer *t = ud;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
	if (t->rq->sse && status == 200 && t->event_stream) {
		t->rp->streamed = 1;
		if (gcm_sse_feed(t->rq->sse, data, n, &t->sse_err)) {
			t->sse_failed = 1;
			return 0;
		}
		return n;
	}
	if (t->rp->len + n + 1 > BODY_MAX) {
		t->too_big = 1;
		return 0;
	}
	if (t->rp->len + n + 1 > t->cap) {
		size_t nc = t->cap ? t->cap : 4096;
		while (nc < t->rp->len + n + 1)
			nc *= 2;
		char *nb = realloc(t->rp->body, nc);
		if (!nb) {
			t->too_big = 1;
			return 0;
		}
		t->rp->body = nb;
		t->cap = nc;
	}
	memcpy(t->rp->body + t->rp->len, data, n);
	t->rp->len += n;
	t->rp->body[t->rp->len] = 0;
	return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	const Transfer *t = ud;
	return t->rq->cancel && *t->rq->cancel;
}

/* Sleep s seconds in small steps, so that a cancel is noticed; -1 if cancelled. */
static int wait_for(double s, const volatile int *cancel)
{
	while (s > 0) {
		if (cancel && *cancel)
			return -1;
		double step = s < 0.1 ? s : 0.1;
		struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
		nanosleep(&ts, NULL);
		s -= step;
	}
	return cancel && *cancel ? -1 : 0;
}

static int transport_error(const GcmHttpRequest *rq, CURLcode rc, const char *errbuf, Error *e)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return err_set(e, "%s: cannot resolve the host name (DNS): %s", rq->url, why);
	case CURLE_COULDNT_CONNECT:
		return err_set(e, "%s: cannot connect (refused or unreachable): %s", rq->url, why);
	case CURLE_OPERATION_TIMEDOUT:
		if (strncmp(why, "Resolving timed out", 19) == 0)
			return err_set(e, "%s: cannot resolve the host name (DNS): %s", rq->url, why);
		return err_set(e, "%s: timed out (--timeout %ld): %s", rq->url, rq->timeout, why);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return err_set(e, "%s: TLS failed: %s", rq->url, why);
	case CURLE_ABORTED_BY_CALLBACK:
		return err_set(e, "cancelled");
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return err_set(e, "%s: not an http:// or https:// URL: %s", rq->url, why);
	default:
		return err_set(e, "%s: %s", rq->url, why);
	}
}

static int connection_reset(CURLcode rc)
{
	return rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR || rc == CURLE_GOT_NOTHING ||
	       rc == CURLE_PARTIAL_FILE || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
}

int gcm_http_post(const GcmHttpRequest *rq, GcmHttpReply *rp, Error *e)
{
	memset(rp, 0, sizeof *rp);
	rp->retry_after = -1;
	CURL *curl = curl_easy_init();
	if (!curl)
		return err_set(e, "cannot start libcurl");
	struct curl_slist *hdrs = NULL;
	char *auth = NULL;
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, rq->sse ? "Accept: text/event-stream, application/json"
					       : "Accept: application/json");
	if (rq->key) {
		if (asprintf(&auth, "Authorization: Bearer %s", rq->key) < 0)
			auth = NULL;
		if (auth)
			hdrs = curl_slist_append(hdrs, auth);
	}
	int rc = -1;
	if (!hdrs || (rq->key && !auth)) {
		err_set(e, "out of memory");
		goto done;
	}
	char errbuf[CURL_ERROR_SIZE];
	Transfer t = {.rq = rq, .rp = rp, .curl = curl};
	curl_easy_setopt(curl, CURLOPT_URL, rq->url);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, rq->body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "gcm (gptkit)");
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, rq->connect_timeout);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, rq->timeout);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
	curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
	curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(curl, CURLOPT_ACCEPT_ENCODING, "");
	if (rq->trace) {
		curl_easy_setopt(curl, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(curl, CURLOPT_DEBUGFUNCTION, on_debug);
		curl_easy_setopt(curl, CURLOPT_DEBUGDATA, &t);
	}
	CURLcode cr = CURLE_OK;
	for (int attempt = 0;; attempt++) {
		errbuf[0] = 0;
		rp->len = 0;
		rp->status = 0;
		rp->streamed = 0;
		rp->attempts = attempt + 1;
		t.sse_failed = t.too_big = t.event_stream = 0;
		if (rq->sse) {
			void (*cb)(void *, const char *, size_t) = rq->sse->on_delta;
			void *ctx = rq->sse->ctx;
			gcm_sse_free(rq->sse);
			gcm_sse_init(rq->sse, cb, ctx);
		}
		cr = curl_easy_perform(curl);
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &rp->status);
		if (t.sse_failed) {
			err_set(e, "%s", t.sse_err.msg);
			goto done;
		}
		if (t.too_big) {
			err_set(e, "%s: the reply is over %u MiB", rq->url, BODY_MAX >> 20);
			goto done;
		}
		const char *why = NULL;
		char whybuf[64];
		if (cr == CURLE_OK && gcm_http_retryable(rp->status)) {
			snprintf(whybuf, sizeof whybuf, "HTTP %ld", rp->status);
			why = whybuf;
		} else if (cr != CURLE_OK && connection_reset(cr)) {
			why = "connection reset";
		} else if (cr != CURLE_OK) {
			transport_error(rq, cr, errbuf, e);
			goto done;
		}
		if (!why || attempt >= rq->retries)
			break;
		double wait = rq->backoff * ldexp(1.0, attempt < 30 ? attempt : 30);
		if (wait > 60)
			wait = 60;    /* backoff alone never waits longer than a minute */
		if (cr == CURLE_OK && rp->retry_after >= 0) {
			if (rp->retry_after > rq->retry_after_max)
				break;     /* the caller reports the wait the server asked for */
			wait = rp->retry_after;
		}
		if (rq->diag)
			fprintf(rq->diag, "gcm: %s; retrying in %.1f s (retry %d of %d)\n", why, wait,
				attempt + 1, rq->retries);
		if (wait_for(wait, rq->cancel)) {
			err_set(e, "cancelled");
			goto done;
		}
	}
	if (cr != CURLE_OK) {
		err_set(e, "%s: connection reset (after %d attempts)", rq->url, rp->attempts);
		goto done;
	}
	if (!rp->body && !(rp->body = calloc(1, 1))) {
		err_set(e, "out of memory");
		goto done;
	}
	rc = 0;
done:
	if (rc) {
		free(rp->body);
		rp->body = NULL;
		rp->len = 0;
	}
	curl_slist_free_all(hdrs);
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	curl_easy_cleanup(curl);
	return rc;
}

void gcm_http_reply_free(GcmHttpReply *rp)
{
	free(rp->body);
	rp->body = NULL;
	rp->len = 0;
}
