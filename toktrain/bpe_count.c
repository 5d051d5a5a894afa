/* Counting the distinct pieces of a text: a hash table of byte strings, and
 * a block reader that cuts its input only where the pre-tokenizer is known
 * to have a boundary, so that streaming gives the counts of one pass over
 * the whole input. */
#include "bpe_train.h"

#include <errno.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Piece table ----
 * Open addressing over 32-byte slots that hold a piece's first 8 bytes,
 * its hash, length and count, so that finding a short piece (most are) and
 * counting it touches one cache line.  The bytes of every piece are kept
 * in an arena as well (for longer pieces' comparisons and for reading). */

typedef struct {
	uint64_t w;       /* the first 8 bytes, zero-padded */
	uint64_t count;   /* 0: empty slot */
	uint64_t off;     /* into bytes */
	uint32_t len;
	uint32_t hash;
} Slot;

struct PieceTable {
	uint8_t *bytes;
	size_t nbytes, capbytes;
	Slot *slot;
	size_t nslot;     /* a power of two */
	size_t n;         /* slots in use */
	uint64_t total, total_bytes;
};

static inline uint64_t load_prefix(const uint8_t *s, size_t n)
{
	uint64_t w = 0;
	if (n >= 8) {
		memcpy(&w, s, 8);
		return w;
	}
	for (size_t i = 0; i < n; i++)
		w |= (uint64_t)s[i] << (8 * i);
	return w;
}

static inline uint32_t hash_piece(uint64_t w, const uint8_t *s, size_t n)
{
	uint64_t h = (w ^ (n * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
	for (size_t i = 8; i < n; i += 8) {
		uint64_t x = 0;
		memcpy(&x, s + i, n - i >= 8 ? 8 : n - i);
		h = ((h ^ (h >> 32)) ^ x) * 0xc4ceb9fe1a85ec53ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	return (uint32_t)h;
}

PieceTable *piece_table_new(Error *e)
{
	PieceTable *pt = calloc(1, sizeof *pt);
	if (!pt || !(pt->slot = calloc(1024, sizeof *pt->slot))) {
		free(pt);
		err_set(e, "out of memory");
		return NULL;
	}
	pt->nslot = 1024;
	return pt;
}

void piece_table_free(PieceTable *pt)
{
	if (!pt)
		return;
	free(pt->bytes);
	free(pt->slot);
	free(pt);
}

void piece_table_clear(PieceTable *pt)
{
	pt->nbytes = 0;
	pt->n = 0;
	pt->total = pt->total_bytes = 0;
	memset(pt->slot, 0, pt->nslot * sizeof *pt->slot);
}

static int grow_slots(PieceTable *pt, Error *e)
{
	size_t ns = pt->nslot * 2;
	Slot *s = calloc(ns, sizeof *s);
	if (!s)
		return err_set(e, "out of memory (piece table of %zu entries)", pt->n);
	for (size_t i = 0; i < pt->nslot; i++) {
		if (!pt->slot[i].count)
			continue;
		size_t j = pt->slot[i].hash & (ns - 1);
		while (s[j].count)
			j = (j + 1) & (ns - 1);
		s[j] = pt->slot[i];
	}
	free(pt->slot);
	pt->slot = s;
	pt->nslot = ns;
	return 0;
}

static int add_hashed(PieceTable *pt, const uint8_t *s, uint32_t len, uint64_t w, uint32_t h,
		      uint64_t count, Error *e)
{
	size_t mask = pt->nslot - 1, j = h & mask;
	pt->total += count;
	pt->total_bytes += count * len;
	for (Slot *p; (p = &pt->slot[j])->count; j = (j + 1) & mask) {
		if (p->hash == h && p->w == w && p->len == len &&
		    (len <= 8 || memcmp(pt->bytes + p->off + 8, s + 8, len - 8) == 0)) {
			p->count += count;
			return 0;
		}
	}
	if (pt->nbytes + len > pt->capbytes) {
		size_t nc = pt->capbytes ? pt->capbytes * 2 : 65536;
		while (nc < pt->nbytes + len)
			nc *= 2;
		uint8_t *nb = realloc(pt->bytes, nc);
		if (!nb)
			return err_set(e, "out of memory (%zu bytes of distinct pieces)", pt->nbytes);
		pt->bytes = nb;
		pt->capbytes = nc;
	}
	memcpy(pt->bytes + pt->nbytes, s, len);
	pt->slot[j] = (Slot){ .w = w, .count = count, .off = pt->nbytes, .len = len, .hash = h };
	pt->nbytes += len;
	if (++pt->n * 4 > pt->nslot * 3)
		return grow_slots(pt, e);
	return 0;
}

int piece_table_add(PieceTable *pt, const uint8_t *s, uint32_t len, uint64_t count, Error *e)
{
	if (count == 0)
		return 0;
	uint64_t w = load_prefix(s, len);
	return add_hashed(pt, s, len, w, hash_piece(w, s, len), count, e);
}

int piece_table_merge(PieceTable *dst, const PieceTable *src, Error *e)
{
	for (size_t i = 0; i < src->nslot; i++) {
		const Slot *p = &src->slot[i];
		if (p->count && add_hashed(dst, src->bytes + p->off, p->len, p->w, p->hash, p->count, e))
			return -1;
	}
	return 0;
}

size_t piece_table_size(const PieceTable *pt) { return pt->n; }
uint64_t piece_table_total(const PieceTable *pt) { return pt->total; }
uint64_t piece_table_bytes(const PieceTable *pt) { return pt->total_bytes; }

const uint8_t *piece_table_next(const PieceTable *pt, size_t *cursor, uint32_t *len, uint64_t *count)
{
	for (size_t i = *cursor; i < pt->nslot; i++) {
		const Slot *p = &pt->slot[i];
		if (p->count) {
			*cursor = i + 1;
			*len = p->len;
			*count = p->count;
			return pt->bytes + p->off;
		}
	}
	*cursor = pt->nslot;
	return NULL;
}

size_t piece_table_memory(const PieceTable *pt)
{
	return pt->capbytes + pt->nslot * sizeof *pt->slot;
}

/* ---- Splitting text into pieces ---- */

static size_t next_piece(PretokKind k, const uint8_t *s, size_t len, size_t pos)
{
	if (k == PRETOK_NONE) {
		const uint8_t *nl = memchr(s + pos, '\n', len - pos);
		return nl ? (size_t)(nl - s) + 1 : len;
	}
	return pretok_next(k, s, len, pos);
}

/* The length of the first part of an n-byte piece cut to at most max bytes:
 * max, moved back to the start of a UTF-8 character if one is within 3. */
static size_t part_len(const uint8_t *s, size_t n, size_t max)
{
	if (!max || n <= max)
		return n;
	size_t cut = max;
	while (cut > 1 && cut + 3 > max && (s[cut] & 0xC0) == 0x80)
		cut--;
	return (s[cut] & 0xC0) == 0x80 ? max : cut;
}

/* Count one piece, cut into parts of at most max bytes. */
static int add_piece(PieceTable *pt, const uint8_t *s, size_t n, size_t max, Error *e)
{
	while (n) {
		size_t l = part_len(s, n, max);
		if (l > UINT32_MAX)
			return err_set(e, "a piece of %zu bytes is too long (see --max-piece-bytes)", n);
		if (piece_table_add(pt, s, (uint32_t)l, 1, e))
			return -1;
		s += l;
		n -= l;
	}
	return 0;
}

/* Count the pieces that start in [start, end) of s[0..len); returns where
 * the last one ended (== end when end is a boundary), or 0 with e set. */
static size_t count_range(PieceTable *pt, const uint8_t *s, size_t len, size_t start, size_t end,
			  const CountOpts *o, Error *e)
{
	size_t pos = start;
	while (pos < end) {
		size_t q = next_piece(o->pattern, s, len, pos);
		if (q <= pos)
			q = pos + 1;   /* cannot happen with a correct pre-tokenizer */
		if (add_piece(pt, s + pos, q - pos, o->max_piece_bytes, e))
			return 0;
		pos = q;
	}
	return pos;
}

/* A character that no pattern lets a piece run into from a preceding '\n':
 * pieces holding a newline continue only with white space (ASCII or
 * Unicode: lead bytes C2, E1, E2, E3 may start one) or, in o200k, '/'. */
static int safe_after_newline(uint8_t c)
{
	if (c < 0x80)
		return c > ' ' && c != 0x7f && c != '/';
	return (c >= 0xC3 && c <= 0xDF) || (c >= 0xE4 && c <= 0xEF) || (c >= 0xF0 && c <= 0xF4);
}

size_t count_safe_cut(PretokKind k, const uint8_t *s, size_t lo, size_t hi)
{
	/* a cut c in (lo, hi) with s[c - 1] == '\n'; c < hi so that s[c] is there */
	if (hi <= lo + 1)
		return 0;
	size_t end = hi - 1;
	while (end > lo) {
		const uint8_t *nl = memrchr(s + lo, '\n', end - lo);
		if (!nl)
			return 0;
		size_t c = (size_t)(nl - s) + 1;
		if (k == PRETOK_NONE || safe_after_newline(s[c]))
			return c;
		end = c - 1;
	}
	return 0;
}

/* Count [start, end) with several threads, splitting it at safe cuts; locals
 * are the other threads' tables (thread 0 counts into pt).  Returns the
 * position counting stopped at (end, unless a cut was not a boundary). */
static size_t count_block(PieceTable *pt, PieceTable **locals, const uint8_t *s, size_t len,
			  size_t start, size_t end, const CountOpts *o, Error *e)
{
	int T = o->threads;
	if (T <= 1 || end - start < (size_t)T * 65536)
		return count_range(pt, s, len, start, end, o, e);
	size_t cut[65];
	int n = 0;
	cut[n++] = start;
	for (int i = 1; i < T; i++) {
		size_t target = start + (end - start) / (size_t)T * (size_t)i;
		size_t c = count_safe_cut(o->pattern, s, cut[n - 1], target);
		if (c > cut[n - 1])
			cut[n++] = c;
	}
	cut[n] = end;
	size_t stop[64];
	Error errs[64];
	int failed = 0;
#pragma omp parallel for num_threads(n) schedule(static, 1) reduction(|| : failed)
	for (int i = 0; i < n; i++) {
		PieceTable *t = i == 0 ? pt : locals[i - 1];
		stop[i] = count_range(t, s, len, cut[i], cut[i + 1], o, &errs[i]);
		if (stop[i] == 0 && cut[i + 1] > cut[i])
			failed = 1;
	}
	if (failed) {
		for (int i = 0; i < n; i++)
			if (stop[i] == 0 && cut[i + 1] > cut[i]) {
				*e = errs[i];
				break;
			}
		return 0;
	}
	for (int i = 0; i + 1 < n; i++)
		if (stop[i] != cut[i + 1])
			return err_set(e, "internal error: a block cut at byte %zu is not a piece boundary",
				       cut[i + 1]), 0;
	return stop[n - 1];
}

int count_buffer(PieceTable *pt, const uint8_t *s, size_t len, const CountOpts *o, Error *e)
{
	if (len == 0)
		return 0;
	return count_range(pt, s, len, 0, len, o, e) ? 0 : -1;
}

static int merge_locals(PieceTable *pt, PieceTable **locals, int n, Error *e)
{
	for (int i = 0; i < n; i++) {
		if (piece_table_merge(pt, locals[i], e))
			return -1;
		piece_table_clear(locals[i]);
	}
	return 0;
}

int count_fd(PieceTable *pt, int fd, const char *name, const CountOpts *o, uint64_t *bytes,
	     Progress *pg, Error *e)
{
	int T = o->threads < 1 ? 1 : o->threads > 64 ? 64 : o->threads;
	CountOpts co = *o;
	co.threads = T;
	size_t block = o->block_bytes ? o->block_bytes : (size_t)T << 22;
	/* Without a safe cut in this much text, fall back to cutting after the
	 * last complete piece (the one place where streaming may differ). */
	size_t limit = 16 * block;
	if (o->max_piece_bytes && limit < 4 * o->max_piece_bytes)
		limit = 4 * o->max_piece_bytes;
	size_t cap = block, len = 0;
	uint8_t *buf = malloc(cap);
	PieceTable *locals[63] = { 0 };
	int rc = -1, eof = 0;
	if (!buf) {
		err_set(e, "out of memory");
		goto out;
	}
	for (int i = 0; i < T - 1; i++)
		if (!(locals[i] = piece_table_new(e)))
			goto out;
	for (;;) {
		while (!eof && len < cap) {
			ssize_t r = read(fd, buf + len, cap - len);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				err_errno(e, "%s: read", name);
				goto out;
			}
			if (r == 0)
				eof = 1;
			len += (size_t)r;
			*bytes += (uint64_t)r;
		}
		if (pg)
			progress_update(pg, *bytes, "bytes counted");
		size_t c;
		if (eof) {
			if (len && count_block(pt, locals, buf, len, 0, len, &co, e) == 0)
				goto out;
			break;
		}
		c = count_safe_cut(co.pattern, buf, 0, len);
		if (c == 0 && cap < limit) {
			size_t nc = cap * 2;
			uint8_t *nb = realloc(buf, nc);
			if (!nb) {
				err_set(e, "out of memory (a %zu-byte stretch with no piece boundary)", cap);
				goto out;
			}
			buf = nb;
			cap = nc;
			continue;
		}
		if (c == 0) {
			/* Fallback: the complete pieces, then any overlong piece in parts. */
			size_t pos = 0;
			for (;;) {
				size_t q = next_piece(co.pattern, buf, len, pos);
				if (q + 4 < len) {
					if (add_piece(pt, buf + pos, q - pos, co.max_piece_bytes, e))
						goto out;
					pos = q;
				} else if (co.max_piece_bytes && len - pos >= 2 * co.max_piece_bytes) {
					size_t l = part_len(buf + pos, len - pos, co.max_piece_bytes);
					if (add_piece(pt, buf + pos, l, 0, e))
						goto out;
					pos += l;
				} else {
					break;
				}
			}
			c = pos;
			if (c == 0) {   /* one piece fills the buffer: no limit was given */
				size_t nc = cap * 2;
				uint8_t *nb = realloc(buf, nc);
				if (!nb) {
					err_set(e, "%s: out of memory (a piece of more than %zu bytes; "
						   "see --max-piece-bytes)", name, cap);
					goto out;
				}
				buf = nb;
				cap = nc;
				continue;
			}
		} else {
			c = count_block(pt, locals, buf, len, 0, c, &co, e);
			if (c == 0)
				goto out;
		}
		memmove(buf, buf + c, len - c);
		len -= c;
		if (cap > block && len < block / 2) {
			uint8_t *nb = realloc(buf, block);
			if (nb) {
				buf = nb;
				cap = block;
			}
		}
		for (int i = 0; i < T - 1; i++)
			if (piece_table_size(locals[i]) > (4u << 20) && merge_locals(pt, locals + i, 1, e))
				goto out;
	}
	rc = merge_locals(pt, locals, T - 1, e);
out:
	for (int i = 0; i < T - 1; i++)
		piece_table_free(locals[i]);
	free(buf);
	return rc;
}
