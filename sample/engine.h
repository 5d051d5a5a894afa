/* The inference engine of gpt-sample: a GPT-2 held for generation (fp32
 * weights mmapped from a checkpoint, or bf16 weights in memory), a KV cache,
 * and a forward pass that takes a batch of prompt tokens at once (BLAS) or
 * one token at a time (matrix-vector kernels at the memory-bandwidth limit).
 * train/gpt2.c's gpt2_forward is the reference it is tested against. */
#ifndef GPTKIT_ENGINE_H
#define GPTKIT_ENGINE_H

#include <stdint.h>
#include "checkpoint.h"
#include "err.h"
#include "gpt2.h"
#include "kernels.h"

typedef enum { MODEL_F32, MODEL_BF16 } ModelDtype;

typedef struct {
	GPT2Config config;
	ModelDtype dtype;
	GPT2Params w;        /* fp32 views; with MODEL_BF16 only the vectors and wpe are set */
	uint16_t *wte16, *qkvw16, *attprojw16, *fcw16, *fcprojw16; /* MODEL_BF16 matrices */
	float *own_f32;      /* what the views point into, when not the mmap */
	uint16_t *own_bf16;
	CkptMap map;
	int mapped;
	int ckpt_version;    /* 3 or 5 for checkpoints, 0 for Hugging Face */
} Model;

/* Load an llm.c/gptkit checkpoint (v3 or v5, mmapped) or a Hugging Face
 * GPT-2 directory / .safetensors file, holding the weights as dtype. */
int model_load(Model *m, const char *path, ModelDtype dtype, Error *e);
/* Hold already loaded fp32 parameters (copied) as dtype. */
int model_from_params(Model *m, const GPT2Config *c, const float *params, ModelDtype dtype, Error *e);
/* Weight bytes read per decoded token (the matrices, the head and the vectors). */
double model_bytes_per_token(const Model *m);
void model_free(Model *m);

typedef struct {
	const Model *m;
	KernelLevel kern;
	int pos;             /* tokens in the KV cache */
	int max_batch;       /* prompt tokens per batched pass */
	float *kcache, *vcache; /* (L, NH, maxT, hs): fp32 weights */
	uint16_t *kcache16, *vcache16; /* the same in bf16, with bf16 weights (half the bytes to read) */
	float *kvwide;       /* bf16 cache, batched pass: (threads, 2, maxT, hs) keys and values widened */
	float *x, *xb, *qkv, *atty, *tmp, *hb; /* (max_batch, C/3C/4C) */
	float *mean, *rstd;  /* (max_batch) */
	float *att;          /* (threads, maxT) attention scores */
	float *scores;       /* (threads, max_batch, maxT): a head's scores in the batched pass */
	int att_threads;
	float *logits;       /* (V) of the last position */
	float *wscratch;     /* bf16 batched pass: one matrix widened to fp32 */
	uint16_t *xs;        /* bf16 activations for the AVX-512 BF16 kernel */
	float *lnt;          /* decode: a layernorm output per thread (threads, C) */
	uint16_t *xst;       /* decode: bf16 activations per thread (threads, 4C) */
	struct EngineTeam *team; /* decode: the threads that share out a token */
} Engine;

int engine_init(Engine *s, const Model *m, int max_batch, Error *e);
void engine_free(Engine *s);
/* Forget the cache (or keep its first pos tokens: later tokens are overwritten). */
static inline void engine_rewind(Engine *s, int pos) { s->pos = pos; }
/* Run n tokens at positions pos..pos+n-1 (pos + n <= maxT), in batches of
 * max_batch; s->logits gets the last position's logits (V floats).  With
 * all_logits (n x V floats, may be NULL) every position's logits too. */
void engine_forward(Engine *s, const int *tokens, int n, float *all_logits);

#endif
