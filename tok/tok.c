/* Opening tokenizers (built in, tok-file(5), .tiktoken, GPT-2 json),
 * special tokens and decoding.  Encoding is in tok/bpe.c. */
#include "tok_impl.h"
#include "builtin.h"
#include "io.h"
#include "tokfile.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

Tokenizer *tok_from_block(const void *block, size_t size, void *owned, Error *e)
{
	Tokenizer *t = calloc(1, sizeof *t);
	if (!t) {
		free(owned);
		err_set(e, "out of memory");
		return NULL;
	}
	if (table_view(block, size, &t->v, e)) {
		free(owned);
		free(t);
		return NULL;
	}
	t->owned = owned;
	t->pretok = (PretokKind)t->v.h->pretok;
	uint32_t ns = t->v.h->n_special;
	t->special_text = calloc(ns ? ns : 1, sizeof *t->special_text);
	for (uint32_t i = 0; t->special_text && i < ns; i++) {
		uint32_t s = t->v.special_ids[i];
		t->special_text[i] = strndup((const char *)t->v.bytes + t->v.off[s], t->v.off[s + 1] - t->v.off[s]);
		if (!t->special_text[i]) {
			tok_free(t);
			err_set(e, "out of memory");
			return NULL;
		}
	}
	if (!t->special_text) {
		tok_free(t);
		err_set(e, "out of memory");
		return NULL;
	}
	snprintf(t->name, sizeof t->name, "%.32s", t->v.h->name);
	return t;
}

void tok_free(Tokenizer *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; t->special_text && i < t->v.h->n_special; i++)
		free(t->special_text[i]);
	free(t->special_text);
	free(t->owned);
	free(t);
}

const char *tok_name(const Tokenizer *t) { return t->name; }
uint32_t tok_n_vocab(const Tokenizer *t) { return t->v.h->n_vocab; }
int32_t tok_eot(const Tokenizer *t) { return t->v.h->eot; }
PretokKind tok_pretok(const Tokenizer *t) { return t->pretok; }
size_t tok_n_specials(const Tokenizer *t) { return t->v.h->n_special; }

const char *tok_special_text(const Tokenizer *t, size_t i, uint32_t *id)
{
	if (i >= t->v.h->n_special)
		return NULL;
	if (id)
		*id = t->v.special_ids[i];
	return t->special_text[i];
}

int64_t tok_special_id(const Tokenizer *t, const char *text)
{
	size_t n = strlen(text);
	for (uint32_t i = 0; i < t->v.h->n_special; i++) {
		uint32_t s = t->v.special_ids[i];
		if (t->v.off[s + 1] - t->v.off[s] == n && memcmp(t->v.bytes + t->v.off[s], text, n) == 0)
			return s;
	}
	return -1;
}

const uint8_t *tok_token_bytes(const Tokenizer *t, uint32_t id, size_t *len)
{
	if (id >= t->v.h->n_vocab || t->v.off[id] == t->v.off[id + 1])
		return NULL;
	*len = t->v.off[id + 1] - t->v.off[id];
	return t->v.bytes + t->v.off[id];
}

static int grow(uint8_t **buf, size_t *cap, size_t need, Error *e)
{
	size_t nc = *cap ? *cap : 4096;
	while (nc < need)
		nc *= 2;
	uint8_t *nb = realloc(*buf, nc);
	if (!nb)
		return err_set(e, "out of memory");
	*buf = nb;
	*cap = nc;
	return 0;
}

/* The largest of n ids: a loop the compiler vectorises, so that the copy
 * loop below need not check each id against the vocabulary. */
static uint32_t max_id(const uint32_t *ids, size_t n)
{
	uint32_t m = 0;
	for (size_t i = 0; i < n; i++)
		m = ids[i] > m ? ids[i] : m;
	return m;
}

/* One token the careful way: an id out of range, a gap, or a token of 16
 * bytes or more (from the byte pool, growing buf for it).  i is its index
 * among n; the room for 16 bytes per token to come is kept. */
static int decode_slow(const Tokenizer *t, const uint32_t *ids, size_t i, size_t n, uint8_t **o,
		       uint8_t **buf, size_t *len, size_t *cap, size_t *bad, Error *e)
{
	uint32_t id = ids[i], nv = t->v.h->n_vocab;
	uint32_t a = id < nv ? t->v.off[id] : 0, tl = id < nv ? t->v.off[id + 1] - a : 0;
	size_t at = (size_t)(*o - *buf);
	if (tl == 0) {
		*len = at;
		if (bad)
			*bad = i;
		if (id >= nv)
			return err_set(e, "token %u is outside the %s vocabulary (%u)", id, t->name, nv);
		return err_set(e, "token %u names no token in %s", id, t->name);
	}
	if (*cap - at < tl + 16 * (n - i) + 16) {
		if (grow(buf, cap, at + tl + 16 * (n - i) + 16, e)) {
			*len = at;
			return -1;
		}
		*o = *buf + at;
	}
	memcpy(*o, t->v.bytes + a, tl);
	*o += tl;
	return 0;
}

