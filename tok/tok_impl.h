/* The inside of a Tokenizer, shared by the files of tok/ (not for users). */
#ifndef GPTKIT_TOK_IMPL_H
#define GPTKIT_TOK_IMPL_H

#include "table.h"
#include "tok.h"

struct Tokenizer {
	TableView v;
	void *owned;            /* a block built at run time (NULL for built-ins) */
	PretokKind pretok;
	char **special_text;     /* NUL-terminated copies, by special index */
	char name[32 + 1];
};

/* Open a tokenizer over a table block; takes ownership of owned (if any). */
Tokenizer *tok_from_block(const void *block, size_t size, void *owned, Error *e);

/* The built-in encoding whose ordinary tokens are exactly entries[0..n)
 * (by id), or NULL. */
const char *tok_same_as_builtin(const TableEntry *entries, uint32_t n);
/* A name for token stream headers from a path: its base name up to the
 * first dot, printable, no spaces, at most 32 characters. */
void tok_name_from_path(const char *path, char *out, size_t cap);

/* tok/load.c: GPT-2 encoder.json + vocab.bpe. */
Tokenizer *tok_open_gpt2_json(const char *encoder_path, const char *bpe_path, Error *e);

#endif
