/* Fuzz target: decode(encode(x)) == x for every byte string x, in every
 * built-in encoding, with and without special tokens; the pre-tokenizer
 * partitions the input; tok_count agrees with tok_encode_ordinary.
 * The first byte picks the encoding and the mode; the rest is the text. */
#include "pretok.h"
#include "tok.h"

#include <stdlib.h>
#include <string.h>

static const char *const encs[] = {"gpt2", "p50k_base", "cl100k_base", "o200k_base", "bytes"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static Tokenizer *toks[5];
	Error e;
	if (size < 1)
		return 0;
	int k = data[0] % 5, special = (data[0] / 5) & 1;
	const uint8_t *s = data + 1;
	size_t n = size - 1;
	if (!toks[k] && !(toks[k] = tok_open(encs[k], &e)))
		abort();
	const Tokenizer *t = toks[k];
	/* every pattern: pieces are non-empty and cover the text */
	for (int p = 0; p <= PRETOK_NONE; p++)
		for (size_t pos = 0; pos < n;) {
			size_t end = pretok_next((PretokKind)p, s, n, pos);
			if (end <= pos || end > n)
				abort();
			pos = end;
		}
	TokVec v = {0};
	int rc = special ? tok_encode(t, s, n, NULL, &v, &e) : tok_encode_ordinary(t, s, n, &v, &e);
	if (rc)
		abort();
	if (!special && tok_count(t, s, n) != v.len)
		abort();
	uint8_t *out = NULL;
	size_t len = 0, cap = 0;
	if (tok_decode(t, v.ids, v.len, &out, &len, &cap, NULL, &e) || len != n || (n && memcmp(out, s, n) != 0))
		abort();
	free(out);
	tokvec_free(&v);
	return 0;
}
