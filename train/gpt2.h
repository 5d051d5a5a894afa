/* The GPT-2 model on the CPU, in fp32: configuration, the parameter layout of
 * llm.c's checkpoint (DESIGN.md), activations, and the whole-model forward,
 * backward and AdamW update.  The per-layer functions live in layers.h.
 * This is the reference that gpt-sample, gpt-eval and the CUDA backend follow. */
#ifndef GPTKIT_GPT2_H
#define GPTKIT_GPT2_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
	int max_seq_len;       /* maxT: context length, e.g. 1024 */
	int vocab_size;        /* V, e.g. 50257 */
	int padded_vocab_size; /* Vp: V rounded up to a multiple of 128, e.g. 50304 */
	int num_layers;        /* L */
	int num_heads;         /* NH */
	int channels;          /* C */
} GPT2Config;

/* The 16 parameter tensors, in checkpoint order; all layers of a tensor are
 * contiguous (layer l of qkvw starts at qkvw + l*3C*C). */
#define GPT2_NUM_PARAM_TENSORS 16
typedef struct {
	float *wte;      /* (Vp, C)  token embedding, also the output head */
	float *wpe;      /* (maxT, C) */
	float *ln1w;     /* (L, C) */
	float *ln1b;     /* (L, C) */
	float *qkvw;     /* (L, 3C, C) */
	float *qkvb;     /* (L, 3C) */
	float *attprojw; /* (L, C, C) */
	float *attprojb; /* (L, C) */
	float *ln2w;     /* (L, C) */
	float *ln2b;     /* (L, C) */
	float *fcw;      /* (L, 4C, C) */
	float *fcb;      /* (L, 4C) */
	float *fcprojw;  /* (L, C, 4C) */
	float *fcprojb;  /* (L, C) */
	float *lnfw;     /* (C) */
	float *lnfb;     /* (C) */
} GPT2Params;

/* Names of the tensors ("wte", ...), in order. */
extern const char *const gpt2_param_names[GPT2_NUM_PARAM_TENSORS];

void gpt2_param_sizes(const GPT2Config *c, size_t sizes[GPT2_NUM_PARAM_TENSORS]);
size_t gpt2_num_params(const GPT2Config *c);
/* Carve base (gpt2_num_params floats) into the 16 tensors. */
void gpt2_params_point(GPT2Params *p, float *base, const GPT2Config *c);
/* 1 for the tensors that get weight decay (the 2-D matrices: wte, wpe,
 * qkvw, attprojw, fcw, fcprojw), 0 for biases and LayerNorm gains. */
int gpt2_param_decays(int tensor);
/* Check a configuration for nonsense (C % NH, Vp < V, Vp % 128, sizes <= 0);
 * 0 if sane, -1 with a reason naming `what` otherwise. */
int gpt2_config_check(const GPT2Config *c, const char *what, Error *e);
/* Vocabulary padded to a multiple of 128. */
int gpt2_pad_vocab(int V);

/* Activations kept by the forward pass for the backward pass, for batch B, T. */
#define GPT2_NUM_ACT_TENSORS 19
typedef struct {
	float *encoded;   /* (B, T, C)      wte[tok] + wpe[t] */
	float *ln1;       /* (L, B, T, C) */
	float *ln1_mean;  /* (L, B, T) */
	float *ln1_rstd;  /* (L, B, T) */
	float *qkv;       /* (L, B, T, 3C) */
	float *atty;      /* (L, B, T, C)   attention output before the projection */
	float *att;       /* (L, B, NH, T, T) softmax probabilities (causal) */
	float *residual2; /* (L, B, T, C)   residual + attention projection */
	float *ln2;       /* (L, B, T, C) */
	float *ln2_mean;  /* (L, B, T) */
	float *ln2_rstd;  /* (L, B, T) */
	float *fch;       /* (L, B, T, 4C)  before GELU */
	float *fch_gelu;  /* (L, B, T, 4C) */
	float *residual3; /* (L, B, T, C)   block output */
	float *lnf;       /* (B, T, C) */
	float *lnf_mean;  /* (B, T) */
	float *lnf_rstd;  /* (B, T) */
	float *logits;    /* (B, T, Vp)     logits; probabilities after a forward with targets */
	float *losses;    /* (B, T) */
} GPT2Acts;

