/* Encoding: pre-tokenize, then byte-pair merge each piece by rank, as
 * tiktoken does (the adjacent pair whose bytes have the lowest rank merges
 * first, the leftmost on ties).  Short pieces use tiktoken's own quadratic
 * scan, which is fastest there; long ones a heap over a linked list, so no
 * input is quadratic. */
#include "tok_impl.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define NONE UINT32_MAX
#define SHORT_PIECE 48

/* a[0..n) == b[0..n), reading no byte outside either */
static inline int eq_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	if (n >= 8) {
		if (n <= 16)
			return tok_load64(a) == tok_load64(b) && tok_load64(a + n - 8) == tok_load64(b + n - 8);
		return memcmp(a, b, n) == 0;
	}
	if (n >= 4)
		return tok_load32(a) == tok_load32(b) && tok_load32(a + n - 4) == tok_load32(b + n - 4);
	return a[0] == b[0] && a[n >> 1] == b[n >> 1] && a[n - 1] == b[n - 1];
}

/* Rank (= id) of the byte string p[0..n) with key tok_key8 and hash h,
 * or NONE.  Up to 8 bytes, the slot alone decides. */
static inline uint32_t lookup_h(const TableView *v, const uint8_t *p, size_t n, uint64_t key, uint64_t h)
{
	const uint32_t ns = v->h->nslots, lt = tok_lentag(h, n);
	for (uint32_t k = tok_slot(h, ns);; k = k + 1 == ns ? 0 : k + 1) {
		const TableSlot *sl = &v->slots[k];
		if (sl->id1 == 0)
			return NONE;
		if (sl->key == key && sl->lentag == lt) {
			uint32_t id = sl->id1 - 1;
			if (n <= 8)
				return id;
			uint32_t o = v->off[id];
			if (v->off[id + 1] - o == n && eq_bytes(v->bytes + o, p, n))
				return id;
		}
	}
}

static inline uint32_t lookup(const TableView *v, const uint8_t *p, size_t n)
{
	if (n > v->h->max_len)
		return NONE;
	uint64_t key = tok_key8(p, n);
	return lookup_h(v, p, n, key, tok_hash_k(p, n, key));
}

int64_t tok_rank(const Tokenizer *t, const uint8_t *p, size_t n)
{
	uint32_t id = n ? lookup(&t->v, p, n) : NONE;
	return id == NONE ? -1 : (int64_t)id;
}

typedef struct {
	uint32_t *ids;   /* NULL: only count */
	size_t n;
} Sink;

static inline void emit(Sink *s, uint32_t id)
{
	if (s->ids)
		s->ids[s->n] = id;
	s->n++;
}

/* tok_key8 without branches on n, where 8 bytes from p are readable */
static inline uint64_t key8_fast(const uint8_t *p, size_t n)
{
	return n >= 8 ? tok_load64(p) : tok_load64(p) & (~0ull >> (64 - 8 * n));
}

/* lookup of p[0..n) in a text that ends at end */
static inline uint32_t lookup_in(const TableView *v, const uint8_t *p, size_t n, const uint8_t *end)
{
	if (n > v->h->max_len)
		return NONE;
	uint64_t key = end - p >= 8 ? key8_fast(p, n) : tok_key8(p, n);
	return lookup_h(v, p, n, key, tok_hash_k(p, n, key));
}

/* tiktoken's _byte_pair_merge for a piece of n <= SHORT_PIECE bytes (of a
 * text that ends at end); the ids go to ids[], their number is returned. */
static size_t merge_short(const TableView *v, const uint8_t *p, size_t n, const uint8_t *end, uint32_t *ids)
{
	uint32_t start[SHORT_PIECE + 1], rank[SHORT_PIECE + 1];
	size_t m = n; /* parts */
	for (size_t i = 0; i <= n; i++)
		start[i] = (uint32_t)i;
	for (size_t i = 0; i + 1 < m; i++)
		rank[i] = lookup_in(v, p + i, 2, end);
	rank[m - 1] = rank[m] = NONE;
	for (;;) {
		/* the lowest (rank, position), without a branch per pair */
		uint64_t best = UINT64_MAX;
		for (size_t i = 0; i + 1 < m; i++) {
			uint64_t k = (uint64_t)rank[i] << 32 | i;
			best = k < best ? k : best;
		}
		if ((best >> 32) == NONE)
			break;
		size_t bi = (uint32_t)best;
		/* merge parts bi and bi+1 */
		for (size_t k = bi + 1; k < m; k++) {
			start[k] = start[k + 1];
			rank[k] = rank[k + 1];
		}
		m--;
		if (bi + 1 < m)
			rank[bi] = lookup_in(v, p + start[bi], start[bi + 2] - start[bi], end);
		if (bi > 0)
			rank[bi - 1] = lookup_in(v, p + start[bi - 1], start[bi + 1] - start[bi - 1], end);
	}
	for (size_t i = 0; i < m; i++)
		ids[i] = lookup_in(v, p + start[i], start[i + 1] - start[i], end);
	return m;
}

