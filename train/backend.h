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
	 * written over them when accumulate is 0.  Its mean loss is added to
	 * the step's loss sum (which accumulate == 0 starts).  Need not wait
	 * for the device. */
	void (*micro_step)(TrainBackend *be, const int *inputs, const int *targets, float grad_scale,
			   int accumulate);
	/* Mean loss of a micro-batch, no gradients. */
	float (*loss)(TrainBackend *be, const int *inputs, const int *targets);
	/* The end of an optimizer step: the gradients' global L2 norm, the
	 * clip factor (backend_clip_mult), AdamW step t (1-based; see
	 * gpt2_update); then the step's loss sum and the norm before clipping.
	 * The one place a step waits for the device. */
	void (*update)(TrainBackend *be, float lr, float beta1, float beta2, float eps, float weight_decay,
		       float clip, int t, float *loss_sum, float *grad_norm);
	/* Logits (Vp floats) after the last of n tokens (n <= T). */
	const float *(*logits)(TrainBackend *be, const int *tokens, int n);
	/* Host copies of parameters and AdamW moments for checkpoints
	 * (num_params floats each, valid until the next call). */
	const float *(*params)(TrainBackend *be);
	const float *(*adam_m)(TrainBackend *be);
	const float *(*adam_v)(TrainBackend *be);
	void (*close)(TrainBackend *be);
};

/* The gradients' scale for clipping at clip (0: none): clip / (norm + 1e-6)
 * when the norm exceeds it.  The CUDA backend computes the same on the
 * device (cuda_adamw.cu), with the same float operations. */
static inline float backend_clip_mult(float norm, float clip)
{
	return clip > 0 && norm > clip ? clip / (norm + 1e-6f) : 1.0f;
}

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
