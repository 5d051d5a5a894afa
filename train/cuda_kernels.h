/* The CUDA kernels of the GPT-2 model, one family per .cu file, behind a
 * plain C API so that the model (cuda_model.cu), the inference engine
 * (cuda_infer.cu) and the kernel-vs-CPU check (tests/gpu/cuda_check.c) call
 * the same launchers.  Every launcher enqueues work on `stream` (a
 * cudaStream_t; NULL is the default stream), never synchronises with the
 * host, and returns 0, or -1 when the launch failed.
 *
 * Tensors are row-major like layers.h.  Activations and weights are of the
 * compute type t (CK_F32: float, CK_BF16: __nv_bfloat16) and passed as
 * void *; statistics (LayerNorm mean/rstd, attention log-sum-exp, losses),
 * parameter gradients, master weights and AdamW moments are always float.
 * All reductions run in a fixed order (no atomics): results are bitwise
 * reproducible run to run on the same GPU. */
#ifndef GPTKIT_CUDA_KERNELS_H
#define GPTKIT_CUDA_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CK_F32 = 0, CK_BF16 = 1 } CkType;

size_t ck_sizeof(CkType t);

/* Device memory for callers written in C (tests/gpu/cuda_check.c):
 * ck_malloc gives NULL on failure; ck_memcpy copies in any direction and
 * waits; ck_sync waits for a stream and returns -1 on a pending error. */
void *ck_malloc(size_t bytes);
void ck_free(void *p);
int ck_memcpy(void *dst, const void *src, size_t bytes);
int ck_sync(void *stream);
const char *ck_last_error(void);

/* --- cuda_encoder.cu --- */
/* out[b,t,:] = wte[inp[b,t],:] + wpe[pos0 + t,:]; inp is on the device. */
int ck_encoder_forward(CkType t, void *out, const int *inp, const void *wte, const void *wpe,
		       int B, int T, int C, int pos0, void *stream);
/* dwpe[t,:] += sum over b of dout[b,t,:] (b in order). */
int ck_encoder_backward_wpe(CkType t, float *dwpe, const void *dout, int B, int T, int C, void *stream);
/* dwte[tok,:] += sum of dout[p,:] over the positions p holding tok, in the
 * order of ck_encoder_buckets (cuda_host.c); all arrays on the device. */
int ck_encoder_backward_wte(CkType t, float *dwte, const void *dout, const int *order,
			    const int *bucket_start, const int *bucket_tok, int nbuckets, int C, void *stream);

/* --- cuda_layernorm.cu --- */
/* With b == NULL: out = LayerNorm(a).  With b: resid_out = a + b (rounded
 * to t), out = LayerNorm(resid_out): the residual add fused with the norm.
 * mean, rstd: (N) floats, may be NULL (inference). eps 1e-5 as layers.c. */
int ck_layernorm_forward(CkType t, void *out, float *mean, float *rstd, void *resid_out,
			 const void *a, const void *b, const void *weight, const void *bias,
			 int N, int C, void *stream);
/* dinp += LayerNorm'(dout); dweight += , dbias += (float).  scratch holds
 * ck_colsum_scratch(N, 4 * C) floats (the bf16 vector kernel writes 2C
 * per block, in up to two blocks per chunk of rows). */
int ck_layernorm_backward(CkType t, void *dinp, float *dweight, float *dbias, float *scratch,
			  const void *dout, const void *inp, const void *weight, const float *mean,
			  const float *rstd, int N, int C, void *stream);
/* Floats of scratch a column reduction over N rows of M columns needs. */
size_t ck_colsum_scratch(int N, int M);
/* dbias[o] += sum over rows of dout[., o] (float), fixed order. */
int ck_bias_backward(CkType t, float *dbias, float *scratch, const void *dout, int N, int OC, void *stream);

/* --- cuda_gelu.cu --- */
int ck_gelu_forward(CkType t, void *out, const void *inp, size_t n, void *stream);
/* dinp = gelu'(inp) * dout (written, not added); dinp may be dout. */
int ck_gelu_backward(CkType t, void *dinp, const void *inp, const void *dout, size_t n, void *stream);
/* out = a + b */
int ck_residual_forward(CkType t, void *out, const void *a, const void *b, size_t n, void *stream);
/* Conversions: dst (t) from float, and float from src (t). */
int ck_from_float(CkType t, void *dst, const float *src, size_t n, void *stream);
int ck_to_float(CkType t, float *dst, const void *src, size_t n, void *stream);
/* Copy rows: dst[r * dst_stride + i] = src[r * src_stride + i], i < width. */
int ck_copy_rows(CkType t, void *dst, size_t dst_stride, const void *src, size_t src_stride,
		 int rows, int width, void *stream);

/* --- cuda_matmul.cu (cuBLASLt) --- */
typedef struct CkBlas CkBlas;
/* A cuBLASLt handle with a workspace; why gets the reason on failure. */
int ck_blas_create(CkBlas **h, char *why, size_t why_len);
void ck_blas_destroy(CkBlas *h);
/* The last cuBLAS(Lt) failure, as text ("" when none). */
const char *ck_blas_error(const CkBlas *h);
/* out (N,OC) = inp (N,C) @ weight (OC,C)^T + bias (OC, may be NULL).  With
 * pre_gelu: pre_gelu = that product, out = gelu(pre_gelu); in bf16 this is
 * cuBLASLt's GELU_AUX_BIAS epilogue, in fp32 a separate GELU kernel (the
 * checking mode keeps to the plainest path). */
int ck_matmul_forward(CkBlas *h, CkType t, void *out, void *pre_gelu, const void *inp,
		      const void *weight, const void *bias, int N, int C, int OC, void *stream);
