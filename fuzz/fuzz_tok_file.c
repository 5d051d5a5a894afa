/* Fuzz target: the tokenizer file parsers on arbitrary bytes: tok-file(5)
 * and .tiktoken.  Whatever the input, a parser returns a tokenizer that
 * encodes and decodes, or a clean error; it never reads out of bounds. */
#include "table.h"
#include "tok_impl.h"
#include "tok.h"
#include "tokfile.h"

#include <stdlib.h>
#include <string.h>

static void exercise(Tokenizer *t)
{
	static const uint8_t text[] = "Hello, world! 123 \xff\xfe <|endoftext|> caf\xc3\xa9";
	Error e;
	TokVec v = {0};
	uint8_t *out = NULL;
	size_t len = 0, cap = 0;
	if (tok_encode(t, text, sizeof text - 1, NULL, &v, &e) ||
	    tok_decode(t, v.ids, v.len, &out, &len, &cap, NULL, &e))
		abort();
	/* specials take their ids; all else round-trips, so the length can
	 * only differ where a special token was recognised */
	if (tok_n_specials(t) == 0 && (len != sizeof text - 1 || memcmp(out, text, len) != 0))
		abort();
	free(out);
	tokvec_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Error e;
	if (size > 1 << 16)
		return 0;
	Tokenizer *t = tokfile_parse(data, size, "fuzz", &e);
	if (t) {
		exercise(t);
		tok_free(t);
	}
	TableEntry *ent;
	uint32_t n;
	uint8_t *store;
	if (table_parse_tiktoken(data, size, "fuzz", &ent, &n, &store, &e) == 0) {
		void *block;
		size_t bsize;
		if (table_build("fuzz", 0, ent, n, &block, &bsize, &e) == 0) {
			Tokenizer *u = tok_from_block(block, bsize, block, &e);
			if (u) {
				exercise(u);
				tok_free(u);
			}
		}
		free(ent);
		free(store);
	}
	return 0;
}
