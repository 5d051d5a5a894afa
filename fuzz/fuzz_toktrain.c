/* Fuzz target: tok-train's counting and merge loop (toktrain/) on arbitrary
 * bytes.  The first byte picks the pattern, the block size and the piece
 * limit; the rest is the corpus.  Streaming in small blocks through a pipe
 * must count what one pass counts, and training must give unique tokens,
 * each the bytes of its merge's two parts, with counts that never rise. */
#include "bpe_export.h"
#include "bpe_train.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
		sum += h ^ (h >> 29);
	}
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > 1 << 15)
		return 0;
	uint8_t mode = data[0];
	const uint8_t *text = data + 1;
	size_t n = size - 1;
	CountOpts o = {
		.pattern = (PretokKind)(mode & 3),
		.max_piece_bytes = (mode & 4) ? 0 : 7 + (mode >> 5),
		.threads = (mode & 8) ? 2 : 1,
		.block_bytes = 16 + (mode & 0x10) * 4,
	};
	Error e;
	PieceTable *whole = piece_table_new(&e), *streamed = piece_table_new(&e);
	if (!whole || !streamed || count_buffer(whole, text, n, &o, &e))
		abort();
	int fds[2];
	if (pipe(fds))
		abort();
	/* a pipe holds 64 KiB, so the whole input fits before we read */
	if (write(fds[1], text, n) != (ssize_t)n)
		abort();
	close(fds[1]);
	uint64_t bytes = 0;
	if (count_fd(streamed, fds[0], "fuzz", &o, &bytes, NULL, &e))
		abort();
	close(fds[0]);
	if (bytes != n || piece_table_bytes(streamed) != n)
		abort();
	/* Only the fallback cut (no safe cut in 16 blocks) may split a piece
	 * differently from one pass; shorter inputs never reach it. */
	if (n < 16 * o.block_bytes) {
		if (piece_table_size(whole) != piece_table_size(streamed) ||
		    fingerprint(whole) != fingerprint(streamed))
			abort();
	}
	BpeVocab v;
	TrainOpts to = { .n_tokens = 256 + 64, .min_frequency = 1, .hf_ties = mode >> 7 };
	if (bpe_train(whole, &to, &v, &e))
		abort();
	for (size_t i = 0; i < v.n_merges; i++) {
		const BpeMerge *m = &v.merges[i];
		if (m->id >= v.n_tokens || v.len[m->id] != v.len[m->left] + v.len[m->right] ||
		    memcmp(v.tok[m->id], v.tok[m->left], v.len[m->left]) ||
		    memcmp(v.tok[m->id] + v.len[m->left], v.tok[m->right], v.len[m->right]) ||
		    (i && m->count > v.merges[i - 1].count))
			abort();
	}
	for (uint32_t i = 0; i < v.n_tokens; i++)
		for (uint32_t j = i + 1; j < v.n_tokens; j++)
			if (v.len[i] == v.len[j] && memcmp(v.tok[i], v.tok[j], v.len[i]) == 0)
				abort();
	FILE *null = fopen("/dev/null", "w");
	static const char *const sp[] = { "<|endoftext|>" };
	if (!null || bpe_write_hf(null, "fuzz", &v, o.pattern, sp, 1, &e))
		abort();
	fclose(null);
	bpe_vocab_free(&v);
	piece_table_free(whole);
	piece_table_free(streamed);
	return 0;
}
