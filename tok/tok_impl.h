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

/* tok/load.c: GPT-2 encoder.json + vocab.bpe. */
Tokenizer *tok_open_gpt2_json(const char *encoder_path, const char *bpe_path, Error *e);

#endif
