/* gpt-eval's library; see eval.h. */
#include "eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "hf.h"
#include "io.h"

int eval_load_model(GPT2 *m, const char *path, Error *e)
{
	GPT2Config c;
	float *params;
	int version;
	if (hf_is_model_path(path) ? hf_load(path, &c, &params, e) : ckpt_load(path, &c, &params, &version, e))
		return -1;
	if (gpt2_create(m, &c, e)) {
		free(params);
		return -1;
	}
	memcpy(m->params_memory, params, gpt2_num_params(&c) * sizeof(float));
	free(params);
	return 0;
}

/* ------------------------------------------------------------------ streams */

static uint64_t token_bytes(const Tokenizer *tok, uint32_t id)
{
	size_t len = 0;
	return tok && tok_token_bytes(tok, id, &len) ? len : 0;
}

int eval_stream(GPT2 *m, const uint32_t *tokens, size_t n, int T, int stride, const Tokenizer *tok,
		LossSum *sum, Error *e)
{
	int V = m->config.vocab_size;
	if (T > m->config.max_seq_len || T < 1 || stride < 1 || stride > T)
		return err_set(e, "bad window %d / stride %d for a context of %d", T, stride, m->config.max_seq_len);
	for (size_t i = 0; i < n; i++)
		if ((int)tokens[i] >= V)
			return err_set(e, "token %u at position %zu is outside the model's vocabulary (%d)", tokens[i], i, V);
	if (n < 2)
		return 0;
	if (m->B < 1 || m->T < T || !m->acts_memory) {
		if (gpt2_alloc_batch(m, 1, T, e))
			return -1;
	}
	int *inp = malloc((size_t)T * sizeof *inp), *tgt = malloc((size_t)T * sizeof *tgt);
	if (!inp || !tgt) {
		free(inp);
		free(tgt);
		return err_set(e, "out of memory");
	}
	size_t scored_to = 1; /* targets below this position are scored */
	for (size_t start = 0; scored_to < n; start += (size_t)stride) {
		size_t len = n - 1 - start < (size_t)T ? n - 1 - start : (size_t)T;
		for (size_t i = 0; i < len; i++) {
			inp[i] = (int)tokens[start + i];
			tgt[i] = (int)tokens[start + i + 1];
		}
		gpt2_forward(m, inp, tgt, 1, (int)len);
		for (size_t i = 0; i < len; i++) {
			size_t pos = start + i + 1; /* position of the target */
			if (pos < scored_to)
				continue;
			sum->nats += m->acts.losses[i];
			sum->tokens++;
			sum->bytes += token_bytes(tok, tokens[pos]);
		}
		scored_to = start + len + 1;
		sum->windows++;
	}
	free(inp);
	free(tgt);
	return 0;
}

/* ------------------------------------------------------------------ multiple choice */

void mc_free(McExample *ex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ex[i].ctx);
		for (int k = 0; k < ex[i].nchoices; k++)
			free(ex[i].end[k]);
	}
	free(ex);
}

static int utf8_chars(const uint8_t *s, size_t len)
{
	int n = 0;
	for (size_t i = 0; i < len; i++)
		n += (s[i] & 0xc0) != 0x80;
	return n;
}

static int encode(const Tokenizer *tok, const char *text, size_t len, uint32_t **out, size_t *n, Error *e)
{
	TokVec v = { 0 };
	if (tok_encode_ordinary(tok, (const uint8_t *)text, len, &v, e)) {
		tokvec_free(&v);
		return -1;
	}
	*out = v.ids;
	*n = v.len;
	return 0;
}

