/* Byte-level BPE training for tok-train: counting the distinct
 * pre-tokenized pieces of a text stream (bpe_count.c), then learning merges
 * greedily by pair frequency (bpe_train.c).  Knows no file format; the
 * writers are in bpe_export.c. */
#ifndef GPTKIT_BPE_TRAIN_H
#define GPTKIT_BPE_TRAIN_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "pretok.h"
#include "progress.h"

/* ---- Piece table: distinct byte strings with their counts ---- */

typedef struct PieceTable PieceTable;

PieceTable *piece_table_new(Error *e);
void piece_table_free(PieceTable *pt);
/* Add count occurrences of the piece s[0..len). */
int piece_table_add(PieceTable *pt, const uint8_t *s, uint32_t len, uint64_t count, Error *e);
/* Add every piece of src to dst. */
int piece_table_merge(PieceTable *dst, const PieceTable *src, Error *e);
void piece_table_clear(PieceTable *pt);
size_t piece_table_size(const PieceTable *pt);
/* Sum of the counts (pieces seen) and of count * length (bytes seen). */
uint64_t piece_table_total(const PieceTable *pt);
uint64_t piece_table_bytes(const PieceTable *pt);
/* The distinct pieces, in no particular order: start with *cursor = 0;
 * NULL after the last. */
const uint8_t *piece_table_next(const PieceTable *pt, size_t *cursor, uint32_t *len,
				uint64_t *count);
/* Bytes of memory held (for reports). */
size_t piece_table_memory(const PieceTable *pt);

/* ---- Counting: text -> pieces ---- */

typedef struct {
	PretokKind pattern;      /* PRETOK_NONE: each line (with its '\n') is a piece */
	size_t max_piece_bytes;  /* longer pieces are cut into parts this long; 0 = no limit */
	int threads;             /* counting threads (>= 1) */
	size_t block_bytes;      /* input read per round (0 = 4 MiB per thread) */
} CountOpts;

/* Split s[0..len) into pieces and count them into pt, as if s were a whole
 * input (its end ends the last piece). */
int count_buffer(PieceTable *pt, const uint8_t *s, size_t len, const CountOpts *o, Error *e);
/* Read fd to its end in blocks and count its pieces into pt.  Memory is the
 * block, the table and the longest piece (bounded by max_piece_bytes).
 * *bytes is advanced as input is read (for progress); pg may be NULL. */
int count_fd(PieceTable *pt, int fd, const char *name, const CountOpts *o, uint64_t *bytes,
	     Progress *pg, Error *e);
/* Where a block of text may be cut without changing how it splits into
 * pieces: after a '\n' that is followed by a character that no pattern lets
 * a piece continue into.  Returns the last such cut in (lo, hi) or 0. */
size_t count_safe_cut(PretokKind k, const uint8_t *s, size_t lo, size_t hi);

/* ---- Merging: pieces -> vocabulary ---- */

typedef struct {
	uint32_t left, right;  /* the pair merged (token ids) */
	uint32_t id;           /* the token it became; an older id when the bytes repeat one */
	uint64_t count;        /* occurrences of the pair when it was chosen */
} BpeMerge;

typedef struct {
	uint32_t n_tokens;      /* 256 byte tokens + the new tokens */
	uint8_t **tok;          /* tok[i]: the bytes of token i (tok[b] = {b} for b < 256) */
	uint32_t *len;
	size_t n_merges;        /* >= n_tokens - 256 (a merge may repeat a token's bytes) */
	BpeMerge *merges;
} BpeVocab;

/* Called after every merge; v holds the merges so far. */
typedef void (*BpeProgressFn)(void *ctx, const BpeVocab *v, uint32_t target);

typedef struct {
	uint32_t n_tokens;        /* ordinary tokens wanted: 256 + new tokens */
	uint64_t min_frequency;   /* stop when the best pair occurs fewer times (>= 1) */
	int hf_ties;              /* break ties as Hugging Face's trainer does (see below) */
	BpeProgressFn progress;
	void *progress_ctx;
} TrainOpts;

/* Learn merges until v has o->n_tokens tokens, no pair occurs
 * o->min_frequency times, or no pairs are left.  The pair chosen is the most
 * frequent; among equals, the one with the smallest left id, then the
 * smallest right id.  With hf_ties, the byte tokens are ordered instead as
 * Hugging Face numbers them: by the code point of their GPT-2 byte-level
 * character (printable bytes first, then the other 68).  A pair occurring twice overlapped ("aaa") counts twice,
 * as in minbpe; merging goes left to right within a piece.  A merge whose
 * bytes equal an existing token's gives that token (as Hugging Face's
 * trainer does), so token byte strings are unique. */
int bpe_train(const PieceTable *pt, const TrainOpts *o, BpeVocab *v, Error *e);
void bpe_vocab_free(BpeVocab *v);

#endif
