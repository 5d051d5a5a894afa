/* Fuzz target: the safetensors reader (sample/safetensors.c), Hugging Face
 * GPT-2 config parsing and tensor import (sample/hf.c) on arbitrary bytes.
 * The first byte picks what to parse: even, a safetensors image (and, when
 * it parses, every tensor converted to fp32 and a GPT-2 import of it);
 * odd, a config.json.  Whatever the input, a clean error or a result. */
#include "hf.h"
#include "safetensors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	Error e;
	if (data[0] & 1) {
		GPT2Config c;
		hf_config_parse((const char *)data + 1, size - 1, "fuzz", &c, &e);
		return 0;
	}
	SafeTensors st;
	if (st_parse(&st, data + 1, size - 1, "fuzz", &e))
		return 0;
	for (int i = 0; i < st.n; i++) {
		const StTensor *t = &st.tensors[i];
		if (t->numel > (1u << 20))
			continue;
		float *out = malloc((t->numel ? t->numel : 1) * sizeof(float));
		if (out) {
			st_read_f32(&st, t, out, &e);
			free(out);
		}
		if (st_find(&st, t->name) == NULL)
			abort(); /* every parsed tensor can be found by its name */
	}
	/* a small GPT-2: every tensor must be present with its shape */
	GPT2Config c = { .max_seq_len = 4, .vocab_size = 5, .padded_vocab_size = 128,
			 .num_layers = 1, .num_heads = 1, .channels = 2 };
	float *p = malloc(gpt2_num_params(&c) * sizeof(float));
	if (p) {
		hf_import(&st, &c, p, &e);
		free(p);
	}
	st_close(&st);
	return 0;
}
