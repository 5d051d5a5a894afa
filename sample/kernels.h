/* Matrix-vector and matrix-matrix kernels for inference, fp32 and bf16
 * weights, chosen at run time: AVX-512 BF16 (vdpbf16ps) where the CPU has
 * it, AVX-512F next, portable C everywhere.  Decoding one token is a
 * sequence of matrix-vector products bound by memory bandwidth, so the
 * kernels stream each weight row once and split rows across threads. */
#ifndef GPTKIT_KERNELS_H
#define GPTKIT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { KERN_PORTABLE, KERN_AVX512F, KERN_AVX512BF16 } KernelLevel;

/* The best level this CPU supports, lowered by GPTKIT_KERNEL=portable|avx512f
 * in the environment (for tests and benchmarks of the fallbacks). */
KernelLevel kern_detect(void);
const char *kern_name(KernelLevel k);

/* out[o] = bias[o] + sum_i W[o, i] x[i] for o < OC; W is (OC, C) row-major,
 * bias may be NULL.  Each call runs its own thread team. */
void kern_matvec_f32(KernelLevel k, float *out, const float *x, const float *W, const float *bias,
		     int C, int OC);
/* Same with bf16 weights; xs is scratch of C uint16 (x rounded to bf16 for
 * the AVX-512 BF16 path, which multiplies bf16 pairs into fp32 sums). */
void kern_matvec_bf16(KernelLevel k, float *out, const float *x, const uint16_t *W, const float *bias,
		      int C, int OC, uint16_t *xs);

/* The same products for rows r0..r1-1 only, with no thread team: for a
 * caller whose threads share out one decode step inside a single parallel
 * region (a team per product costs more than small products take).  With
 * acc the result is added into out (a residual connection). */
void kern_matvec_f32_rows(KernelLevel k, float *out, const float *x, const float *W, const float *bias, int C,
			  int r0, int r1, int acc);
/* bf16 rows: xs must hold x prepared by kern_bf16_prepare (C uint16). */
void kern_bf16_prepare(KernelLevel k, uint16_t *xs, const float *x, int C);
void kern_matvec_bf16_rows(KernelLevel k, float *out, const float *x, const uint16_t *xs, const uint16_t *W,
			   const float *bias, int C, int r0, int r1, int acc);
/* Thread id of nt's equal share of OC rows: [*r0, *r1). */
void kern_rows(int OC, int id, int nt, int *r0, int *r1);

/* out (N, OC) = x (N, C) W^T + bias, fp32, through BLAS. */
void kern_matmul_f32(float *out, const float *x, const float *W, const float *bias, int N, int C, int OC);
/* Same with bf16 weights: widened to fp32 in wscratch (OC*C floats), then BLAS. */
void kern_matmul_bf16(float *out, const float *x, const uint16_t *W, const float *bias, int N, int C,
		      int OC, float *wscratch);

#endif
