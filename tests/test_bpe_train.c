/* Unit tests of tok-train's library (toktrain/): the piece table, cutting a
 * stream into blocks, streaming and threaded counting against one pass,
 * long pieces, and the merge loop's rules (overlaps, ties, min frequency,
 * running out of pairs). */
#include "bpe_train.h"
#include "tap.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ---- */

static uint64_t lookup(const PieceTable *pt, const char *s)
{
	size_t cur = 0;
	uint32_t len;
	uint64_t c;
	for (const uint8_t *p; (p = piece_table_next(pt, &cur, &len, &c));)
		if (len == strlen(s) && memcmp(p, s, len) == 0)
			return c;
	return 0;
}

/* An order-free fingerprint of a table: the sum of a hash of each piece
 * and its count. */
static uint64_t fingerprint(const PieceTable *pt)
{
	uint64_t sum = 0;
	size_t cur = 0;
	uint32_t len;
	uint64_t c;
	for (const uint8_t *p; (p = piece_table_next(pt, &cur, &len, &c));) {
		uint64_t h = 1469598103934665603ull ^ c;
		for (uint32_t i = 0; i < len; i++)
			h = (h ^ p[i]) * 1099511628211ull;
		h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull;
		sum += h ^ (h >> 29);
	}
	return sum;
}

/* The same pieces with the same counts. */
static int same_table(const PieceTable *a, const PieceTable *b)
{
	return piece_table_size(a) == piece_table_size(b) &&
	       piece_table_total(a) == piece_table_total(b) && fingerprint(a) == fingerprint(b);
}

static uint32_t rng_state = 12345;
static uint32_t rnd(void)
{
	rng_state = rng_state * 1103515245u + 12345u;
	return rng_state >> 8;
}

/* Text that exercises the patterns: letters, digits, runs of spaces and
 * newlines, CRLF, '/', contractions, non-ASCII letters and spaces, CJK,
 * emoji, invalid bytes. */
static size_t tricky_text(uint8_t *out, size_t cap)
{
	static const char *const parts[] = {
		"the", " The", "don't", "IT'S", "  ", "\t", "\r\n", "\n", "\n\n", "\n\n\n  ",
		"12345678", "//", "/*", "==", " ->", "aaaa", "naïve", "café", "e\xcc\x81",
		"\xe6\x97\xa5\xe6\x9c\xac", "\xf0\x9f\x98\x80", "\xc2\xa0", "\xe3\x80\x80", "\xff",
		"\x80", "\xed\xa0\x80", "x", "Q", " ", " ", " ", "\n", "'s", "'LL", "\xe2\x80\xa8",
		"  \n", "\n/", "\n ", "\n\t", "Ω", "\n1", "\n.",
	};
	size_t n = 0;
	while (n + 16 < cap) {
		const char *p = parts[rnd() % (sizeof parts / sizeof *parts)];
		size_t l = strlen(p);
		memcpy(out + n, p, l);
		n += l;
	}
	return n;
}

