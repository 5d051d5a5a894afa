/* Turning logits into the next token: repetition penalty, temperature
 * (0 = greedy), top-k, top-p (nucleus), min-p, and a seeded RNG so that the
 * same seed gives the same tokens. */
#ifndef GPTKIT_SAMPLER_H
#define GPTKIT_SAMPLER_H

#include <stdint.h>
#include "err.h"
#include "gpt2.h"

typedef struct {
	float temperature;        /* 0 = greedy (argmax) */
	int top_k;                /* 0 = off */
	float top_p;              /* 1 = off */
	float min_p;              /* 0 = off */
	float repetition_penalty; /* 1 = off; CTRL's: positive logits / r, negative * r */
} SamplerParams;

typedef struct {
	SamplerParams p;
	int V;
	Rng rng;
	float *prob;   /* (V) */
	int *idx;      /* (V) candidates */
	uint8_t *seen; /* (V) tokens in the context, for the repetition penalty */
} Sampler;

int sampler_init(Sampler *s, const SamplerParams *p, int V, uint64_t seed, Error *e);
void sampler_free(Sampler *s);
/* Choose the next token from logits (V floats, modified in place); the
 * repetition penalty applies to every token of ctx (n of them). */
int sampler_next(Sampler *s, float *logits, const int *ctx, int n);
/* The probabilities the last sampler_next drew from (0 outside the kept
 * candidates); for tests.  Undefined after a greedy choice. */
const float *sampler_probs(const Sampler *s);

#endif