/* Ids are checked a block at a time, a block small enough to stay in L1
 * for the copy loop that follows. */
#define DEC_BLOCK 256

/* How many tokens ahead the decoder prefetches records: they are random
 * places in a table of megabytes that a fresh process has not yet read,
 * and waiting for them was most of its time.  16 to 512 measured; gains
 * grew up to 256 (o200k_base 1.53 to 1.87 GB/s, gpt2 1.84 to 2.01). */
#define DEC_AHEAD 256

/* Copy the records of ids[*i..end) (ids known to be in range) to *o, four
 * tokens a round, until a token that is not 1..15 bytes: each record holds
 * the token's bytes and its length in [15]; it is copied whole (the
 * output has room for 16 bytes per token) and the output advances by the
 * length.  The length of a gap or a longer token is 255.  ids has n. */
static void decode_fast(const uint8_t *dec, const uint32_t *ids, size_t n, size_t *i, size_t end,
			uint8_t **o)
{
	size_t k = *i;
	uint8_t *p = *o;
	for (; k + 4 <= end; k += 4) {
		if (k + DEC_AHEAD + 4 <= n) { /* ids not yet checked: a prefetch never faults */
			uintptr_t d = (uintptr_t)dec;
			const uint32_t *f = ids + k + DEC_AHEAD;
			__builtin_prefetch((const void *)(d + 16 * (uintptr_t)f[0]));
			__builtin_prefetch((const void *)(d + 16 * (uintptr_t)f[1]));
			__builtin_prefetch((const void *)(d + 16 * (uintptr_t)f[2]));
			__builtin_prefetch((const void *)(d + 16 * (uintptr_t)f[3]));
		}
		const uint8_t *r0 = dec + 16 * (size_t)ids[k], *r1 = dec + 16 * (size_t)ids[k + 1];
		const uint8_t *r2 = dec + 16 * (size_t)ids[k + 2], *r3 = dec + 16 * (size_t)ids[k + 3];
		uint8_t l0 = r0[15], l1 = r1[15], l2 = r2[15], l3 = r3[15];
		if (__builtin_expect((l0 | l1 | l2 | l3) > 15, 0))
			break; /* one of them is not short: the tail loop finds which */
		memcpy(p, r0, 16);
		p += l0;
		memcpy(p, r1, 16);
		p += l1;
		memcpy(p, r2, 16);
		p += l2;
		memcpy(p, r3, 16);
		p += l3;
	}
	for (; k < end; k++) {
		const uint8_t *r = dec + 16 * (size_t)ids[k];
		if (r[15] > 15)
			break;
		memcpy(p, r, 16);
		p += r[15];
	}
	*i = k;
	*o = p;
}

int tok_decode(const Tokenizer *t, const uint32_t *ids, size_t n, uint8_t **buf, size_t *len,
	       size_t *cap, size_t *bad, Error *e)
{
	const uint32_t nv = t->v.h->n_vocab;
	const uint8_t *dec = t->v.dec;
	size_t L = *len;
	/* room for n tokens of up to 16 bytes; longer ones make more */
	if (*cap - L < 16 * n + 16 && grow(buf, cap, L + 16 * n + 16, e))
		return -1;
	uint8_t *o = *buf + L;
	for (size_t i = 0; i < n;) {
		size_t end = n - i < DEC_BLOCK ? n : i + DEC_BLOCK;
		int checked = max_id(ids + i, end - i) < nv;
		while (i < end) {
			if (checked)
				decode_fast(dec, ids, n, &i, end, &o);
			if (i == end)
				break;
			/* a longer token, a gap, or a block with an id out of range */
			if (decode_slow(t, ids, i, n, &o, buf, len, cap, bad, e))
				return -1;
			i++;
		}
	}
	*len = (size_t)(o - *buf);
	return 0;
}

void tokvec_free(TokVec *v)
{
	free(v->ids);
	v->ids = NULL;
	v->len = v->cap = 0;
}

int tokvec_reserve(TokVec *v, size_t n, Error *e)
{
	if (v->cap - v->len >= n)
		return 0;
	size_t nc = v->cap ? v->cap : 256;
	while (nc - v->len < n)
		nc *= 2;
	uint32_t *ni = realloc(v->ids, nc * sizeof *ni);
	if (!ni)
		return err_set(e, "out of memory");
	v->ids = ni;
	v->cap = nc;
	return 0;
}

/* ---- opening ---- */

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static int ends_with(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && strcmp(s + a - b, suf) == 0;
}

/* A stream-header-safe name from a file name: printable, no spaces, <= 32. */
void tok_name_from_path(const char *path, char *out, size_t cap)
{
	const char *b = base_name(path);
	size_t n = 0;
	for (; *b && *b != '.' && n + 1 < cap && n < 32; b++)
		out[n++] = (*b > 0x20 && *b < 0x7f) ? *b : '_';
	if (n == 0)
		out[n++] = 'x';
	out[n] = 0;
}