static int write_file(const char *path, const uint8_t *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return -1;
	int ok = write(fd, s, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

static PieceTable *count_file(const char *path, const CountOpts *o)
{
	Error e;
	PieceTable *pt = piece_table_new(&e);
	int fd = open(path, O_RDONLY);
	uint64_t bytes = 0;
	if (count_fd(pt, fd, path, o, &bytes, NULL, &e)) {
		printf("# %s\n", e.msg);
		piece_table_free(pt);
		pt = NULL;
	}
	close(fd);
	return pt;
}

static PieceTable *table_of(const char *const *pieces, const uint64_t *counts, size_t n)
{
	PieceTable *pt = piece_table_new(NULL);
	for (size_t i = 0; i < n; i++)
		piece_table_add(pt, (const uint8_t *)pieces[i], (uint32_t)strlen(pieces[i]), counts[i], NULL);
	return pt;
}

static int train(const PieceTable *pt, uint32_t n, uint64_t minf, int hf, BpeVocab *v)
{
	Error e;
	TrainOpts o = { .n_tokens = n, .min_frequency = minf, .hf_ties = hf };
	if (bpe_train(pt, &o, v, &e)) {
		printf("# %s\n", e.msg);
		return -1;
	}
	return 0;
}

static int tok_is(const BpeVocab *v, uint32_t id, const char *s)
{
	return id < v->n_tokens && v->len[id] == strlen(s) && memcmp(v->tok[id], s, v->len[id]) == 0;
}

/* ---- tests ---- */

static void test_piece_table(void)
{
	Error e;
	PieceTable *pt = piece_table_new(&e), *q = piece_table_new(&e);
	piece_table_add(pt, (const uint8_t *)"ab", 2, 3, &e);
	piece_table_add(pt, (const uint8_t *)"ab", 2, 2, &e);
	piece_table_add(pt, (const uint8_t *)"abcdefghij", 10, 1, &e);
	piece_table_add(pt, (const uint8_t *)"abcdefghiX", 10, 1, &e);
	piece_table_add(pt, (const uint8_t *)"a\0", 2, 1, &e);   /* same padded prefix as "a" */
	piece_table_add(pt, (const uint8_t *)"a", 1, 4, &e);
	CHECK(piece_table_size(pt) == 5, "piece table: distinct pieces");
	CHECK(lookup(pt, "ab") == 5 && lookup(pt, "a") == 4, "piece table: counts add up");
	CHECK(lookup(pt, "abcdefghij") == 1 && lookup(pt, "abcdefghiX") == 1,
	      "piece table: long pieces differing after 8 bytes");
	CHECK(piece_table_total(pt) == 12 && piece_table_bytes(pt) == 10 + 20 + 2 + 4,
	      "piece table: totals");
	/* growth keeps every entry */
	char buf[32];
	for (int i = 0; i < 5000; i++) {
		int l = snprintf(buf, sizeof buf, "piece-%d", i);
		piece_table_add(q, (const uint8_t *)buf, (uint32_t)l, (uint64_t)i + 1, &e);
	}
	int ok = piece_table_size(q) == 5000;
	for (int i = 0; i < 5000 && ok; i += 7) {
		snprintf(buf, sizeof buf, "piece-%d", i);
		ok = lookup(q, buf) == (uint64_t)i + 1;
	}
	CHECK(ok, "piece table: 5000 pieces through growth");
	piece_table_merge(q, pt, &e);
	CHECK(piece_table_size(q) == 5005 && lookup(q, "ab") == 5, "piece table: merge");
	piece_table_clear(q);
	CHECK(piece_table_size(q) == 0 && lookup(q, "ab") == 0, "piece table: clear");
	piece_table_free(pt);
	piece_table_free(q);
}

/* Every cut count_safe_cut offers is a piece boundary of the whole text. */
static void test_safe_cuts(uint8_t *text, size_t n)
{
	for (int k = PRETOK_GPT2; k <= PRETOK_NONE; k++) {
		uint8_t *isb = calloc(n + 1, 1);
		for (size_t pos = 0; pos < n;) {
			isb[pos] = 1;
			size_t q = k == PRETOK_NONE ? pos + 1 : pretok_next((PretokKind)k, text, n, pos);
			if (k == PRETOK_NONE) {
				const uint8_t *nl = memchr(text + pos, '\n', n - pos);
				q = nl ? (size_t)(nl - text) + 1 : n;
			}
			pos = q;
		}
		int ok = 1, cuts = 0;
		for (size_t hi = 2; hi <= n && ok; hi += 1 + rnd() % 97) {
			size_t c = count_safe_cut((PretokKind)k, text, 0, hi);
			if (c) {
				cuts++;
				ok = c < hi && isb[c] && text[c - 1] == '\n';
			}
		}
		char name[64];
		snprintf(name, sizeof name, "safe cuts are piece boundaries (%s, %d cuts)",
			 pretok_name((PretokKind)k), cuts);
		CHECK(ok && cuts > 100, name);
		free(isb);
	}
}

static void test_streaming(const uint8_t *text, size_t n)
{
	char path[] = "/tmp/gptkit-bpe-train.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	write_file(path, text, n);
	for (int k = PRETOK_GPT2; k <= PRETOK_NONE; k++) {
		CountOpts one = { .pattern = (PretokKind)k, .max_piece_bytes = 0, .threads = 1 };
		PieceTable *whole = piece_table_new(NULL);
		count_buffer(whole, text, n, &one, NULL);
		static const size_t blocks[] = { 16, 100, 4096, 0 };
		static const int threads[] = { 1, 3, 2, 4 };
		int ok = 1;
		for (int i = 0; i < 4; i++) {
			CountOpts o = one;
			o.block_bytes = blocks[i];
			o.threads = threads[i];
			PieceTable *s = count_file(path, &o);
			ok = ok && s && same_table(whole, s);
			piece_table_free(s);
		}
		char name[96];
		snprintf(name, sizeof name, "streamed and threaded counts equal one pass (%s, %zu pieces)",
			 pretok_name((PretokKind)k), piece_table_size(whole));
		CHECK(ok, name);
		piece_table_free(whole);
	}
	unlink(path);
}

/* A stream with no safe cut at all still counts every byte, in pieces no
 * longer than the limit. */
static void test_long_pieces(void)
{
	size_t n = 300000;
	uint8_t *s = malloc(n);
	for (size_t i = 0; i < n; i += 2) {   /* "é" repeated: one letter run */
		s[i] = 0xC3;
		s[i + 1] = 0xA9;
	}
	char path[] = "/tmp/gptkit-bpe-long.XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	write_file(path, s, n);
	CountOpts o = { .pattern = PRETOK_GPT2, .max_piece_bytes = 1001, .threads = 2, .block_bytes = 4096 };
	PieceTable *pt = count_file(path, &o);
	int ok = pt && piece_table_bytes(pt) == n;
	size_t cur = 0;
	uint32_t len;
	uint64_t c;
	for (const uint8_t *p; ok && pt && (p = piece_table_next(pt, &cur, &len, &c));)
		ok = len <= 1001 && p[0] == 0xC3 && len % 2 == 0;
	CHECK(ok, "--max-piece-bytes cuts a long piece at character boundaries");
	CHECK(pt && lookup(pt, "") == 0 && piece_table_total(pt) == (n + 999) / 1000,
	      "a long piece becomes parts of the limit");
	piece_table_free(pt);
	o.max_piece_bytes = 0;
	pt = count_file(path, &o);
	CHECK(pt && piece_table_size(pt) == 1 && piece_table_bytes(pt) == n,
	      "without a limit a long piece stays whole");
	piece_table_free(pt);
	unlink(path);
	free(s);
}

static void test_merges(void)
{
	BpeVocab v;
	/* overlapping pairs count twice, merging goes left to right */
	static const char *const p1[] = { "aaa" };
	static const uint64_t c1[] = { 1 };
	PieceTable *pt = table_of(p1, c1, 1);
	train(pt, 300, 1, 0, &v);
	CHECK(v.n_merges == 2 && v.merges[0].count == 2 && tok_is(&v, 256, "aa") &&
	      v.merges[1].left == 256 && v.merges[1].right == 'a' && tok_is(&v, 257, "aaa"),
	      "'aaa': (a,a) counts 2, then (aa,a)");
	CHECK(v.n_tokens == 258, "training stops when no pair is left");
	bpe_vocab_free(&v);
	piece_table_free(pt);

	/* ties: the smallest (left, right) */
	static const char *const p2[] = { "zy", "xw", "xv", " a", "bc" };
	static const uint64_t c2[] = { 3, 3, 3, 2, 2 };
	pt = table_of(p2, c2, 5);
	train(pt, 261, 1, 0, &v);
	CHECK(tok_is(&v, 256, "xv") && tok_is(&v, 257, "xw") && tok_is(&v, 258, "zy") &&
	      tok_is(&v, 259, " a") && tok_is(&v, 260, "bc"), "ties go to the smallest (left, right)");
	bpe_vocab_free(&v);
	train(pt, 261, 1, 1, &v);
	CHECK(tok_is(&v, 259, "bc") && tok_is(&v, 260, " a"),
	      "hf tie order puts the space after printable bytes");
	bpe_vocab_free(&v);
	train(pt, 1000, 3, 0, &v);
	CHECK(v.n_tokens == 259, "min frequency stops at the first rarer pair");
	bpe_vocab_free(&v);
	piece_table_free(pt);

	/* counts are weighted by piece counts, and a word's pairs update */
	static const char *const p3[] = { "abab", "ba", "ab" };
	static const uint64_t c3[] = { 5, 7, 1 };
	pt = table_of(p3, c3, 3);
	train(pt, 258, 1, 0, &v);
	/* (a,b): 10 + 1 = 11, (b,a): 5 + 7 = 12 -> "ba" first; then abab = a ba b:
	 * (a,ba) 5, (ba,b) 5, ab 1 -> (a, ba) by the tie rule */
	CHECK(tok_is(&v, 256, "ba") && v.merges[0].count == 12 && tok_is(&v, 257, "aba") &&
	      v.merges[1].count == 5, "neighbouring pair counts follow each merge");
	bpe_vocab_free(&v);
	piece_table_free(pt);
}

/* Token byte strings are unique and each is its merge's two parts. */
static void test_vocab_invariants(const uint8_t *text, size_t n)
{
	CountOpts o = { .pattern = PRETOK_CL100K, .threads = 1 };
	PieceTable *pt = piece_table_new(NULL);
	count_buffer(pt, text, n, &o, NULL);
	BpeVocab v;
	int ok = train(pt, 2000, 1, 0, &v) == 0;
	for (size_t i = 0; ok && i < v.n_merges; i++) {
		const BpeMerge *m = &v.merges[i];
		ok = m->id < v.n_tokens && v.len[m->id] == v.len[m->left] + v.len[m->right] &&
		     memcmp(v.tok[m->id], v.tok[m->left], v.len[m->left]) == 0 &&
		     memcmp(v.tok[m->id] + v.len[m->left], v.tok[m->right], v.len[m->right]) == 0 &&
		     (i == 0 || m->count <= v.merges[i - 1].count);
	}
	CHECK(ok, "each token is its merge's parts; counts never rise");
	for (uint32_t i = 0; ok && i < v.n_tokens; i++)
		for (uint32_t j = i + 1; ok && j < v.n_tokens; j++)
			ok = !(v.len[i] == v.len[j] && memcmp(v.tok[i], v.tok[j], v.len[i]) == 0);
	CHECK(ok, "token byte strings are unique");
	bpe_vocab_free(&v);
	piece_table_free(pt);
}

int main(void)
{
	size_t cap = 700000;   /* more than 4 threads x 64 KiB: the threaded split runs */
	uint8_t *text = malloc(cap);
	size_t n = tricky_text(text, cap);
	test_piece_table();
	test_safe_cuts(text, n);
	test_streaming(text, n);
	test_long_pieces();
	test_merges();
	test_vocab_invariants(text, n);
	free(text);
	return test_done();
}