/* dinp (N,C) = dout (N,OC) @ weight (OC,C)   (written) */
int ck_matmul_backward_input(CkBlas *h, CkType t, void *dinp, const void *dout, const void *weight,
			     int N, int C, int OC, void *stream);
/* dweight (OC,C) += dout^T (OC,N) @ inp (N,C)   (float, accumulated) */
int ck_matmul_backward_weight(CkBlas *h, CkType t, float *dweight, const void *dout, const void *inp,
			      int N, int C, int OC, void *stream);
/* dinp = (dout . W) o gelu'(pre_gelu): ck_matmul_backward_input then
 * ck_gelu_backward, fused into one product (cuBLASLt's DGELU epilogue) in
 * bf16 where cuBLASLt has it. */
int ck_matmul_backward_input_dgelu(CkBlas *h, CkType t, void *dinp, const void *dout, const void *weight,
				   const void *pre_gelu, int N, int C, int OC, void *stream);

/* --- cuda_attention.cu --- */
/* Causal attention in the flash-attention style: the T x T matrix is never
 * stored; each query row keeps a running max and sum (online softmax) over
 * tiles of 32 keys held in shared memory.  Query row t of batch b, head h
 * sits at q + b*q_bstride + t*q_tstride + h*hs (likewise k, v, out, all in
 * elements); query t has absolute position q_off + t and sees keys
 * 0..q_off+t (< Tk).  lse (B, NH, Tq) gets each row's log-sum-exp for the
 * backward pass (NULL: not kept).  hs <= 128. */
typedef struct {
	const void *q, *k, *v;
	void *out;
	float *lse;
	long long q_bstride, q_tstride, kv_bstride, kv_tstride, o_bstride, o_tstride;
	int B, NH, hs, Tq, Tk, q_off;
} CkAttn;
int ck_attention_forward(CkType t, const CkAttn *a, void *stream);
/* The arguments for the training layout: qkv (B,T,3C) holding q, k, v; out (B,T,C). */
void ck_attention_qkv_args(CkAttn *a, CkType t, void *out, float *lse, const void *qkv, int B, int T, int C,
			   int NH);
/* The training layout: qkv (B,T,3C) holding q, k, v; out (B,T,C). */
int ck_attention_forward_qkv(CkType t, void *out, float *lse, const void *qkv, int B, int T, int C,
			     int NH, void *stream);
/* dqkv (B,T,3C) written from dout (B,T,C), the forward's qkv, out and lse;
 * dscratch holds B*NH*T floats.  Two kernels, one for dq (over keys) and
 * one for dk, dv (over queries): no atomics. */
int ck_attention_backward(CkType t, void *dqkv, float *dscratch, const void *dout, const void *qkv,
			  const void *out, const float *lse, int B, int T, int C, int NH, void *stream);

/* The first step of the backward pass: D (B, NH, T) = rowsum(dout * out). */
int ck_attention_d(CkType t, float *D, const void *dout, const void *out, int B, int T, int C, int NH,
		   void *stream);

/* --- cuda_attention_tc.cu: the same attention on the tensor cores
 * (mma.sync, flash-attention 2), bf16 with head size 64 only; the default
 * where it applies (GPTKIT_CUDA_ATTN=cuda-core for the kernel above).  Same
 * arguments and results as above; the row strides must be multiples of 8. --- */
int ck_attention_tc_supported(CkType t, int hs);
int ck_attention_forward_tc(const CkAttn *a, void *stream);
int ck_attention_backward_tc(void *dqkv, float *dscratch, const void *dout, const void *qkv, const void *out,
			     const float *lse, int B, int T, int C, int NH, void *stream);

/* --- cuda_classifier.cu --- */
/* Fused softmax cross-entropy over the first V of Vp logits per row, one
 * block per row, online max/sum: losses[r] = logsumexp - logit[target].
 * With dloss != 0 the logits are overwritten by dloss * (softmax - onehot)
 * (padded columns 0): the probabilities never exist as a tensor. */
int ck_crossentropy(CkType t, float *losses, void *logits, const int *targets, float dloss,
		    int N, int V, int Vp, void *stream);
/* *out = mean of x[0..n) (one block, fixed order). */
int ck_mean(float *out, const float *x, int n, void *stream);
/* *acc = keep ? *acc + *x : *x (one thread): a step's loss summed over its
 * micro-batches on the device, in the order the host would add them. */
int ck_scalar_add(float *acc, const float *x, int keep, void *stream);

/* --- cuda_adamw.cu --- */
/* *out = sqrt(sum of x[i]^2) over n floats (double accumulation, fixed
 * grid and order); scratch holds CK_NORM_BLOCKS doubles. */
#define CK_NORM_BLOCKS 1024
int ck_norm(float *out, double *scratch, const float *x, size_t n, void *stream);
/* AdamW over n parameters, the formula of layers.c; p, g, m, v float, the
 * gradients scaled by grad_mult, or with norm (on the device, ck_norm's
 * output) by the clip factor clip / (*norm + 1e-6) when clip > 0 and
 * *norm > clip, else 1, so that the host need not wait for the norm.  With
 * px (bf16) the compute copy px = stochastic_round(p) with the bits of
 * ck_sr_bits(index0 + i, p) (cuda_math.h). */
int ck_adamw(float *p, void *px, const float *g, float *m, float *v, size_t n, size_t index0,
	     float lr, float beta1, float beta2, float eps, float weight_decay, float grad_mult,
	     const float *norm, float clip, int t, void *stream);
/* px (bf16) = stochastic_round(p) as in ck_adamw. */
int ck_round_params(void *px, const float *p, size_t n, size_t index0, void *stream);

#ifdef __cplusplus
}
#endif

#endif
