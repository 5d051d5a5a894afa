/* The tokenizer library: byte-level BPE encodings (tiktoken-compatible),
 * built in (gpt2, r50k_base, p50k_base, cl100k_base, o200k_base, bytes) or
 * loaded from tok-file(5), .tiktoken, or GPT-2 encoder.json + vocab.bpe.
 * Owns the vocabulary tables, special tokens, encoding and decoding. */
#ifndef GPTKIT_TOK_H
#define GPTKIT_TOK_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "pretok.h"

typedef struct Tokenizer Tokenizer;

/* A built-in name (gpt2, r50k_base, p50k_base, cl100k_base, o200k_base,
 * bytes) or a path to a tokenizer file: tok-file(5), a .tiktoken rank file,
 * or GPT-2's encoder.json (with vocab.bpe beside it; a directory holding
 * both works too).  NULL with a one-line reason in e on failure. */
Tokenizer *tok_open(const char *spec, Error *e);

/* A special token for tok_open_tiktoken: its text and id. */
typedef struct {
	const char *text;
	uint32_t id;
} TokSpecial;

/* A .tiktoken rank file with a pre-tokenizer (a PretokKind, or -1 for the
 * default) and special tokens (tok-encode --pattern, --special).  With
 * specials == NULL and ranks identical to a built-in encoding's, the
 * built-in's special tokens and (by default) pattern are used; otherwise
 * the default pattern is gpt2. */
Tokenizer *tok_open_tiktoken(const char *path, int pattern,
			     const TokSpecial *specials, size_t n_specials, Error *e);
void tok_free(Tokenizer *t);

/* The encoding's name as written into token stream headers (<= 32 chars). */
const char *tok_name(const Tokenizer *t);
/* Number of token ids: ordinary tokens, special tokens, and any gaps. */
uint32_t tok_n_vocab(const Tokenizer *t);
/* The <|endoftext|> id; -1 if none. */
int32_t tok_eot(const Tokenizer *t);
PretokKind tok_pretok(const Tokenizer *t);

typedef struct {
	uint32_t *ids;
	size_t len, cap;
} TokVec;

void tokvec_free(TokVec *v);
/* Make room for n more ids; -1 (with e set) when out of memory. */
int tokvec_reserve(TokVec *v, size_t n, Error *e);

/* Encode text as ordinary tokens (special-token text is plain text),
 * appending ids to out.  Any byte string encodes; invalid UTF-8 bytes are
 * characters that are neither letter, digit nor space. */
int tok_encode_ordinary(const Tokenizer *t, const uint8_t *text, size_t len, TokVec *out, Error *e);
/* Number of ordinary tokens, without storing them. */
size_t tok_count(const Tokenizer *t, const uint8_t *text, size_t len);

/* Special tokens: how many, and the i-th one's text (NUL-terminated) and id. */
size_t tok_n_specials(const Tokenizer *t);
const char *tok_special_text(const Tokenizer *t, size_t i, uint32_t *id);
/* Id of the special token with this text; -1 if none. */
int64_t tok_special_id(const Tokenizer *t, const char *text);

/* Encode with special tokens: those whose flag in allowed[] (indexed like
 * tok_special_text; NULL = all) is set become their ids, the others are
 * plain text.  Ordinary text between them is encoded as by
 * tok_encode_ordinary. */
int tok_encode(const Tokenizer *t, const uint8_t *text, size_t len, const uint8_t *allowed,
	       TokVec *out, Error *e);
/* Offset of the first special token text in text (any of them); -1 if none.
 * *which receives its index (for --disallow-special messages). */
int64_t tok_find_special(const Tokenizer *t, const uint8_t *text, size_t len, size_t *which);

/* Rank (= id) of the ordinary token whose bytes are p[0..n); -1 if none. */
int64_t tok_rank(const Tokenizer *t, const uint8_t *p, size_t n);

/* The bytes of token id (length in *len); NULL if id is out of range or
 * names no token.  Special tokens give their text. */
const uint8_t *tok_token_bytes(const Tokenizer *t, uint32_t id, size_t *len);
/* Append the bytes of ids to buf (growing it); -1 with e set on an id
 * that names no token (*bad receives its index). */
int tok_decode(const Tokenizer *t, const uint32_t *ids, size_t n, uint8_t **buf, size_t *len,
	       size_t *cap, size_t *bad, Error *e);

/* A place at or after `from` where text can be cut without changing its
 * encoding: the two halves encode to the two halves of the tokens.  It is
 * just after a newline that follows a non-space and precedes an ASCII
 * letter or digit (every pattern ends a piece there and none looks across
 * it).  len if there is none. */
size_t tok_safe_split(const uint8_t *text, size_t len, size_t from);
/* tok_encode (allowed as there; allowed == NULL and specials == 0 give
 * tok_encode_ordinary) on up to nthreads threads, cutting the text at
 * tok_safe_split places; the ids are the same as on one thread. */
int tok_encode_parallel(const Tokenizer *t, const uint8_t *text, size_t len, int specials,
			const uint8_t *allowed, int nthreads, TokVec *out, Error *e);

/* The names tok_open knows without a file, NULL-terminated. */
extern const char *const tok_builtin_names[];

#endif