/* Scratch for the backward pass: one layer at a time, so O(B*T*C) not O(L*B*T*C). */
typedef struct {
	float *dresidual; /* (B, T, C) gradient flowing down the residual stream */
	float *dln;       /* (B, T, C) */
	float *dqkv;      /* (B, T, 3C) */
	float *datty;     /* (B, T, C) */
	float *datt;      /* (B, NH, T, T) */
	float *dfch_gelu; /* (B, T, 4C) */
	float *dfch;      /* (B, T, 4C) */
} GPT2Scratch;

typedef struct {
	GPT2Config config;
	GPT2Params params;      /* views into params_memory */
	float *params_memory;
	size_t num_params;
	size_t param_sizes[GPT2_NUM_PARAM_TENSORS];
	GPT2Params grads;       /* allocated by gpt2_alloc_train */
	float *grads_memory;
	float *m_memory, *v_memory; /* AdamW moments, allocated by gpt2_alloc_train */
	GPT2Acts acts;          /* allocated by gpt2_alloc_batch for B x T */
	float *acts_memory;
	size_t num_acts;
	GPT2Scratch scratch;
	float *scratch_memory;
	int B, T;               /* batch the activations were sized for */
	int batch_b, batch_t;   /* shape of the last forward */
	int *inputs, *targets;  /* copies of the last forward's batch (B*T each) */
	int have_targets;
	float mean_loss;        /* of the last forward with targets; -1 without */
	double *norm_partial;   /* per-chunk sums of gpt2_grad_norm (no allocation in a step) */
} GPT2;

/* Allocate parameters (zeroed) for config c; nothing else yet. */
int gpt2_create(GPT2 *m, const GPT2Config *c, Error *e);
/* GPT-2 initialisation: N(0, 0.02), residual projections (attprojw, fcprojw)
 * N(0, 0.02/sqrt(2L)), LayerNorm gains 1, biases 0, padded wte rows 0.
 * Deterministic in seed, independent of threads. */
void gpt2_init_random(GPT2 *m, uint64_t seed);
/* Size the activations for micro-batches up to B x T (T <= max_seq_len). */
int gpt2_alloc_batch(GPT2 *m, int B, int T, Error *e);
/* Gradients and AdamW moments (zeroed). */
int gpt2_alloc_train(GPT2 *m, Error *e);
void gpt2_free(GPT2 *m);

/* Forward pass over inputs (B*T token ids, B <= m->B, T <= m->T).  With
 * targets (may be NULL), also the per-position cross-entropy losses, their
 * mean in m->mean_loss, and the logits turned into probabilities. */
void gpt2_forward(GPT2 *m, const int *inputs, const int *targets, int B, int T);
/* Backward pass of the last forward (which must have had targets).  The
 * gradient of grad_scale * mean loss is added to m->grads when accumulate is
 * set, or written over it when not (no separate zeroing needed). */
void gpt2_backward(GPT2 *m, float grad_scale, int accumulate);
void gpt2_zero_grad(GPT2 *m);
/* Global L2 norm of all gradients (double accumulation, fixed chunking:
 * the result does not depend on the number of threads). */
float gpt2_grad_norm(const GPT2 *m);
/* One AdamW step t (1-based): grads are multiplied by grad_mult first (for
 * clipping), weight decay is decoupled and applied to 2-D matrices only. */
void gpt2_update(GPT2 *m, float lr, float beta1, float beta2, float eps,
		 float weight_decay, float grad_mult, int t);

/* Small deterministic RNG (xorshift64*), shared by init, data order and sampling. */
typedef struct { uint64_t s; } Rng;
void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
float rng_uniform(Rng *r);  /* [0, 1) */
float rng_normal(Rng *r);   /* N(0, 1), Box-Muller */

/* Threads: OpenMP gets n; OpenBLAS runs single-threaded inside the OpenMP
 * threads (layers.c splits each product), so the pools never compete. */
void gpt2_set_threads(int n);
/* Settings that must be in the environment before OpenBLAS and libgomp
 * load (they read it before main), so this re-executes the program once,
 * with the same arguments, after setting what is unset:
 * - OPENBLAS_CORETYPE=SkylakeX (or Haswell): OpenBLAS 0.3.21 (Debian 12)
 *   does not know CPUs newer than itself (Sapphire and Emerald Rapids) and
 *   falls back to its Prescott (SSE3) kernels, 3-4x slower;
 * - OMP_WAIT_POLICY=passive: on a machine shared with other work, threads
 *   that busy-wait at every barrier burn the time their partner needs.
 * A variable the user set is left alone.  Returns when nothing needed
 * doing or exec failed.  Call it first thing in main. */
void gpt2_blas_init(char *const argv[]);

#ifdef __cplusplus
}
#endif

#endif
