/* Training data for gpt-train: token streams (files, globs, stdin, llm.c
 * shards) read whole into memory, checked against the model's vocabulary,
 * and cut into micro-batches in order. */
#ifndef GPTKIT_DATA_H
#define GPTKIT_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	uint32_t *tok;
	size_t n, cap;
	uint32_t n_vocab;        /* from the headers; 0 = unknown (llm.c shards) */
	int32_t eot;             /* -1 = none */
	char encoding[STREAM_NAME_BYTES + 1];
	char name[256];          /* first input, for messages */
} TokenData;

/* Read every input (paths; "-" = stdin; glob patterns expanded in order).
 * *vocab is the model's vocabulary: tokens must be below it; when it is 0
 * it is taken from the first header (50257 when the header says 0) and
 * returned.  All inputs must share the header's vocabulary. */
int data_load(TokenData *d, const char *const *paths, int npaths, uint32_t *vocab, Error *e);
/* Move the last n tokens of src into dst (for --val-fraction). */
int data_split_tail(TokenData *src, TokenData *dst, size_t n, Error *e);
void data_free(TokenData *d);
/* FNV-1a of the tokens: tells a resumed run whether it has the same data. */
uint64_t data_hash(const uint32_t *tok, size_t n);

#ifdef __cplusplus
}
#endif

#endif
