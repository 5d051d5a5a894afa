/* Inference kernels with run-time dispatch; see kernels.h. */
#include "kernels.h"

#include <cblas.h>
#include <immintrin.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

KernelLevel kern_detect(void)
{
	KernelLevel k = KERN_PORTABLE;
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
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

static void matvec_f32_portable(float *out, const float *x, const float *W, const float *bias, int C, int r0,
				int r1, int acc)
{
	for (int o = r0; o < r1; o++) {
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
		t += bias ? bias[o] : 0.0f;
		out[o] = acc ? out[o] + t : t;
	}
}

static void matvec_bf16_portable(float *out, const float *x, const uint16_t *W, const float *bias, int C, int r0,
				 int r1, int acc)
{
	for (int o = r0; o < r1; o++) {
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
		t += bias ? bias[o] : 0.0f;
		out[o] = acc ? out[o] + t : t;
	}
}

/* ------------------------------------------------------------------ AVX-512F */

/* A thread's rows are cut into NS equal runs and the kernels walk the runs
 * side by side, one row from each at a time: NS sequential weight streams
 * in flight, far apart, each prefetched PFB bytes ahead (into its next
 * row).  Measured on a 2-core Xeon against the previous blocks of four
 * neighbouring rows, interleaved in one process: 20% more fp32 bandwidth and
 * 35% more bf16; 8 streams were as good as 12 or 16. */
#define NS 8
#ifndef PFB
#define PFB 2048
#endif

#if defined(__x86_64__)
static inline void put(float *out, int o, float v, const float *bias, int acc)
{
	if (bias)
		v += bias[o];
	out[o] = acc ? out[o] + v : v;
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static float dot_f32(const float *w, const float *x, int C)
{
	__m512 a = _mm512_setzero_ps(), b = a;
	int i = 0;
	for (; i + 32 <= C; i += 32) {
		a = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), _mm512_loadu_ps(x + i), a);
		b = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), _mm512_loadu_ps(x + i + 16), b);
	}
	for (; i < C; i += 16) {
		__mmask16 m = C - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - i)) - 1);
		a = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, w + i), _mm512_maskz_loadu_ps(m, x + i), a);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(a, b));
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void matvec_f32_avx512(float *out, const float *x, const float *W, const float *bias, int C, int r0,
			      int r1, int acc)
{
	int len = (r1 - r0) / NS, tail = C & 15;
	__mmask16 tm = (__mmask16)((1u << tail) - 1);
	for (int j = 0; j < len; j++) {
		const float *w[NS];
		__m512 a[NS];
		for (int s = 0; s < NS; s++) {
			w[s] = W + (size_t)(r0 + s * len + j) * C;
			a[s] = _mm512_setzero_ps();
		}
		int i = 0;
		for (; i + 16 <= C; i += 16) {
			__m512 xv = _mm512_loadu_ps(x + i);
			for (int s = 0; s < NS; s++) {
				_mm_prefetch((const char *)(w[s] + i) + PFB, _MM_HINT_T0);
				a[s] = _mm512_fmadd_ps(_mm512_loadu_ps(w[s] + i), xv, a[s]);
			}
		}
		if (tail) {
			__m512 xv = _mm512_maskz_loadu_ps(tm, x + i);
			for (int s = 0; s < NS; s++)
				a[s] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(tm, w[s] + i), xv, a[s]);
		}
		for (int s = 0; s < NS; s++)
			put(out, r0 + s * len + j, _mm512_reduce_add_ps(a[s]), bias, acc);
	}
	for (int r = r0 + NS * len; r < r1; r++)
		put(out, r, dot_f32(W + (size_t)r * C, x, C), bias, acc);
}