static int read_jsonl(const char *path, const uint8_t *buf, size_t len, const Tokenizer *tok, McExample **exs,
		      size_t *nex, Error *e)
{
	size_t cap = 64, n = 0, line = 0;
	McExample *ex = calloc(cap, sizeof *ex);
	if (!ex)
		return err_set(e, "out of memory");
	for (size_t at = 0; at < len;) {
		const uint8_t *nl = memchr(buf + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - buf) : len, off = at;
		line++;
		at = end + 1;
		size_t k = off;
		while (k < end && (buf[k] == ' ' || buf[k] == '\t' || buf[k] == '\r'))
			k++;
		if (k == end)
			continue;
		json_error_t je;
		json_t *o = json_loadb((const char *)buf + off, end - off, 0, &je);
		if (!o) {
			mc_free(ex, n);
			return err_set(e, "%s:%zu: offset %zu: %s", path, line, off + (size_t)je.position, je.text);
		}
		json_t *ctx = json_object_get(o, "ctx"), *ends = json_object_get(o, "endings"),
		       *label = json_object_get(o, "label");
		if (!json_is_string(ctx) || !json_is_array(ends) || json_array_size(ends) < 1 ||
		    json_array_size(ends) > MC_MAX_CHOICES || !(json_is_integer(label) || json_is_string(label))) {
			json_decref(o);
			mc_free(ex, n);
			return err_set(e, "%s:%zu: offset %zu: want {\"ctx\": string, \"endings\": [1..%d strings], \"label\": int}",
				       path, line, off, MC_MAX_CHOICES);
		}
		if (n == cap) {
			McExample *nx = realloc(ex, (cap *= 2) * sizeof *ex);
			if (!nx) {
				json_decref(o);
				mc_free(ex, n);
				return err_set(e, "out of memory");
			}
			ex = nx;
		}
		McExample *x = &ex[n];
		memset(x, 0, sizeof *x);
		x->index = (int)n;
		x->label = json_is_integer(label) ? (int)json_integer_value(label) : atoi(json_string_value(label));
		x->nchoices = (int)json_array_size(ends);
		n++;
		int bad = encode(tok, json_string_value(ctx), json_string_length(ctx), &x->ctx, &x->nctx, e);
		for (int c = 0; c < x->nchoices && !bad; c++) {
			json_t *s = json_array_get(ends, (size_t)c);
			if (!json_is_string(s)) {
				bad = err_set(e, "%s:%zu: ending %d is not a string", path, line, c);
				break;
			}
			size_t sl = json_string_length(s);
			char *t = malloc(sl + 2);
			if (!t) {
				bad = err_set(e, "out of memory");
				break;
			}
			t[0] = ' ';
			memcpy(t + 1, json_string_value(s), sl);
			bad = encode(tok, t, sl + 1, &x->end[c], &x->nend[c], e);
			x->chars[c] = utf8_chars((const uint8_t *)json_string_value(s), sl);
			free(t);
			if (!bad && x->nend[c] == 0)
				bad = err_set(e, "%s:%zu: ending %d encodes to no tokens", path, line, c);
		}
		json_decref(o);
		if (!bad && (x->label < 0 || x->label >= x->nchoices))
			bad = err_set(e, "%s:%zu: label %d is not one of the %d endings", path, line, x->label, x->nchoices);
		if (bad) {
			mc_free(ex, n);
			return -1;
		}
	}
	*exs = ex;
	*nex = n;
	return 0;
}

#define EVAL_MAGIC 20240522

/* llm.c's eval file: a 256-int32 header [0] magic [1] version 1 [2] examples
 * [3] longest example in bytes; then per example uint16: 65535, its byte
 * count, index, label, number of completions, then the context and each
 * completion as a count followed by that many tokens. */
static int read_evalbin(const char *path, const uint8_t *buf, size_t len, const Tokenizer *tok, McExample **exs,
			size_t *nex, Error *e)
{
	if (len < 1024)
		return err_set(e, "%s: %zu bytes is too short for an llm.c eval file", path, len);
	int32_t h[4];
	memcpy(h, buf, sizeof h);
	if (h[1] != 1)
		return err_set(e, "%s: offset 4: eval file version %d is not 1 (uint16 tokens)", path, h[1]);
	if (h[2] < 0 || (size_t)h[2] > (len - 1024) / 10)
		return err_set(e, "%s: offset 8: %d examples cannot fit in the file", path, h[2]);
	size_t n = (size_t)h[2], at = 1024;
	McExample *ex = calloc(n ? n : 1, sizeof *ex);
	if (!ex)
		return err_set(e, "out of memory");
	const size_t words = (len - 1024) / 2;
	const uint8_t *w0 = buf + 1024;
#define WORD(i) ((uint16_t)(w0[2 * (i)] | w0[2 * (i) + 1] << 8))
	size_t wi = 0;
	for (size_t k = 0; k < n; k++) {
		McExample *x = &ex[k];
		at = 1024 + 2 * wi;
		if (wi + 5 > words || WORD(wi) != 65535) {
			mc_free(ex, k);
			return err_set(e, "%s: offset %zu: example %zu does not start with the 65535 delimiter", path, at, k);
		}
		size_t nbytes = WORD(wi + 1), start = wi;
		x->index = WORD(wi + 2);
		x->label = WORD(wi + 3);
		x->nchoices = WORD(wi + 4);
		wi += 5;
		if (nbytes % 2 || start + nbytes / 2 > words || x->nchoices < 1 || x->nchoices > MC_MAX_CHOICES ||
		    x->label >= x->nchoices) {
			int nc = x->nchoices;
			x->nchoices = 0;
			mc_free(ex, k + 1);
			return err_set(e, "%s: offset %zu: example %zu is malformed (%zu bytes, %d completions)", path, at, k,
				       nbytes, nc);
		}
		size_t stop = start + nbytes / 2;
		for (int part = -1; part < x->nchoices; part++) {
			if (wi >= stop) {
				x->nchoices = part < 0 ? 0 : part;
				mc_free(ex, k + 1);
				return err_set(e, "%s: offset %zu: example %zu ends inside its tokens", path, 1024 + 2 * wi, k);
			}
			size_t cnt = WORD(wi);
			wi++;
			if (wi + cnt > stop || (part >= 0 && cnt == 0)) {
				x->nchoices = part < 0 ? 0 : part;
				mc_free(ex, k + 1);
				return err_set(e, "%s: offset %zu: example %zu: %zu tokens overrun the example", path,
					       1024 + 2 * wi, k, cnt);
			}
			uint32_t *t = malloc((cnt ? cnt : 1) * sizeof *t);
			for (size_t i = 0; t && i < cnt; i++)
				t[i] = WORD(wi + i);
			wi += cnt;
			if (part < 0) {
				x->ctx = t;
				x->nctx = cnt;
			} else {
				x->end[part] = t;
				x->nend[part] = cnt;
				/* characters of the ending: decoded, less the leading space */
				uint8_t *txt = NULL;
				size_t tl = 0, tc = 0, bad = 0;
				Error de;
				x->chars[part] = (int)cnt;
				if (tok && t && tok_decode(tok, t, cnt, &txt, &tl, &tc, &bad, &de) == 0) {
					size_t skip = tl && txt[0] == ' ';
					x->chars[part] = utf8_chars(txt + skip, tl - skip);
				}
				free(txt);
			}
			if (!t) {
				mc_free(ex, k + 1);
				return err_set(e, "out of memory");
			}
		}
		wi = stop;
	}
#undef WORD
	*exs = ex;
	*nex = n;
	return 0;
}

