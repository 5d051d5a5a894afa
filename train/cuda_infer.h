/* GPT-2 inference on one CUDA GPU (cuda_infer.cu), for gpt-sample and
 * gpt-eval: the weights on the GPU (fp32, or bf16 rounded to nearest), a
 * KV cache of the model's whole context, and a forward pass that takes a
 * run of tokens at once (batched prefill: every matrix product covers the
 * run) or one token at a time (decode).  One sequence.
 *
 *   char why[256];
 *   CudaInfer *g = cuda_infer_open(&config, params, CUDA_INFER_BF16, 512, why, sizeof why);
 *   if (!g) ... fall back to the CPU engine (why says why) ...
 *   const float *lg = cuda_infer_forward(g, prompt, n, NULL);   // prefill
 *   while (...) { int tok = pick(lg); lg = cuda_infer_forward(g, &tok, 1, NULL); }
 *   cuda_infer_close(g);
 *
 * Logits are fp32 on the host, Vp floats per position (the padded columns
 * are whatever the zero rows of wte give: 0).  The attention kernel is the
 * training one (cuda_attention.cu) with the queries offset to the cache
 * position; train/gpt2.c's gpt2_forward is the reference. */
#ifndef GPTKIT_CUDA_INFER_H
#define GPTKIT_CUDA_INFER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "gpt2.h" /* a C header without C++ guards */

enum { CUDA_INFER_FP32 = 0, CUDA_INFER_BF16 = 1 };

typedef struct CudaInfer CudaInfer;

/* Weights (fp32, gpt2_num_params) copied to device 0; prompt runs are cut
 * into chunks of max_batch tokens.  NULL with the reason in why. */
CudaInfer *cuda_infer_open(const GPT2Config *c, const float *params, int precision, int max_batch, char *why,
			   size_t why_len);
void cuda_infer_close(CudaInfer *g);
/* The last failure ("" when none); a failed engine stays failed. */
const char *cuda_infer_error(const CudaInfer *g);
/* Tokens in the KV cache; rewind keeps the first pos of them. */
int cuda_infer_pos(const CudaInfer *g);
void cuda_infer_rewind(CudaInfer *g, int pos);
/* Run n tokens at positions pos..pos+n-1 (pos + n <= maxT).  Returns the
 * last position's logits (Vp floats, valid until the next call), or NULL
 * on failure.  With all_logits (n x Vp floats, may be NULL) every
 * position's logits too. */
const float *cuda_infer_forward(CudaInfer *g, const int *tokens, int n, float *all_logits);

#ifdef __cplusplus
}
#endif

#endif
