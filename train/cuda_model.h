/* GPT-2 training on one CUDA GPU (cuda_model.cu): the model of gpt2.h with
 * the kernels of cuda_kernels.h, everything on one stream.  The training
 * loop's path (cuda_model_step_async, cuda_model_update_clip,
 * cuda_model_finish) enqueues a whole optimizer step, micro-batches, norm,
 * clip factor and AdamW, and the host waits once, at its end, for the loss
 * and the norm; cuda_model_step, _grad_norm and _update wait for their
 * results (tests/gpu/cuda_check uses them).
 *
 * Precision (the precision argument of cuda_model_open): CUDA_MODEL_FP32 computes and stores everything in fp32 (the
 * checking mode: it must track the CPU build to ~1e-5); CUDA_MODEL_BF16
 * keeps fp32 master weights, fp32 gradients and fp32 AdamW moments, and
 * computes with bf16 weights (stochastically rounded from the masters) and
 * bf16 activations, accumulating in fp32. */
#ifndef GPTKIT_CUDA_MODEL_H
#define GPTKIT_CUDA_MODEL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "gpt2.h" /* a C header without C++ guards */

enum { CUDA_MODEL_FP32 = 0, CUDA_MODEL_BF16 = 1 };
/* Or'ed into the precision: attention on the tensor cores
 * (cuda_attention_tc.cu) where it applies (bf16, head size 64). */
#define CUDA_MODEL_ATTN_TC 0x100

typedef struct CudaModel CudaModel;

/* Number of usable CUDA devices; 0 (with the reason in why) when there is
 * no driver, no device, or the runtime fails.  Never prints. */
int cuda_device_count(char *why, size_t why_len);

/* Open the model on device 0 with parameters (fp32, gpt2_num_params),
 * optional AdamW moments (NULL = zero), micro-batches up to B x T.
 * Returns NULL with the reason in why. */
CudaModel *cuda_model_open(const GPT2Config *c, const float *params, const float *m, const float *v, int B,
			   int T, int precision, char *why, size_t why_len);
void cuda_model_close(CudaModel *cm);

/* The last failure ("" when none).  Once a call fails the model is broken:
 * every later call does nothing and returns NaN / NULL / -1. */
const char *cuda_model_error(const CudaModel *cm);

/* Forward with targets and backward of grad_scale * mean loss, the
 * gradients added (accumulate) or overwritten.  Returns the mean loss. */
float cuda_model_step(CudaModel *cm, const int *inputs, const int *targets, float grad_scale, int accumulate);
/* The same without waiting: the micro-batch's mean loss is added to the
 * step's sum on the device (or starts it, when accumulate is 0). */
void cuda_model_step_async(CudaModel *cm, const int *inputs, const int *targets, float grad_scale, int accumulate);
/* The gradient norm and AdamW step t with the clip factor taken on the
 * device: clip / (norm + 1e-6) when clip > 0 and norm > clip, else 1. */
void cuda_model_update_clip(CudaModel *cm, float lr, float beta1, float beta2, float eps, float weight_decay,
			    float clip, int t);
/* Wait for the step; the sum of its micro-batches' mean losses and the
 * gradient norm (before clipping).  -1 (NaN both) once broken. */
int cuda_model_finish(CudaModel *cm, float *loss_sum, float *norm);
/* Mean loss of a B x T micro-batch, no gradients. */
float cuda_model_loss(CudaModel *cm, const int *inputs, const int *targets);
float cuda_model_grad_norm(CudaModel *cm);
int cuda_model_update(CudaModel *cm, float lr, float beta1, float beta2, float eps, float weight_decay,
		      float grad_mult, int t);
/* Logits (Vp floats, host) after the last of n tokens, one sequence, n <= T. */
const float *cuda_model_logits(CudaModel *cm, const int *tokens, int n);
/* Host copies (num_params floats, valid until the next call of the same
 * function): master weights, AdamW moments, the gradients. */
const float *cuda_model_params(CudaModel *cm);
const float *cuda_model_adam_m(CudaModel *cm);
const float *cuda_model_adam_v(CudaModel *cm);
const float *cuda_model_grads(CudaModel *cm);
/* Bytes of GPU memory the model allocated. */
size_t cuda_model_bytes(const CudaModel *cm);

#ifdef __cplusplus
}
#endif

#endif