/* The built-in whose ordinary tokens are exactly these, if any. */
const char *tok_same_as_builtin(const TableEntry *ent, uint32_t n)
{
	static const char *const names[] = {"gpt2", "p50k_base", "cl100k_base", "o200k_base"};
	for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
		const void *blk;
		size_t size;
		TableView v;
		if (tok_builtin_table(names[k], &blk, &size) || table_view(blk, size, &v, NULL))
			continue;
		uint32_t i, nr = 0;
		for (i = 0; i < n && i < v.h->n_vocab; i++) {
			if (ent[i].kind != 1)
				continue;
			uint32_t l = v.off[i + 1] - v.off[i];
			if (l != ent[i].len || memcmp(v.bytes + v.off[i], ent[i].bytes, l) != 0)
				break;
			nr++;
		}
		if (i == n && nr == v.h->n_ranks)
			return names[k];
	}
	return NULL;
}

Tokenizer *tok_open_tiktoken(const char *path, int pattern, const TokSpecial *specials,
			     size_t n_specials, Error *e)
{
	uint8_t *buf, *store;
	size_t len;
	TableEntry *ent;
	uint32_t n;
	if (io_read_all(path, &buf, &len, e))
		return NULL;
	int rc = table_parse_tiktoken(buf, len, path, &ent, &n, &store, e);
	free(buf);
	if (rc)
		return NULL;
	Tokenizer *t = NULL;
	char name[33];
	tok_name_from_path(path, name, sizeof name);
	const char *same = specials ? NULL : tok_same_as_builtin(ent, n);
	Tokenizer *bt = NULL;
	if (same) {
		/* the built-in's special tokens (and its pattern, unless named) */
		if (!(bt = tok_open(same, e)))
			goto out;
		specials = NULL;
		n_specials = 0;
	}
	size_t ns = bt ? tok_n_specials(bt) : n_specials;
	for (size_t i = 0; i < ns; i++) {
		uint32_t id = 0;
		const uint8_t *txt;
		size_t tl = 0;
		if (bt) {
			tok_special_text(bt, i, &id);
			txt = tok_token_bytes(bt, id, &tl);
		} else {
			id = specials[i].id;
			txt = (const uint8_t *)specials[i].text;
			tl = strlen(specials[i].text);
		}
		if (id >= (1u << 26)) {
			err_set(e, "%s: special token id %u is too large", path, id);
			goto out;
		}
		if (id >= n) {
			TableEntry *ne = realloc(ent, ((size_t)id + 1) * sizeof *ent);
			if (!ne) {
				err_set(e, "out of memory");
				goto out;
			}
			memset(ne + n, 0, ((size_t)id + 1 - n) * sizeof *ent);
			ent = ne;
			n = id + 1;
		}
		if (ent[id].kind) {
			err_set(e, "%s: special token id %u is already a token", path, id);
			goto out;
		}
		ent[id] = (TableEntry){txt, (uint32_t)tl, 2};
	}
	if (pattern < 0)
		pattern = bt ? (int)tok_pretok(bt) : PRETOK_GPT2;
	void *block;
	size_t size;
	if (table_build(name, pattern, ent, n, &block, &size, e) == 0)
		t = tok_from_block(block, size, block, e);
	else {
		/* prefix the file name unless the message has it */
		if (strncmp(e->msg, path, strlen(path)) != 0) {
			char m[sizeof e->msg];
			snprintf(m, sizeof m, "%.200s: %.300s", path, e->msg);
			memcpy(e->msg, m, sizeof m);
		}
	}
out:
	tok_free(bt);
	free(ent);
	free(store);
	return t;
}

Tokenizer *tok_open(const char *spec, Error *e)
{
	const void *blk;
	size_t size;
	if (tok_builtin_table(spec, &blk, &size) == 0) {
		Tokenizer *t = tok_from_block(blk, size, NULL, e);
		if (t && strcmp(spec, "r50k_base") == 0)
			snprintf(t->name, sizeof t->name, "r50k_base");
		return t;
	}
	struct stat st;
	if (stat(spec, &st) != 0) {
		if (!strchr(spec, '/') && !strchr(spec, '.'))
			err_set(e, "unknown encoding '%s' (built in: gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, bytes)", spec);
		else
			err_errno(e, "%s", spec);
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		char a[4096], b[4096];
		snprintf(a, sizeof a, "%s/encoder.json", spec);
		snprintf(b, sizeof b, "%s/vocab.bpe", spec);
		return tok_open_gpt2_json(a, b, e);
	}
	if (ends_with(spec, ".json")) {
		char b[4096];
		const char *slash = strrchr(spec, '/');
		snprintf(b, sizeof b, "%.*svocab.bpe", slash ? (int)(slash - spec + 1) : 0, spec);
		return tok_open_gpt2_json(spec, b, e);
	}
	uint8_t *buf;
	size_t len;
	if (io_read_all(spec, &buf, &len, e))
		return NULL;
	size_t ml = strlen(TOKFILE_MAGIC);
	if (len >= ml && memcmp(buf, TOKFILE_MAGIC, ml) == 0) {
		Tokenizer *t = tokfile_parse(buf, len, spec, e);
		free(buf);
		return t;
	}
	free(buf);
	return tok_open_tiktoken(spec, -1, NULL, 0, e);
}
