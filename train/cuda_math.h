/* Small numeric pieces shared by the CUDA kernels and the host: plain C that
 * compiles as device code under nvcc and as ordinary C everywhere else, so
 * that tests/test_cuda_math.c can check on a machine without a GPU the exact
 * bit logic the GPU runs (stochastic rounding, the online-softmax recurrence,
 * the GELU formula, the hash that seeds the rounding). */
#ifndef GPTKIT_CUDA_MATH_H
#define GPTKIT_CUDA_MATH_H

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define CK_HD __host__ __device__ __forceinline__
#else
#define CK_HD static inline
#endif

/* A 32-bit mix of three words (murmur3's finaliser over a weighted sum). */
CK_HD uint32_t ck_hash3(uint32_t a, uint32_t b, uint32_t c)
{
	uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u ^ (c + 0x165667B1u) * 0xC2B2AE3Du;
	h ^= h >> 16;
	h *= 0x7FEB352Du;
	h ^= h >> 15;
	h *= 0x846CA68Bu;
	h ^= h >> 16;
	return h;
}

CK_HD uint32_t ck_f32_bits(float f)
{
	union { float f; uint32_t u; } x;
	x.f = f;
	return x.u;
}

CK_HD float ck_bits_f32(uint32_t u)
{
	union { uint32_t u; float f; } x;
	x.u = u;
	return x.f;
}

/* Stochastic rounding of f to bf16 with 16 random bits r: adding r to the
 * magnitude bits that bf16 drops and truncating rounds up with probability
 * (dropped bits) / 65536, i.e. E[result] = f for every finite f whose
 * neighbours are finite.  NaN stays a quiet NaN; infinities stay. */
CK_HD uint16_t ck_bf16_stochastic(float f, uint32_t r)
{
	uint32_t u = ck_f32_bits(f);
	if ((u & 0x7FFFFFFFu) > 0x7F800000u)
		return (uint16_t)((u >> 16) | 0x40u);
	if ((u & 0x7FFFFFFFu) == 0x7F800000u)
		return (uint16_t)(u >> 16);
	return (uint16_t)((u + (r & 0xFFFFu)) >> 16);
}

/* The random bits used for parameter i with value f: a pure function of
 * (i, f), so the bf16 copy of a parameter depends only on the fp32 master
 * value and a resumed run rebuilds exactly the copy it had. */
CK_HD uint32_t ck_sr_bits(uint64_t i, float f)
{
	return ck_hash3((uint32_t)i, (uint32_t)(i >> 32), ck_f32_bits(f));
}

/* Online softmax: a running (max m, sum l of exp(x - m)) absorbs a chunk
 * whose maximum is cm and whose sum of exp(x - cm') is computed by the caller
 * against the new maximum.  ck_softmax_rescale gives the factor by which the
 * old sum (and any accumulator weighted by it) is multiplied when the maximum
 * moves from m to m_new; m = -inf (empty) gives 0. */
CK_HD float ck_softmax_rescale(float m, float m_new)
{
	return m == -INFINITY ? 0.0f : expf(m - m_new);
}

/* Merge two partial (max, sum) pairs into (*m, *l). */
CK_HD void ck_softmax_merge(float *m, float *l, float m2, float l2)
{
	float mn = *m > m2 ? *m : m2;
	if (mn == -INFINITY)
		return;
	*l = *l * ck_softmax_rescale(*m, mn) + l2 * ck_softmax_rescale(m2, mn);
	*m = mn;
}

/* GPT-2's GELU (tanh approximation) and its derivative. */
#define CK_GELU_K 0.7978845608028654f /* sqrt(2/pi) */
CK_HD float ck_gelu(float x)
{
	float cube = 0.044715f * x * x * x;
	return 0.5f * x * (1.0f + tanhf(CK_GELU_K * (x + cube)));
}

CK_HD float ck_gelu_grad(float x)
{
	float cube = 0.044715f * x * x * x;
	float th = tanhf(CK_GELU_K * (x + cube));
	float sech2 = 1.0f - th * th;
	return 0.5f * (1.0f + th) + x * 0.5f * sech2 * CK_GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
}

/* One AdamW element, the formula of layers.c's adamw_update. */
CK_HD float ck_adamw_elem(float p, float g, float *m, float *v, float lr, float b1, float b2,
			  float eps, float wd, float inv_bc1, float inv_bc2)
{
	float mi = b1 * *m + (1.0f - b1) * g;
	float vi = b2 * *v + (1.0f - b2) * g * g;
	*m = mi;
	*v = vi;
	return p - lr * (mi * inv_bc1 / (sqrtf(vi * inv_bc2) + eps) + wd * p);
}

#endif
