/* The merge loop: learn byte-level BPE merges from counted pieces.
 *
 * Every distinct piece becomes a word of byte symbols laid out in one array
 * of slots.  A token spanning several slots lives at its first slot; its
 * length in slots is kept at both its first and its last slot (boundary
 * tags), so both neighbours of a token are found in O(1), and the other
 * slots hold -1.  Each pair of adjacent token ids has a count (weighted by
 * the words' counts) and a list of the slots where it was seen; a merge
 * visits exactly those slots and updates the counts of the neighbouring
 * pairs, as Hugging Face's trainer and sentencepiece do.  The best pair comes
 * from a max-heap whose entries may be stale: an entry whose count no longer
 * matches is pushed again with the current count when it surfaces.  That is
 * exact because a merge only lowers the counts of existing pairs; the pairs
 * it raises hold the new token and are pushed afresh. */
#include "bpe_train.h"

#include <stdlib.h>
#include <string.h>

/* ---- Types ---- */

typedef struct {
	uint32_t *v;
	uint32_t n, cap;
} Occ;

typedef struct {
	uint32_t a, b;
	uint32_t stamp;   /* the step in which its count last rose */
	int64_t count;
	Occ occ;          /* slots of its left token, ascending within a step */
} Pair;

typedef struct {
	uint64_t count;
	uint32_t ka, kb;    /* the tie order's keys of the pair's tokens */
	uint32_t idx;
} HeapEnt;

typedef struct {
	/* words */
	int32_t *sym;       /* token id at a token's first slot, -1 elsewhere */
	uint32_t *span;     /* token length in slots, at its first and last slot */
	uint32_t *wstart;   /* word w is slots [wstart[w], wstart[w + 1]) */
	uint64_t *wcount;
	size_t nwords;
	/* pairs */
	Pair *pair;
	size_t npair, cappair;
	uint64_t *mkey;     /* open addressing: a << 32 | b, ~0 = empty */
	uint32_t *mval;
	size_t nmap;        /* a power of two */
	HeapEnt *heap;
	size_t nheap, capheap;
	uint32_t *touched;
	size_t ntouched, captouched;
	uint32_t step;
	uint32_t key[256];  /* tie order of the byte tokens (others: their id) */
	/* tokens */
	uint32_t *tmap;     /* token bytes -> id + 1 (0 = empty) */
	size_t ntmap;
} Trainer;

#define KEY(a, b) ((uint64_t)(a) << 32 | (uint32_t)(b))
#define EMPTY_KEY UINT64_MAX

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* ---- Pair map ---- */

static int map_grow(Trainer *t, Error *e)
{
	size_t nn = t->nmap ? t->nmap * 2 : 1 << 12;
	uint64_t *k = malloc(nn * sizeof *k);
	uint32_t *v = malloc(nn * sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		return err_set(e, "out of memory (%zu pairs)", t->npair);
	}
	memset(k, 0xff, nn * sizeof *k);
	for (size_t i = 0; i < t->nmap; i++) {
		if (t->mkey[i] == EMPTY_KEY)
			continue;
		size_t j = mix64(t->mkey[i]) & (nn - 1);
		while (k[j] != EMPTY_KEY)
			j = (j + 1) & (nn - 1);
		k[j] = t->mkey[i];
		v[j] = t->mval[i];
	}
	free(t->mkey);
	free(t->mval);
	t->mkey = k;
	t->mval = v;
	t->nmap = nn;
	return 0;
}

static int64_t pair_find(const Trainer *t, uint32_t a, uint32_t b)
{
	uint64_t key = KEY(a, b);
	size_t mask = t->nmap - 1, j = mix64(key) & mask;
	for (; t->mkey[j] != EMPTY_KEY; j = (j + 1) & mask)
		if (t->mkey[j] == key)
			return t->mval[j];
	return -1;
}