/* bf16 weights widened to fp32 (a shift), fp32 activations: exact products. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline __m512 widen16_mask(const uint16_t *p, __mmask16 m)
{
	__m256i h = _mm256_maskz_loadu_epi16(m, p);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline __m512 widen16(const uint16_t *p)
{
	__m256i h = _mm256_loadu_si256((const __m256i *)p);
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static float dot_bf16_widen(const uint16_t *w, const float *x, int C)
{
	__m512 a = _mm512_setzero_ps();
	for (int i = 0; i < C; i += 16) {
		__mmask16 m = C - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (C - i)) - 1);
		a = _mm512_fmadd_ps(widen16_mask(w + i, m), _mm512_maskz_loadu_ps(m, x + i), a);
	}
	return _mm512_reduce_add_ps(a);
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void matvec_bf16_avx512(float *out, const float *x, const uint16_t *W, const float *bias, int C, int r0,
			       int r1, int acc)
{
	int len = (r1 - r0) / NS, tail = C & 31;
	for (int j = 0; j < len; j++) {
		const uint16_t *w[NS];
		__m512 a[NS];
		for (int s = 0; s < NS; s++) {
			w[s] = W + (size_t)(r0 + s * len + j) * C;
			a[s] = _mm512_setzero_ps();
		}
		int i = 0;
		for (; i + 32 <= C; i += 32) {
			__m512 x0 = _mm512_loadu_ps(x + i), x1 = _mm512_loadu_ps(x + i + 16);
			for (int s = 0; s < NS; s++) {
				_mm_prefetch((const char *)(w[s] + i) + PFB, _MM_HINT_T0);
				a[s] = _mm512_fmadd_ps(widen16(w[s] + i), x0, a[s]);
				a[s] = _mm512_fmadd_ps(widen16(w[s] + i + 16), x1, a[s]);
			}
		}
		for (int s = 0; s < NS; s++) {
			float v = _mm512_reduce_add_ps(a[s]);
			if (tail)
				v += dot_bf16_widen(w[s] + i, x + i, tail);
			put(out, r0 + s * len + j, v, bias, acc);
		}
	}
	for (int r = r0 + NS * len; r < r1; r++)
		put(out, r, dot_bf16_widen(W + (size_t)r * C, x, C), bias, acc);
}

/* ------------------------------------------------------------------ AVX-512 BF16 */

/* vdpbf16ps: 32 bf16 products per instruction, summed in pairs into fp32;
 * the activations are rounded to bf16 once per product (xs). */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static float dot_bf16_dp(const uint16_t *w, const uint16_t *xs, int C)
{
	__m512 a = _mm512_setzero_ps();
	for (int i = 0; i < C; i += 32) {
		__mmask32 m = C - i >= 32 ? (__mmask32)0xffffffffu : (__mmask32)((1u << (C - i)) - 1);
		a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_maskz_loadu_epi16(m, w + i),
				     (__m512bh)_mm512_maskz_loadu_epi16(m, xs + i));
	}
	return _mm512_reduce_add_ps(a);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void matvec_bf16_dp(float *out, const uint16_t *xs, const uint16_t *W, const float *bias, int C, int r0,
			   int r1, int acc)
{
	int len = (r1 - r0) / NS, tail = C & 31;
	__mmask32 tm = (__mmask32)((1u << tail) - 1);
	for (int j = 0; j < len; j++) {
		const uint16_t *w[NS];
		__m512 a[NS];
		for (int s = 0; s < NS; s++) {
			w[s] = W + (size_t)(r0 + s * len + j) * C;
			a[s] = _mm512_setzero_ps();
		}
		int i = 0;
		for (; i + 32 <= C; i += 32) {
			__m512bh xv = (__m512bh)_mm512_loadu_si512(xs + i);
			for (int s = 0; s < NS; s++) {
				_mm_prefetch((const char *)(w[s] + i) + PFB, _MM_HINT_T0);
				a[s] = _mm512_dpbf16_ps(a[s], (__m512bh)_mm512_loadu_si512(w[s] + i), xv);
			}
		}
		if (tail) {
			__m512bh xv = (__m512bh)_mm512_maskz_loadu_epi16(tm, xs + i);
			for (int s = 0; s < NS; s++)
				a[s] = _mm512_dpbf16_ps(a[s], (__m512bh)_mm512_maskz_loadu_epi16(tm, w[s] + i), xv);
		}
		for (int s = 0; s < NS; s++)
			put(out, r0 + s * len + j, _mm512_reduce_add_ps(a[s]), bias, acc);
	}
	for (int r = r0 + NS * len; r < r1; r++)
		put(out, r, dot_bf16_dp(W + (size_t)r * C, xs, C), bias, acc);
}

