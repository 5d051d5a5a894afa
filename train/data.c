/* Training data: see data.h. */
#include "data.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int push(TokenData *d, const uint32_t *t, size_t n, Error *e)
{
	if (d->n + n > d->cap) {
		size_t cap = d->cap ? d->cap : 1 << 16;
		while (cap < d->n + n)
			cap *= 2;
		uint32_t *p = realloc(d->tok, cap * sizeof *p);
		if (!p)
			return err_set(e, "out of memory for %zu tokens", d->n + n);
		d->tok = p;
		d->cap = cap;
	}
	memcpy(d->tok + d->n, t, n * sizeof *t);
	d->n += n;
	return 0;
}

static int load_one(TokenData *d, const char *path, int first, uint32_t *vocab, Error *e)
{
	TokenReader r;
	if (stream_open(&r, path, e))
		return -1;
	if (first) {
		d->n_vocab = r.info.n_vocab;
		d->eot = r.info.eot;
		memcpy(d->encoding, r.info.encoding, sizeof d->encoding);
		snprintf(d->name, sizeof d->name, "%s", r.name);
		if (*vocab == 0)
			*vocab = r.info.n_vocab ? r.info.n_vocab : 50257;
	} else if (r.info.n_vocab != d->n_vocab) {
		err_set(e, "%s: vocabulary %u differs from %s's %u", r.name, r.info.n_vocab, d->name, d->n_vocab);
		stream_close(&r);
		return -1;
	}
	if (r.info.n_vocab > *vocab) {
		err_set(e, "%s: the data's vocabulary (%u) is larger than the model's (%u)", r.name,
			r.info.n_vocab, *vocab);
		stream_close(&r);
		return -1;
	}
	stream_set_limit(&r, *vocab, "model vocabulary");
	uint32_t buf[1 << 14];
	for (;;) {
		long long k = stream_read(&r, buf, sizeof buf / sizeof buf[0], e);
		if (k < 0 || (k > 0 && push(d, buf, (size_t)k, e))) {
			stream_close(&r);
			return -1;
		}
		if (k == 0)
			break;
	}
	stream_close(&r);
	return 0;
}

int data_load(TokenData *d, const char *const *paths, int npaths, uint32_t *vocab, Error *e)
{
	memset(d, 0, sizeof *d);
	d->eot = -1;
	int first = 1;
	for (int i = 0; i < npaths; i++) {
		const char *p = paths[i];
		struct stat st;
		if (strcmp(p, "-") != 0 && strpbrk(p, "*?[") && stat(p, &st) != 0) {
			glob_t g;
			int rc = glob(p, 0, NULL, &g);
			if (rc == GLOB_NOMATCH)
				return err_set(e, "%s: no files match", p);
			if (rc != 0)
				return err_set(e, "%s: cannot expand the pattern", p);
			for (size_t j = 0; j < g.gl_pathc; j++) {
				if (load_one(d, g.gl_pathv[j], first, vocab, e)) {
					globfree(&g);
					return -1;
				}
				first = 0;
			}
			globfree(&g);
		} else {
			if (load_one(d, p, first, vocab, e))
				return -1;
			first = 0;
		}
	}
	return 0;
}

int data_split_tail(TokenData *src, TokenData *dst, size_t n, Error *e)
{
	*dst = *src;
	dst->tok = NULL;
	dst->n = dst->cap = 0;
	if (n > src->n)
		n = src->n;
	if (push(dst, src->tok + src->n - n, n, e))
		return -1;
	src->n -= n;
	return 0;
}

void data_free(TokenData *d)
{
	free(d->tok);
	memset(d, 0, sizeof *d);
}

uint64_t data_hash(const uint32_t *tok, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++) {
		h ^= tok[i];
		h *= 0x100000001b3ull;
	}
	return h;
}