int mc_read(const char *path, const Tokenizer *tok, McExample **ex, size_t *n, Error *e)
{
	uint8_t *buf;
	size_t len;
	if (io_read_all(path, &buf, &len, e))
		return -1;
	int32_t magic = 0;
	if (len >= 4)
		memcpy(&magic, buf, 4);
	int rc = magic == EVAL_MAGIC ? read_evalbin(io_display_name(path), buf, len, tok, ex, n, e)
				     : read_jsonl(io_display_name(path), buf, len, tok, ex, n, e);
	free(buf);
	return rc;
}

int mc_score(GPT2 *m, const McExample *ex, McResult *r, Error *e)
{
	int maxT = m->config.max_seq_len, V = m->config.vocab_size, B = ex->nchoices, T = 0;
	memset(r, 0, sizeof *r);
	r->label = ex->label;
	r->nchoices = B;
	r->index = ex->index;
	for (int c = 0; c < B; c++) {
		size_t len = ex->nctx + ex->nend[c];
		int l = len > (size_t)maxT ? maxT : (int)len;
		if ((size_t)l <= 1 || ex->nend[c] >= (size_t)maxT)
			return err_set(e, "example %d: ending %d does not fit the context (%d)", ex->index, c, maxT);
		if (l > T)
			T = l;
	}
	if (m->B < B || m->T < T || !m->acts_memory) {
		int nb = m->B > B ? m->B : B, nt = m->T > T ? m->T : T;
		if (gpt2_alloc_batch(m, nb, nt, e))
			return -1;
	}
	int *inp = calloc((size_t)B * T, sizeof *inp), *tgt = calloc((size_t)B * T, sizeof *tgt);
	if (!inp || !tgt) {
		free(inp);
		free(tgt);
		return err_set(e, "out of memory");
	}
	int first[MC_MAX_CHOICES], count[MC_MAX_CHOICES];
	for (int c = 0; c < B; c++) {
		/* the row: context + ending, cut from the left to the context */
		size_t len = ex->nctx + ex->nend[c], skip = len > (size_t)maxT ? len - maxT : 0;
		int l = (int)(len - skip);
		for (int i = 0; i < l; i++) {
			size_t at = skip + i;
			uint32_t t = at < ex->nctx ? ex->ctx[at] : ex->end[c][at - ex->nctx];
			if ((int)t >= V) {
				free(inp);
				free(tgt);
				return err_set(e, "example %d: token %u is outside the model's vocabulary (%d)", ex->index, t, V);
			}
			inp[c * T + i] = (int)t;
			if (i > 0)
				tgt[c * T + i - 1] = (int)t;
		}
		count[c] = (int)ex->nend[c];
		first[c] = l - 1 - count[c]; /* the position whose target is the ending's first token */
		if (first[c] < 0) {
			free(inp);
			free(tgt);
			return err_set(e, "example %d: empty context", ex->index);
		}
	}
	gpt2_forward(m, inp, tgt, B, T);
	for (int c = 0; c < B; c++) {
		double s = 0;
		for (int i = 0; i < count[c]; i++)
			s += m->acts.losses[c * T + first[c] + i];
		r->sum[c] = s;
		r->mean[c] = s / count[c];
		r->chars[c] = ex->chars[c];
		if (s < r->sum[r->pred])
			r->pred = c;
		if (r->mean[c] < r->mean[r->pred_norm])
			r->pred_norm = c;
		/* lm-evaluation-harness: argmax of log-likelihood / characters */
		double hn = -s / (ex->chars[c] > 0 ? ex->chars[c] : 1),
		       hb = -r->sum[r->pred_harness] / (ex->chars[r->pred_harness] > 0 ? ex->chars[r->pred_harness] : 1);
		if (hn > hb)
			r->pred_harness = c;
	}
	free(inp);
	free(tgt);
	return 0;
}