/* Pieces that are not tokens repeat (names, rare words): remember their
 * merges in a small direct-mapped cache, one per encoding call. */
#define CACHE_BITS 12
#define CACHE_PIECE 30
#define CACHE_IDS 8
typedef struct {
	uint8_t plen, ntok;
	uint8_t bytes[CACHE_PIECE];
	uint32_t ids[CACHE_IDS];
} CacheEnt;

/* ---- long pieces ----
 * The pairs waiting to merge are kept in one bucket per rank, each a list
 * of positions, and a binary heap orders the ranks that have pairs.  A rank
 * is taken whole, its positions in increasing order (a merge never makes a
 * pair of the rank being merged: that pair's bytes are longer).  A merge
 * can make a pair of a lower rank; the current rank then waits in the heap
 * until the lower one is done.  Positions mostly arrive in increasing
 * order, so the lists rarely need sorting and everything is sequential. */

typedef struct {
	uint32_t rank;
	int sorted, queued;
	uint32_t *pos;
	size_t n, cap, cur;
} Bucket;

typedef struct {
	Bucket *b;
	size_t nb, capb;
	uint32_t *map;      /* rank -> bucket + 1, open addressing */
	size_t mapcap;
	uint32_t *heap;     /* buckets, by rank */
	size_t nh;
	uint32_t current;   /* rank being merged (NONE: none) */
	int preempt, oom;
} Queue;

static void q_heap_push(Queue *q, uint32_t bi)
{
	size_t i = q->nh++;
	uint32_t r = q->b[bi].rank;
	while (i) {
		size_t p = (i - 1) / 2;
		if (q->b[q->heap[p]].rank <= r)
			break;
		q->heap[i] = q->heap[p];
		i = p;
	}
	q->heap[i] = bi;
	q->b[bi].queued = 1;
}

static uint32_t q_heap_pop(Queue *q)
{
	uint32_t top = q->heap[0], x = q->heap[--q->nh];
	size_t i = 0, n = q->nh;
	uint32_t r = q->b[x].rank;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && q->b[q->heap[c + 1]].rank < q->b[q->heap[c]].rank)
			c++;
		if (q->b[q->heap[c]].rank >= r)
			break;
		q->heap[i] = q->heap[c];
		i = c;
	}
	if (n)
		q->heap[i] = x;
	q->b[top].queued = 0;
	return top;
}

static inline size_t q_hash(uint32_t r, size_t cap)
{
	return (size_t)((r * 0x9E3779B97F4A7C15ull) >> 20) & (cap - 1);
}

static Bucket *q_bucket(Queue *q, uint32_t r)
{
	if (2 * (q->nb + 1) > q->mapcap) {
		size_t nc = q->mapcap ? q->mapcap * 2 : 1024;
		uint32_t *nm = calloc(nc, sizeof *nm);
		uint32_t *nh = realloc(q->heap, (nc / 2) * sizeof *nh);
		Bucket *nbk = realloc(q->b, (nc / 2) * sizeof *nbk);
		if (!nm || !nh || !nbk) {
			free(nm);
			if (nh)
				q->heap = nh;
			if (nbk)
				q->b = nbk;
			q->oom = 1;
			return NULL;
		}
		for (size_t i = 0; i < q->nb; i++) {
			size_t k = q_hash(nbk[i].rank, nc);
			while (nm[k])
				k = (k + 1) & (nc - 1);
			nm[k] = (uint32_t)i + 1;
		}
		free(q->map);
		q->map = nm;
		q->mapcap = nc;
		q->heap = nh;
		q->b = nbk;
	}
	size_t k = q_hash(r, q->mapcap);
	while (q->map[k]) {
		Bucket *b = &q->b[q->map[k] - 1];
		if (b->rank == r)
			return b;
		k = (k + 1) & (q->mapcap - 1);
	}
	q->map[k] = (uint32_t)q->nb + 1;
	Bucket *b = &q->b[q->nb++];
	*b = (Bucket){r, 1, 0, NULL, 0, 0, 0};
	return b;
}