/* The index of pair (a, b), made with count 0 when new; -1 on failure. */
static int64_t pair_get(Trainer *t, uint32_t a, uint32_t b, Error *e)
{
	uint64_t key = KEY(a, b);
	size_t mask = t->nmap - 1, j = mix64(key) & mask;
	for (; t->mkey[j] != EMPTY_KEY; j = (j + 1) & mask)
		if (t->mkey[j] == key)
			return t->mval[j];
	if (t->npair == t->cappair) {
		size_t nc = t->cappair ? t->cappair * 2 : 1 << 16;
		Pair *np = realloc(t->pair, nc * sizeof *np);
		if (!np)
			return err_set(e, "out of memory (%zu pairs)", t->npair);
		t->pair = np;
		t->cappair = nc;
	}
	uint32_t idx = (uint32_t)t->npair++;
	t->pair[idx] = (Pair){ .a = a, .b = b, .stamp = UINT32_MAX };
	t->mkey[j] = key;
	t->mval[j] = idx;
	if (t->npair * 2 > t->nmap && map_grow(t, e))
		return -1;
	return idx;
}

static int occ_push(Occ *o, uint32_t pos, Error *e)
{
	if (o->n == o->cap) {
		uint32_t nc = o->cap ? o->cap * 2 : 4;
		if (nc < o->cap)
			return err_set(e, "too many occurrences of one pair");
		uint32_t *nv = realloc(o->v, (size_t)nc * sizeof *nv);
		if (!nv)
			return err_set(e, "out of memory (pair occurrences)");
		o->v = nv;
		o->cap = nc;
	}
	o->v[o->n++] = pos;
	return 0;
}

static void occ_free(Occ *o)
{
	free(o->v);
	*o = (Occ){ 0 };
}

/* ---- Heap: the most frequent pair first, then the smallest (a, b) ---- */

static int heap_before(const HeapEnt *x, const HeapEnt *y)
{
	if (x->count != y->count)
		return x->count > y->count;
	if (x->ka != y->ka)
		return x->ka < y->ka;
	return x->kb < y->kb;
}

static void heap_down(HeapEnt *h, size_t n, size_t i)
{
	HeapEnt x = h[i];
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && heap_before(&h[c + 1], &h[c]))
			c++;
		if (!heap_before(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

static int heap_push(Trainer *t, uint32_t idx, Error *e)
{
	if (t->nheap == t->capheap) {
		size_t nc = t->capheap ? t->capheap * 2 : 1 << 12;
		HeapEnt *nh = realloc(t->heap, nc * sizeof *nh);
		if (!nh)
			return err_set(e, "out of memory (pair heap)");
		t->heap = nh;
		t->capheap = nc;
	}
	const Pair *p = &t->pair[idx];
	HeapEnt x = { (uint64_t)p->count, p->a < 256 ? t->key[p->a] : p->a,
		      p->b < 256 ? t->key[p->b] : p->b, idx };
	size_t i = t->nheap++;
	while (i > 0) {
		size_t up = (i - 1) / 2;
		if (!heap_before(&x, &t->heap[up]))
			break;
		t->heap[i] = t->heap[up];
		i = up;
	}
	t->heap[i] = x;
	return 0;
}

static int heap_pop(Trainer *t, HeapEnt *out)
{
	if (t->nheap == 0)
		return 0;
	*out = t->heap[0];
	t->heap[0] = t->heap[--t->nheap];
	if (t->nheap)
		heap_down(t->heap, t->nheap, 0);
	return 1;
}

/* ---- Tokens ---- */

static uint64_t hash_tok(const uint8_t *s, uint32_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return mix64(h);
}

static int tmap_insert(Trainer *t, const BpeVocab *v, uint32_t id, Error *e)
{
	if ((size_t)v->n_tokens * 2 >= t->ntmap) {
		size_t nn = t->ntmap ? t->ntmap * 2 : 1024;
		uint32_t *m = calloc(nn, sizeof *m);
		if (!m)
			return err_set(e, "out of memory");
		for (uint32_t i = 0; i < id; i++) {
			size_t j = hash_tok(v->tok[i], v->len[i]) & (nn - 1);
			while (m[j])
				j = (j + 1) & (nn - 1);
			m[j] = i + 1;
		}
		free(t->tmap);
		t->tmap = m;
		t->ntmap = nn;
	}
	size_t j = hash_tok(v->tok[id], v->len[id]) & (t->ntmap - 1);
	while (t->tmap[j])
		j = (j + 1) & (t->ntmap - 1);
	t->tmap[j] = id + 1;
	return 0;
}

static int64_t tmap_find(const Trainer *t, const BpeVocab *v, const uint8_t *s, uint32_t n)
{
	size_t j = hash_tok(s, n) & (t->ntmap - 1);
	for (uint32_t k; (k = t->tmap[j]); j = (j + 1) & (t->ntmap - 1))
		if (v->len[k - 1] == n && memcmp(v->tok[k - 1], s, n) == 0)
			return k - 1;
	return -1;
}

/* The token a + b: an existing one with the same bytes, or a new one. */
static int64_t token_for(Trainer *t, BpeVocab *v, uint32_t a, uint32_t b, uint32_t *cap, Error *e)
{
	uint32_t n = v->len[a] + v->len[b];
	uint8_t *s = malloc(n);
	if (!s)
		return err_set(e, "out of memory");
	memcpy(s, v->tok[a], v->len[a]);
	memcpy(s + v->len[a], v->tok[b], v->len[b]);
	int64_t old = tmap_find(t, v, s, n);
	if (old >= 0) {
		free(s);
		return old;
	}
	if (v->n_tokens == *cap) {
		uint32_t nc = *cap * 2;
		uint8_t **nt = realloc(v->tok, (size_t)nc * sizeof *nt);
		uint32_t *nl = nt ? realloc(v->len, (size_t)nc * sizeof *nl) : NULL;
		if (nt)
			v->tok = nt;
		if (!nl) {
			free(s);
			return err_set(e, "out of memory (%u tokens)", v->n_tokens);
		}
		v->len = nl;
		*cap = nc;
	}
	uint32_t id = v->n_tokens++;
	v->tok[id] = s;
	v->len[id] = n;
	if (tmap_insert(t, v, id, e))
		return -1;
	return id;
}

/* ---- Setting up ---- */

/* Byte b's place in the tie order: its value, or with hf its rank among
 * the GPT-2 byte-level characters sorted by code point (the printable
 * bytes keep their code point; the other 68 map above 255 in byte order). */
static void tie_keys(uint32_t key[256], int hf)
{
	uint32_t n = 0;
	for (uint32_t b = 0; b < 256; b++)
		key[b] = b;
	if (!hf)
		return;
	for (uint32_t b = 0; b < 256; b++)
		if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)
			key[b] = n++;
	for (uint32_t b = 0; b < 256; b++)
		if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174))
			key[b] = n++;
}

