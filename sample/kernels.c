/* Inference kernels with run-time dispatch; see kernels.h. */
#include "kernels.h"

#include <cblas.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

/* Rows per block: four weight streams in flight per thread. */
#define ROWS 4
/* Software prefetch PF rows ahead of each stream: the hardware prefetcher
 * alone leaves bandwidth unused (bf16 rows by a third, measured). */
#ifndef PF
#define PF 8
#endif

KernelLevel kern_detect(void)
{
	KernelLevel k = KERN_PORTABLE;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
		k = KERN_AVX512F;
	if (k == KERN_AVX512F && __builtin_cpu_supports("avx512bf16"))
		k = KERN_AVX512BF16;
#endif
	const char *env = getenv("GPTKIT_KERNEL");
	if (env && strcmp(env, "portable") == 0)
		k = KERN_PORTABLE;
	else if (env && strcmp(env, "avx512f") == 0 && k > KERN_AVX512F)
		k = KERN_AVX512F;
	return k;
}

const char *kern_name(KernelLevel k)
{
	return k == KERN_AVX512BF16 ? "avx512bf16" : k == KERN_AVX512F ? "avx512f" : "portable";
}

static inline float bf16_to_f32(uint16_t h)
{
	union { uint32_t u; float f; } x = { .u = (uint32_t)h << 16 };
	return x.f;
}

static inline uint16_t f32_to_bf16(float f)
{
	union { float f; uint32_t u; } x = { .f = f };
	if ((x.u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((x.u >> 16) | 0x40);
	return (uint16_t)((x.u + 0x7fffu + ((x.u >> 16) & 1)) >> 16);
}

/* ------------------------------------------------------------------ portable */

static void matvec_f32_portable(float *out, const float *x, const float *W, const float *bias, int C, int OC)
{
	#pragma omp parallel for schedule(static)
	for (int o = 0; o < OC; o++) {
		const float *w = W + (size_t)o * C;
		float s[8] = { 0 };
		int i = 0;
		for (; i + 8 <= C; i += 8)
			for (int j = 0; j < 8; j++)
				s[j] += w[i + j] * x[i + j];
		float t = 0;
		for (; i < C; i++)
			t += w[i] * x[i];
		t += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
		out[o] = t + (bias ? bias[o] : 0.0f);
	}
}

static void matvec_bf16_portable(float *out, const float *x, const uint16_t *W, const float *bias, int C, int OC)
{
	#pragma omp parallel for schedule(static)
	for (int o = 0; o < OC; o++) {
		const uint16_t *w = W + (size_t)o * C;
		float s[8] = { 0 };
		int i = 0;
		for (; i + 8 <= C; i += 8)
			for (int j = 0; j < 8; j++)
				s[j] += bf16_to_f32(w[i + j]) * x[i + j];
		float t = 0;
		for (; i < C; i++)
			t += bf16_to_f32(w[i]) * x[i];
		t += ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
		out[o] = t + (bias ? bias[o] : 0.0f);
	}
}

/* ------------------------------------------------------------------ AVX-512F */

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw")))
static void matvec_f32_avx512(float *out, const float *x, const float *W, const float *bias, int C, int OC)
{
	int nblk = (OC + ROWS - 1) / ROWS, tail = C & 15;
	__mmask16 tm = (__mmask16)((1u << tail) - 1);
	#pragma omp parallel for schedule(dynamic, 8)
	for (int b = 0; b < nblk; b++) {
		int o0 = b * ROWS, nr = OC - o0 < ROWS ? OC - o0 : ROWS;
		const float *w0 = W + (size_t)o0 * C;
		if (nr == ROWS) {
			const float *w1 = w0 + C, *w2 = w1 + C, *w3 = w2 + C;
			__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
			int i = 0;
			for (; i + 16 <= C; i += 16) {
				_mm_prefetch((const char *)(w0 + i + PF * C), _MM_HINT_T0);
				_mm_prefetch((const char *)(w1 + i + PF * C), _MM_HINT_T0);
				_mm_prefetch((const char *)(w2 + i + PF * C), _MM_HINT_T0);
				_mm_prefetch((const char *)(w3 + i + PF * C), _MM_HINT_T0);
				__m512 xv = _mm512_loadu_ps(x + i);
				a0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + i), xv, a0);
				a1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + i), xv, a1);
				a2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + i), xv, a2);
				a3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + i), xv, a3);
			}
			if (tail) {
				__m512 xv = _mm512_maskz_loadu_ps(tm, x + i);
				a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, w0 + i), xv, a0);
				a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, w1 + i), xv, a1);
				a2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, w2 + i), xv, a2);
				a3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, w3 + i), xv, a3);
			}
			out[o0] = _mm512_reduce_add_ps(a0) + (bias ? bias[o0] : 0.0f);
			out[o0 + 1] = _mm512_reduce_add_ps(a1) + (bias ? bias[o0 + 1] : 0.0f);
			out[o0 + 2] = _mm512_reduce_add_ps(a2) + (bias ? bias[o0 + 2] : 0.0f);
			out[o0 + 3] = _mm512_reduce_add_ps(a3) + (bias ? bias[o0 + 3] : 0.0f);
		} else {
			for (int r = 0; r < nr; r++) {
				const float *w = w0 + (size_t)r * C;
				__m512 a = _mm512_setzero_ps();
				int i = 0;
				for (; i + 16 <= C; i += 16)
					a = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a);
				if (tail)
					a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, w + i), _mm512_maskz_loadu_ps(tm, x + i), a);
				out[o0 + r] = _mm512_reduce_add_ps(a) + (bias ? bias[o0 + r] : 0.0f);
			}
		}
	}
}

