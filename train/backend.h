/* The training backend: what gpt-train's loop needs from a device.  The CPU
 * backend (backend_cpu.c) wraps gpt2.h; a CUDA backend provides the same
 * table (backend_cuda_open, compiled when GPTKIT_CUDA is defined) and the
 * loop in train.c does not change. */
#ifndef GPTKIT_BACKEND_H
#define GPTKIT_BACKEND_H

#include "err.h"
#include "gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct TrainBackend TrainBackend;
struct TrainBackend {
	const char *name;   /* "cpu", "cuda" */
	void *ctx;
	/* One micro-batch (B x T): forward with targets, then backward; the
	 * gradient of grad_scale * mean loss is added to the gradients, or
	 * written over them when accumulate is 0.  Returns the mean loss. */
	float (*step)(TrainBackend *be, const int *inputs, const int *targets, float grad_scale, int accumulate);
	/* Mean loss of a micro-batch, no gradients. */
	float (*loss)(TrainBackend *be, const int *inputs, const int *targets);
	/* Global L2 norm of the gradients. */
	float (*grad_norm)(TrainBackend *be);
	/* AdamW step t (1-based); see gpt2_update. */
	void (*update)(TrainBackend *be, float lr, float beta1, float beta2, float eps,
		       float weight_decay, float grad_mult, int t);
	/* Logits (Vp floats) after the last of n tokens (n <= T). */
	const float *(*logits)(TrainBackend *be, const int *tokens, int n);
	/* Host copies of parameters and AdamW moments for checkpoints
	 * (num_params floats each, valid until the next call). */
	const float *(*params)(TrainBackend *be);
	const float *(*adam_m)(TrainBackend *be);
	const float *(*adam_v)(TrainBackend *be);
	void (*close)(TrainBackend *be);
};

/* Open a backend for config c with the given parameters, moments (NULL =
 * zero), micro-batch B x T and thread count. */
int backend_cpu_open(TrainBackend *be, const GPT2Config *c, const float *params,
		     const float *m, const float *v, int B, int T, Error *e);
#ifdef GPTKIT_CUDA
int backend_cuda_open(TrainBackend *be, const GPT2Config *c, const float *params,
		      const float *m, const float *v, int B, int T, Error *e);
#endif

#ifdef __cplusplus
}
#endif

#endif