static int load_words(Trainer *t, const PieceTable *pt, Error *e)
{
	size_t nslots = 0, nw = 0, cur = 0;
	uint32_t len;
	uint64_t c;
	while (piece_table_next(pt, &cur, &len, &c))
		if (len >= 2) {
			nslots += len;
			nw++;
		}
	if (nslots >= UINT32_MAX)
		return err_set(e, "%zu bytes of distinct pieces is more than this trainer holds (4 GiB)",
			       nslots);
	t->sym = malloc((nslots + 1) * sizeof *t->sym);
	t->span = malloc((nslots + 1) * sizeof *t->span);
	t->wstart = malloc((nw + 1) * sizeof *t->wstart);
	t->wcount = malloc((nw + 1) * sizeof *t->wcount);
	if (!t->sym || !t->span || !t->wstart || !t->wcount)
		return err_set(e, "out of memory (%zu slots)", nslots);
	size_t s = 0, w = 0;
	cur = 0;
	for (const uint8_t *p; (p = piece_table_next(pt, &cur, &len, &c));) {
		if (len < 2)
			continue;
		t->wstart[w] = (uint32_t)s;
		t->wcount[w++] = c;
		for (uint32_t k = 0; k < len; k++) {
			t->sym[s] = p[k];
			t->span[s++] = 1;
		}
	}
	t->wstart[w] = (uint32_t)s;
	t->nwords = w;
	return 0;
}