/* bf16 weights widened to fp32 (a shift), fp32 activations: exact products. */
__attribute__((target("avx512f,avx512bw")))
static inline __m512 widen16(const uint16_t *p)
{
	__m256i h = _mm256_loadu_si256((const __m256i *)p);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f,avx512bw")))
static inline __m512 widen16_mask(const uint16_t *p, __mmask16 m)
{
	__m256i h = _mm256_maskz_loadu_epi16(m, p);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void matvec_bf16_avx512(float *out, const float *x, const uint16_t *W, const float *bias, int C, int OC)
{
	int nblk = (OC + ROWS - 1) / ROWS, tail = C & 15;
	__mmask16 tm = (__mmask16)((1u << tail) - 1);
	#pragma omp parallel for schedule(dynamic, 8)
	for (int b = 0; b < nblk; b++) {
		int o0 = b * ROWS, nr = OC - o0 < ROWS ? OC - o0 : ROWS;
		for (int r0 = 0; r0 < nr; r0 += 2) {
			int two = r0 + 1 < nr;
			const uint16_t *w0 = W + (size_t)(o0 + r0) * C, *w1 = two ? w0 + C : w0;
			__m512 a0 = _mm512_setzero_ps(), a1 = a0, c0 = a0, c1 = a0;
			int i = 0;
			for (; i + 32 <= C; i += 32) {
				_mm_prefetch((const char *)(w0 + i + PF * C), _MM_HINT_T0);
				_mm_prefetch((const char *)(w1 + i + PF * C), _MM_HINT_T0);
				__m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
				a0 = _mm512_fmadd_ps(widen16(w0 + i), x0, a0);
				c0 = _mm512_fmadd_ps(widen16(w0 + i + 16), x1, c0);
				a1 = _mm512_fmadd_ps(widen16(w1 + i), x0, a1);
				c1 = _mm512_fmadd_ps(widen16(w1 + i + 16), x1, c1);
			}
			for (; i < C; i += 16) {
				int rem = C - i;
				__mmask16 m = rem >= 16 ? (__mmask16)0xffff : tm;
				__m512 xv = _mm512_maskz_loadu_ps(m, x + i);
				a0 = _mm512_fmadd_ps(widen16_mask(w0 + i, m), xv, a0);
				a1 = _mm512_fmadd_ps(widen16_mask(w1 + i, m), xv, a1);
			}
			out[o0 + r0] = _mm512_reduce_add_ps(_mm512_add_ps(a0, c0)) + (bias ? bias[o0 + r0] : 0.0f);
			if (two)
				out[o0 + r0 + 1] = _mm512_reduce_add_ps(_mm512_add_ps(a1, c1)) + (bias ? bias[o0 + r0 + 1] : 0.0f);
		}
	}
}

/* ------------------------------------------------------------------ AVX-512 BF16 */

/* vdpbf16ps: 32 bf16 products per instruction, summed in pairs into fp32;
 * the activations are rounded to bf16 once per product. */
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void matvec_bf16_dp(float *out, const uint16_t *xs, const uint16_t *W, const float *bias, int C, int OC)
{
	int nblk = (OC + ROWS - 1) / ROWS, tail = C & 31;
	__mmask32 tm = (__mmask32)((1ull << tail) - 1);
	#pragma omp parallel for schedule(dynamic, 8)
	for (int b = 0; b < nblk; b++) {
		int o0 = b * ROWS, nr = OC - o0 < ROWS ? OC - o0 : ROWS;
		if (nr == ROWS) {
			const uint16_t *w0 = W + (size_t)o0 * C, *w1 = w0 + C, *w2 = w1 + C, *w3 = w2 + C;
			__m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
			int i = 0;
			for (; i + 32 <= C; i += 32) {
				_mm_prefetch((const char *)(w0 + i + PF * C), _MM_HINT_T0);
				_mm_prefetch((const char *)(w1 + i + PF * C), _MM_HINT_T0);
				_mm_prefetch((const char *)(w2 + i + PF * C), _MM_HINT_T0);
				_mm_prefetch((const char *)(w3 + i + PF * C), _MM_HINT_T0);
				__m512bh xv = (__m512bh)_mm512_loadu_si512(xs + i);
				a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_loadu_si512(w0 + i), xv);
				a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_loadu_si512(w1 + i), xv);
				a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_loadu_si512(w2 + i), xv);
				a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_loadu_si512(w3 + i), xv);
			}
			if (tail) {
				__m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(tm, xs + i);
				a0 = _mm512_dpbf16_ps(a0, (__m512bh)_mm512_maskz_loadu_epi16(tm, w0 + i), xv);
				a1 = _mm512_dpbf16_ps(a1, (__m512bh)_mm512_maskz_loadu_epi16(tm, w1 + i), xv);
				a2 = _mm512_dpbf16_ps(a2, (__m512bh)_mm512_maskz_loadu_epi16(tm, w2 + i), xv);
				a3 = _mm512_dpbf16_ps(a3, (__m512bh)_mm512_maskz_loadu_epi16(tm, w3 + i), xv);
			}
			out[o0] = _mm512_reduce_add_ps(a0) + (bias ? bias[o0] : 0.0f);
			out[o0 + 1] = _mm512_reduce_add_ps(a1) + (bias ? bias[o0 + 1] : 0.0f);
			out[o0 + 2] = _mm512_reduce_add_ps(a2) + (bias ? bias[o0 + 2] : 0.0f);
			out[o0 + 3] = _mm512_reduce_add_ps(a3) + (bias ? bias[o0 + 3] : 0.0f);
		} else {
			for (int r = 0; r < nr; r++) {
				const uint16_t *w = W + (size_t)(o0 + r) * C;
				__m512 a = _mm512_setzero_ps();
				int i = 0;
				for (; i + 32 <= C; i += 32)
					a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_loadu_si512(w + i),
							     (__m512bh)_mm512_loadu_si512(xs + i));
				if (tail)
					a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_maskz_loadu_epi16(tm, w + i),
							     (__m512bh)_mm512_maskz_loadu_epi16(tm, xs + i));
				out[o0 + r] = _mm512_reduce_add_ps(a) + (bias ? bias[o0 + r] : 0.0f);
			}
		}
	}
}