static void q_push(Queue *q, uint32_t r, uint32_t pos)
{
	Bucket *b = q_bucket(q, r);
	if (!b)
		return;
	if (b->n == b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 16;
		uint32_t *np = realloc(b->pos, nc * sizeof *np);
		if (!np) {
			q->oom = 1;
			return;
		}
		b->pos = np;
		b->cap = nc;
	}
	if (b->n > b->cur && pos < b->pos[b->n - 1])
		b->sorted = 0;
	b->pos[b->n++] = pos;
	if (!b->queued && r != q->current)
		q_heap_push(q, (uint32_t)(b - q->b));
	if (r < q->current)
		q->preempt = 1;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int merge_long(const TableView *v, const uint8_t *p, size_t n, Sink *out, Error *e)
{
	/* part starting at byte i: next[i] (its end), prev[i], and rank[i] of the
	 * pair (part i, part next[i]); dead parts have next[i] == 0 */
	uint32_t *next = malloc(n * sizeof *next), *prev = malloc(n * sizeof *prev);
	uint32_t *rank = malloc(n * sizeof *rank);
	Queue q = {0};
	q.current = NONE;
	if (!next || !prev || !rank) {
		free(next), free(prev), free(rank);
		return err_set(e, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		next[i] = (uint32_t)i + 1;
		prev[i] = (uint32_t)i - 1;
		rank[i] = i + 1 < n ? lookup(v, p + i, 2) : NONE;
		if (rank[i] != NONE)
			q_push(&q, rank[i], (uint32_t)i);
	}
	while (q.nh && !q.oom) {
		size_t bi = q_heap_pop(&q);
		Bucket *b = &q.b[bi];
		uint32_t r = b->rank;
		if (!b->sorted) {
			qsort(b->pos + b->cur, b->n - b->cur, sizeof *b->pos, cmp_u32);
			b->sorted = 1;
		}
		q.current = r;
		q.preempt = 0;
		while (q.b[bi].cur < q.b[bi].n && !q.preempt && !q.oom) {
			uint32_t i = q.b[bi].pos[q.b[bi].cur++];
			if (next[i] == 0 || rank[i] != r)
				continue; /* stale */
			uint32_t j = next[i];
			next[i] = next[j];
			next[j] = 0;
			if (next[i] < n) {
				prev[next[i]] = i;
				rank[i] = lookup(v, p + i, next[next[i]] - i);
				if (rank[i] != NONE)
					q_push(&q, rank[i], i); /* may move q.b */
			} else {
				rank[i] = NONE;
			}
			if (i > 0) {
				uint32_t k = prev[i];
				rank[k] = lookup(v, p + k, next[i] - k);
				if (rank[k] != NONE)
					q_push(&q, rank[k], k);
			}
		}
		b = &q.b[bi];
		q.current = NONE;
		if (b->cur < b->n)
			q_heap_push(&q, (uint32_t)(b - q.b));
		else
			b->cur = b->n = 0;
	}
	int rc = 0;
	if (q.oom)
		rc = err_set(e, "out of memory");
	else
		for (uint32_t i = 0; i < n; i = next[i])
			emit(out, lookup(v, p + i, next[i] - i));
	for (size_t i = 0; i < q.nb; i++)
		free(q.b[i].pos);
	free(q.b), free(q.map), free(q.heap);
	free(next), free(prev), free(rank);
	return rc;
}

/* piece p[0..n) of a text that ends at end */
static int encode_piece(const TableView *v, const uint8_t *p, size_t n, const uint8_t *end, Sink *out,
			CacheEnt *cache, Error *e)
{
	if (n == 1) {
		emit(out, v->h->byte_id[p[0]]);
		return 0;
	}
	uint64_t key = end - p >= 8 ? key8_fast(p, n) : tok_key8(p, n), h = tok_hash_k(p, n, key);
	uint32_t id = n <= v->h->max_len ? lookup_h(v, p, n, key, h) : NONE;
	if (id != NONE) {
		emit(out, id);
		return 0;
	}
	if (n > SHORT_PIECE)
		return merge_long(v, p, n, out, e);
	CacheEnt *ce = cache && n <= CACHE_PIECE ? &cache[h >> (64 - CACHE_BITS)] : NULL;
	if (ce && ce->plen == n && eq_bytes(ce->bytes, p, n)) {
		for (size_t i = 0; i < ce->ntok; i++)
			emit(out, ce->ids[i]);
		return 0;
	}
	uint32_t ids[SHORT_PIECE];
	size_t m = merge_short(v, p, n, end, ids);
	for (size_t i = 0; i < m; i++)
		emit(out, ids[i]);
	if (ce && m <= CACHE_IDS) {
		ce->plen = (uint8_t)n;
		ce->ntok = (uint8_t)m;
		memcpy(ce->bytes, p, n);
		memcpy(ce->ids, ids, m * sizeof *ids);
	}
	return 0;
}

/* Encode text into out (ids stored when out->ids, else counted). */
static int encode_text(const Tokenizer *t, const uint8_t *s, size_t len, Sink *out, Error *e)
{
	const TableView *v = &t->v;
	if (t->pretok == PRETOK_NONE && v->h->n_ranks == 256 && v->h->max_len == 1) {
		for (size_t i = 0; i < len; i++) /* the bytes encoding */
			emit(out, v->h->byte_id[s[i]]);
		return 0;
	}
	/* the cache pays for itself on texts of some length */
	CacheEnt *cache = len >= (1 << 14) ? calloc((size_t)1 << CACHE_BITS, sizeof *cache) : NULL;
	int rc = 0;
	for (size_t pos = 0; pos < len;) {
		size_t end = pretok_next(t->pretok, s, len, pos);
		if ((rc = encode_piece(v, s + pos, end - pos, s + len, out, cache, e)))
			break;
		pos = end;
	}
	free(cache);
	return rc;
}

int tok_encode_ordinary(const Tokenizer *t, const uint8_t *text, size_t len, TokVec *out, Error *e)
{
	/* at most one token per byte */
	if (tokvec_reserve(out, len + 1, e))
		return -1;
	Sink s = {out->ids + out->len, 0};
	int rc = encode_text(t, text, len, &s, e);
	out->len += s.n;
	return rc;
}

size_t tok_count(const Tokenizer *t, const uint8_t *text, size_t len)
{
	Sink s = {NULL, 0};
	Error e;
	encode_text(t, text, len, &s, &e);
	return s.n;
}

/* ---- special tokens ---- */

int64_t tok_find_special(const Tokenizer *t, const uint8_t *text, size_t len, size_t *which)
{
	int64_t best = -1;
	size_t bl = 0;
	for (uint32_t i = 0; i < t->v.h->n_special; i++) {
		uint32_t s = t->v.special_ids[i], o = t->v.off[s], l = t->v.off[s + 1] - o;
		size_t lim = best >= 0 ? (size_t)best + l : len;
		if (lim > len)
			lim = len;
		const uint8_t *m = memmem(text, lim, t->v.bytes + o, l);
		if (!m)
			continue;
		int64_t at = m - text;
		if (best < 0 || at < best || (at == best && l > bl)) {
			best = at;
			bl = l;
			if (which)
				*which = i;
		}
	}
	return best;
}

int tok_encode(const Tokenizer *t, const uint8_t *text, size_t len, const uint8_t *allowed,
	       TokVec *out, Error *e)
{
	size_t ns = t->v.h->n_special;
	if (ns == 0)
		return tok_encode_ordinary(t, text, len, out, e);
	/* next_at[i]: offset of the next occurrence of special i at or after
	 * pos (SIZE_MAX once there is none), searched again when pos passes it */
	const size_t unknown = SIZE_MAX - 1;
	size_t *next_at = malloc(ns * sizeof *next_at);
	if (!next_at)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < ns; i++)
		next_at[i] = allowed && !allowed[i] ? SIZE_MAX : unknown;
	size_t pos = 0, seg = 0;
	for (;;) {
		size_t best = SIZE_MAX, bi = 0, bl = 0;
		for (size_t i = 0; i < ns; i++) {
			if (next_at[i] == SIZE_MAX)
				continue;
			uint32_t s = t->v.special_ids[i], o = t->v.off[s], l = t->v.off[s + 1] - o;
			if (next_at[i] == unknown || next_at[i] < pos) {
				const uint8_t *m = memmem(text + pos, len - pos, t->v.bytes + o, l);
				next_at[i] = m ? (size_t)(m - text) : SIZE_MAX;
			}
			if (next_at[i] < best || (next_at[i] == best && next_at[i] != SIZE_MAX && l > bl)) {
				best = next_at[i];
				bi = i;
				bl = l;
			}
		}
		if (best == SIZE_MAX)
			break;
		if (tok_encode_ordinary(t, text + seg, best - seg, out, e) || tokvec_reserve(out, 1, e)) {
			free(next_at);
			return -1;
		}
		out->ids[out->len++] = t->v.special_ids[bi];
		seg = pos = best + bl;
	}
	free(next_at);
	return tok_encode_ordinary(t, text + seg, len - seg, out, e);
}

/* ---- cutting text for threads ---- */

static int ascii_alnum(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

size_t tok_safe_split(const uint8_t *s, size_t len, size_t from)
{
	if (from < 2)
		from = 2;
	for (size_t b = from; b < len;) {
		const uint8_t *nl = memchr(s + b - 1, '\n', len - b);
		if (!nl)
			break;
		b = (size_t)(nl - s) + 1;
		if (b < len && ascii_alnum(s[b]) && b >= 2 && s[b - 2] != '\n' && s[b - 2] != '\r' &&
		    s[b - 2] != ' ' && s[b - 2] != '\t' && s[b - 2] != '\v' && s[b - 2] != '\f' && s[b - 2] < 0x80)
			return b;
		b++;
	}
	return len;
}

int tok_encode_parallel(const Tokenizer *t, const uint8_t *text, size_t len, int specials,
			const uint8_t *allowed, int nthreads, TokVec *out, Error *e)
{
	enum { MIN_PART = 1 << 16 };
	if (nthreads > 1 && specials) {
		/* a special token text with a newline could straddle a cut */
		for (size_t i = 0; i < tok_n_specials(t); i++)
			if ((!allowed || allowed[i]) && strchr(tok_special_text(t, i, NULL), '\n'))
				nthreads = 1;
	}
	if (nthreads <= 1 || len < 2 * (size_t)MIN_PART)
		return specials ? tok_encode(t, text, len, allowed, out, e)
				: tok_encode_ordinary(t, text, len, out, e);
	size_t nparts = (size_t)nthreads * 4;
	if (nparts > len / MIN_PART)
		nparts = len / MIN_PART;
	size_t *cut = malloc((nparts + 1) * sizeof *cut);
	TokVec *vs = calloc(nparts, sizeof *vs);
	Error *errs = calloc(nparts, sizeof *errs);
	int *rc = calloc(nparts, sizeof *rc);
	if (!cut || !vs || !errs || !rc) {
		free(cut), free(vs), free(errs), free(rc);
		return err_set(e, "out of memory");
	}
	cut[0] = 0;
	size_t k = 1;
	for (size_t i = 1; i < nparts; i++) {
		size_t c = tok_safe_split(text, len, i * (len / nparts));
		if (c > cut[k - 1] && c < len)
			cut[k++] = c;
	}
	cut[k] = len;
	nparts = k;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 1)
	for (size_t i = 0; i < nparts; i++)
		rc[i] = specials ? tok_encode(t, text + cut[i], cut[i + 1] - cut[i], allowed, &vs[i], &errs[i])
				 : tok_encode_ordinary(t, text + cut[i], cut[i + 1] - cut[i], &vs[i], &errs[i]);
	int result = 0;
	for (size_t i = 0; i < nparts; i++) {
		if (result == 0 && rc[i]) {
			*e = errs[i];
			result = -1;
		}
		if (result == 0 && vs[i].len == 0) {
			/* nothing to copy */
		} else if (result == 0 && tokvec_reserve(out, vs[i].len, e) == 0) {
			memcpy(out->ids + out->len, vs[i].ids, vs[i].len * sizeof *out->ids);
			out->len += vs[i].len;
		} else if (result == 0) {
			result = -1;
		}
		tokvec_free(&vs[i]);
	}
	free(cut), free(vs), free(errs), free(rc);
	return result;
}