/* Count the byte pairs with a direct table, then list their slots. */
static int count_initial_pairs(Trainer *t, Error *e)
{
	uint32_t *idx = calloc(65536, sizeof *idx);   /* pair index + 1 */
	uint32_t *nocc = calloc(65536, sizeof *nocc);
	int rc = -1;
	if (!idx || !nocc) {
		err_set(e, "out of memory");
		goto out;
	}
	for (size_t w = 0; w < t->nwords; w++)
		for (uint32_t p = t->wstart[w]; p + 1 < t->wstart[w + 1]; p++)
			nocc[t->sym[p] << 8 | t->sym[p + 1]]++;
	for (uint32_t k = 0; k < 65536; k++) {
		if (!nocc[k])
			continue;
		int64_t pi = pair_get(t, k >> 8, k & 255, e);
		if (pi < 0)
			goto out;
		idx[k] = (uint32_t)pi + 1;
		Occ *o = &t->pair[pi].occ;
		if (!(o->v = malloc((size_t)nocc[k] * sizeof *o->v))) {
			err_set(e, "out of memory (pair occurrences)");
			goto out;
		}
		o->cap = nocc[k];
	}
	for (size_t w = 0; w < t->nwords; w++) {
		uint64_t c = t->wcount[w];
		for (uint32_t p = t->wstart[w]; p + 1 < t->wstart[w + 1]; p++) {
			Pair *pr = &t->pair[idx[t->sym[p] << 8 | t->sym[p + 1]] - 1];
			pr->count += (int64_t)c;
			pr->occ.v[pr->occ.n++] = p;
		}
	}
	for (size_t i = 0; i < t->npair; i++)
		if (heap_push(t, (uint32_t)i, e))
			goto out;
	rc = 0;
out:
	free(idx);
	free(nocc);
	return rc;
}

/* ---- One merge ---- */

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return (a > b) - (a < b);
}

static int pair_dec(Trainer *t, uint32_t a, uint32_t b, uint64_t c, Error *e)
{
	int64_t i = pair_find(t, a, b);
	if (i < 0)
		return err_set(e, "internal error: pair (%u, %u) has no count", a, b);
	Pair *p = &t->pair[i];
	p->count -= (int64_t)c;
	if (p->count == 0)
		occ_free(&p->occ);   /* every slot in it is stale now */
	return 0;
}

static int pair_inc(Trainer *t, uint32_t a, uint32_t b, uint64_t c, uint32_t pos, Error *e)
{
	int64_t i = pair_get(t, a, b, e);
	if (i < 0)
		return -1;
	Pair *p = &t->pair[i];
	p->count += (int64_t)c;
	if (!p->occ.n || p->occ.v[p->occ.n - 1] != pos)
		if (occ_push(&p->occ, pos, e))
			return -1;
	if (p->stamp != t->step) {
		p->stamp = t->step;
		if (t->ntouched == t->captouched) {
			size_t nc = t->captouched ? t->captouched * 2 : 1024;
			uint32_t *nt = realloc(t->touched, nc * sizeof *nt);
			if (!nt)
				return err_set(e, "out of memory");
			t->touched = nt;
			t->captouched = nc;
		}
		t->touched[t->ntouched++] = (uint32_t)i;
	}
	return 0;
}

/* The word holding slot p, searching forward from word w. */
static size_t word_of(const Trainer *t, size_t w, uint32_t p)
{
	if (p < t->wstart[w + 1])
		return w;
	size_t lo = w + 1, hi = t->nwords;   /* wstart[lo] <= p < wstart[hi] */
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->wstart[mid] <= p)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* Replace every occurrence of pair pi (a, b) by token z, left to right
 * within each word, keeping the neighbouring pairs' counts exact. */
static int apply_merge(Trainer *t, uint32_t pi, uint32_t z, Error *e)
{
	uint32_t a = t->pair[pi].a, b = t->pair[pi].b;
	Occ occ = t->pair[pi].occ;
	t->pair[pi].occ = (Occ){ 0 };
	int rc = -1;
	for (uint32_t i = 1; i < occ.n; i++)
		if (occ.v[i] <= occ.v[i - 1]) {
			qsort(occ.v, occ.n, sizeof *occ.v, cmp_u32);
			break;
		}
	size_t w = 0;
	uint32_t last = UINT32_MAX;
	for (uint32_t i = 0; i < occ.n; i++) {
		uint32_t p = occ.v[i];
		if (p == last || t->sym[p] != (int32_t)a)
			continue;
		last = p;
		w = word_of(t, w, p);
		uint32_t ws = t->wstart[w], we = t->wstart[w + 1];
		uint32_t q = p + t->span[p];
		if (q >= we || t->sym[q] != (int32_t)b)
			continue;
		uint64_t c = t->wcount[w];
		uint32_t r = q + t->span[q];
		t->pair[pi].count -= (int64_t)c;
		if (p > ws) {
			uint32_t prv = p - t->span[p - 1];
			uint32_t x = (uint32_t)t->sym[prv];
			if (pair_dec(t, x, a, c, e) || pair_inc(t, x, z, c, prv, e))
				goto out;
		}
		if (r < we) {
			uint32_t y = (uint32_t)t->sym[r];
			if (pair_dec(t, b, y, c, e) || pair_inc(t, z, y, c, p, e))
				goto out;
		}
		uint32_t s = t->span[p] + t->span[q];
		t->sym[p] = (int32_t)z;
		t->sym[q] = -1;
		t->span[p] = s;
		t->span[p + s - 1] = s;
	}
	if (t->pair[pi].count != 0) {
		err_set(e, "internal error: pair (%u, %u) left with count %lld", a, b,
			(long long)t->pair[pi].count);
		goto out;
	}
	for (size_t i = 0; i < t->ntouched; i++) {
		Pair *p = &t->pair[t->touched[i]];
		if (p->count < 0) {
			err_set(e, "internal error: pair (%u, %u) has count %lld", p->a, p->b,
				(long long)p->count);
			goto out;
		}
		if (p->count > 0 && heap_push(t, t->touched[i], e))
			goto out;
	}
	t->ntouched = 0;
	rc = 0;
out:
	free(occ.v);
	return rc;
}

