/* Writers for what tok-train learned besides tok-file(5): a Hugging Face
 * tokenizer.json (tokenizers.Tokenizer.from_file loads it and encodes as
 * tok-encode does) and the plain list of merges (for tests and reading). */
#ifndef GPTKIT_BPE_EXPORT_H
#define GPTKIT_BPE_EXPORT_H

#include <stdio.h>
#include "bpe_train.h"

/* The regex of a pre-tokenizer kind, as Hugging Face's Split takes it
 * (NULL for PRETOK_NONE, which splits after each newline). */
const char *bpe_pattern_regex(PretokKind k);

/* tokenizer.json: the tokens of v (ids as in tok-file), the specials with
 * the ids after them, and the pre-tokenizer k.  name is for messages. */
int bpe_write_hf(FILE *fp, const char *name, const BpeVocab *v, PretokKind k,
		 const char *const *specials, size_t n_specials, Error *e);

/* One line per merge: `left right id count`. */
int bpe_write_merges(FILE *fp, const char *name, const BpeVocab *v, Error *e);

#endif