/* x rounded to bf16 (nearest even), 32 at a time with vcvtne2ps2bf16. */
__attribute__((target("avx512f,avx512bw,avx512bf16")))
static void to_bf16(uint16_t *xs, const float *x, int C)
{
	int i = 0;
	for (; i + 32 <= C; i += 32) {
		__m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(x + i));
		_mm512_storeu_si512(xs + i, (__m512i)h);
	}
	for (; i < C; i++)
		xs[i] = f32_to_bf16(x[i]);
}
#endif

/* ------------------------------------------------------------------ dispatch */

void kern_matvec_f32(KernelLevel k, float *out, const float *x, const float *W, const float *bias, int C, int OC)
{
#if defined(__x86_64__)
	if (k >= KERN_AVX512F) {
		matvec_f32_avx512(out, x, W, bias, C, OC);
		return;
	}
#endif
	(void)k;
	matvec_f32_portable(out, x, W, bias, C, OC);
}

void kern_matvec_bf16(KernelLevel k, float *out, const float *x, const uint16_t *W, const float *bias,
		      int C, int OC, uint16_t *xs)
{
#if defined(__x86_64__)
	if (k == KERN_AVX512BF16) {
		to_bf16(xs, x, C);
		matvec_bf16_dp(out, xs, W, bias, C, OC);
		return;
	}
	if (k == KERN_AVX512F) {
		matvec_bf16_avx512(out, x, W, bias, C, OC);
		return;
	}
#endif
	(void)k;
	(void)xs;
	matvec_bf16_portable(out, x, W, bias, C, OC);
}

void kern_matmul_f32(float *out, const float *x, const float *W, const float *bias, int N, int C, int OC)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, C, 1.0f, x, C, W, C, 0.0f, out, OC);
	if (bias) {
		#pragma omp parallel for schedule(static)
		for (int n = 0; n < N; n++)
			for (int o = 0; o < OC; o++)
				out[(size_t)n * OC + o] += bias[o];
	}
}

void kern_matmul_bf16(float *out, const float *x, const uint16_t *W, const float *bias, int N, int C, int OC,
		      float *wscratch)
{
	size_t n = (size_t)OC * C;
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		wscratch[i] = bf16_to_f32(W[i]);
	kern_matmul_f32(out, x, wscratch, bias, N, C, OC);
}
