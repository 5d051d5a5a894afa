/* tok-file(5): gptkit's own tokenizer file, the format tok-train writes.
 * A versioned text file: a header line, the name, the pre-tokenizer, the
 * ranked token byte strings (base64, as in .tiktoken) and special tokens. */
#ifndef GPTKIT_TOKFILE_H
#define GPTKIT_TOKFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "err.h"
#include "pretok.h"
#include "tok.h"

#define TOKFILE_MAGIC "gptkit-tokenizer"
#define TOKFILE_VERSION 1

/* What a tok-file(5) holds.  Token i (rank i, id i) is the byte string
 * tokens[i] of length lens[i]; every byte value must be among the tokens
 * (so every input encodes).  Special token ids are >= n_tokens. */
typedef struct {
	const char *name;          /* 1..32 printable ASCII, no spaces */
	PretokKind pattern;
	uint32_t n_tokens;
	const uint8_t *const *tokens;
	const uint32_t *lens;
	const TokSpecial *specials;
	size_t n_specials;
} TokFileData;

/* Write d to path atomically (tmp + fsync + rename; "-" = stdout). */
int tokfile_write(const char *path, const TokFileData *d, Error *e);
/* Write d to an open stream (no atomicity). name is for messages. */
int tokfile_write_fp(FILE *fp, const char *name, const TokFileData *d, Error *e);

/* Parse a tok-file(5) held in memory; NULL with "name: line N: why". */
Tokenizer *tokfile_parse(const uint8_t *buf, size_t len, const char *name, Error *e);

#endif