/* x rounded to bf16 (nearest even), 32 at a time with vcvtne2ps2bf16. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
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

void kern_rows(int OC, int id, int nt, int *r0, int *r1)
{
	*r0 = (int)((long long)OC * id / nt);
	*r1 = (int)((long long)OC * (id + 1) / nt);
}

void kern_matvec_f32_rows(KernelLevel k, float *out, const float *x, const float *W, const float *bias, int C,
			  int r0, int r1, int acc)
{
#if defined(__x86_64__)
	if (k >= KERN_AVX512F) {
		matvec_f32_avx512(out, x, W, bias, C, r0, r1, acc);
		return;
	}
#endif
	(void)k;
	matvec_f32_portable(out, x, W, bias, C, r0, r1, acc);
}

void kern_bf16_prepare(KernelLevel k, uint16_t *xs, const float *x, int C)
{
#if defined(__x86_64__)
	if (k == KERN_AVX512BF16)
		to_bf16(xs, x, C);
#endif
	(void)k, (void)xs, (void)x, (void)C;
}

void kern_matvec_bf16_rows(KernelLevel k, float *out, const float *x, const uint16_t *xs, const uint16_t *W,
			   const float *bias, int C, int r0, int r1, int acc)
{
#if defined(__x86_64__)
	if (k == KERN_AVX512BF16) {
		matvec_bf16_dp(out, xs, W, bias, C, r0, r1, acc);
		return;
	}
	if (k == KERN_AVX512F) {
		matvec_bf16_avx512(out, x, W, bias, C, r0, r1, acc);
		return;
	}
#endif
	(void)xs;
	matvec_bf16_portable(out, x, W, bias, C, r0, r1, acc);
}

/* One thread team per call: for callers outside a parallel region. */
void kern_matvec_f32(KernelLevel k, float *out, const float *x, const float *W, const float *bias, int C, int OC)
{
	#pragma omp parallel
	{
		int r0, r1;
		kern_rows(OC, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
		kern_matvec_f32_rows(k, out, x, W, bias, C, r0, r1, 0);
	}
}

void kern_matvec_bf16(KernelLevel k, float *out, const float *x, const uint16_t *W, const float *bias,
		      int C, int OC, uint16_t *xs)
{
	kern_bf16_prepare(k, xs, x, C);
	#pragma omp parallel
	{
		int r0, r1;
		kern_rows(OC, omp_get_thread_num(), omp_get_num_threads(), &r0, &r1);
		kern_matvec_bf16_rows(k, out, x, xs, W, bias, C, r0, r1, 0);
	}
}

/* The batched products run with OpenBLAS single-threaded (gpt2_set_threads
 * sets it so: its own thread pool would spin against OpenMP's): each OpenMP
 * thread multiplies its own slice of the output columns, so that both cores
 * work (one sgemm for all would leave the second idle). */
static void slice_cols(int OC, int *o0, int *o1)
{
	int id = omp_get_thread_num(), nt = omp_get_num_threads();
	kern_rows((OC + 15) / 16, id, nt, o0, o1); /* in whole 16-column blocks */
	*o0 *= 16;
	*o1 = *o1 * 16 < OC ? *o1 * 16 : OC;
}

static void sgemm_slice(float *out, const float *x, const float *W, const float *bias, int N, int C, int OC,
			int o0, int o1)
{
	if (o1 <= o0)
		return;
	if (bias)
		for (int n = 0; n < N; n++)
			memcpy(out + (size_t)n * OC + o0, bias + o0, (size_t)(o1 - o0) * sizeof(float));
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, o1 - o0, C, 1.0f, x, C, W + (size_t)o0 * C, C,
		    bias ? 1.0f : 0.0f, out + o0, OC);
}

void kern_matmul_f32(float *out, const float *x, const float *W, const float *bias, int N, int C, int OC)
{
	#pragma omp parallel
	{
		int o0, o1;
		slice_cols(OC, &o0, &o1);
		sgemm_slice(out, x, W, bias, N, C, OC, o0, o1);
	}
}

void kern_matmul_bf16(float *out, const float *x, const uint16_t *W, const float *bias, int N, int C, int OC,
		      float *wscratch)
{
	#pragma omp parallel
	{
		int o0, o1;
		slice_cols(OC, &o0, &o1);
		for (size_t i = (size_t)o0 * C; i < (size_t)o1 * C; i++)
			wscratch[i] = bf16_to_f32(W[i]);
		sgemm_slice(out, x, wscratch, bias, N, C, OC, o0, o1);
	}
}