/* ---- Training ---- */

static void trainer_free(Trainer *t)
{
	free(t->sym);
	free(t->span);
	free(t->wstart);
	free(t->wcount);
	for (size_t i = 0; i < t->npair; i++)
		free(t->pair[i].occ.v);
	free(t->pair);
	free(t->mkey);
	free(t->mval);
	free(t->heap);
	free(t->touched);
	free(t->tmap);
}

void bpe_vocab_free(BpeVocab *v)
{
	if (v->tok)
		for (uint32_t i = 0; i < v->n_tokens; i++)
			free(v->tok[i]);
	free(v->tok);
	free(v->len);
	free(v->merges);
	*v = (BpeVocab){ 0 };
}

int bpe_train(const PieceTable *pt, const TrainOpts *o, BpeVocab *v, Error *e)
{
	Trainer t = { 0 };
	uint32_t target = o->n_tokens < 256 ? 256 : o->n_tokens;
	uint64_t minf = o->min_frequency ? o->min_frequency : 1;
	size_t capm = 0;
	*v = (BpeVocab){ 0 };
	uint32_t capt = target < 4096 ? target : 4096;
	v->tok = calloc(capt, sizeof *v->tok);
	v->len = calloc(capt, sizeof *v->len);
	if (!v->tok || !v->len) {
		err_set(e, "out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < 256; i++) {
		if (!(v->tok[i] = malloc(1))) {
			err_set(e, "out of memory");
			goto fail;
		}
		v->tok[i][0] = (uint8_t)i;
		v->len[i] = 1;
		v->n_tokens = i + 1;
		if (tmap_insert(&t, v, i, e))
			goto fail;
	}
	tie_keys(t.key, o->hf_ties);
	if (map_grow(&t, e) || load_words(&t, pt, e) || count_initial_pairs(&t, e))
		goto fail;
	while (v->n_tokens < target) {
		HeapEnt top;
		if (!heap_pop(&t, &top))
			break;
		Pair *p = &t.pair[top.idx];
		if ((int64_t)top.count != p->count) {
			if (p->count > 0 && heap_push(&t, top.idx, e))
				goto fail;
			continue;
		}
		if (top.count < minf)
			break;
		uint32_t a = p->a, b = p->b;
		int64_t z = token_for(&t, v, a, b, &capt, e);
		if (z < 0)
			goto fail;
		if (v->n_merges == capm) {
			capm = capm ? capm * 2 : 1024;
			BpeMerge *nm = realloc(v->merges, capm * sizeof *nm);
			if (!nm) {
				err_set(e, "out of memory");
				goto fail;
			}
			v->merges = nm;
		}
		v->merges[v->n_merges++] = (BpeMerge){ a, b, (uint32_t)z, top.count };
		t.step++;
		if (apply_merge(&t, top.idx, (uint32_t)z, e))
			goto fail;
		if (o->progress)
			o->progress(o->progress_ctx, v, target);
	}
	trainer_free(&t);
	return 0;
fail:
	trainer_free(&t);
	bpe_vocab_free(v);
	return -1;
}
