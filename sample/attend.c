/* The decode step's attention, one pass over a head's keys and values.
 * Three passes (scores, softmax, weighted sum) read each key row once and
 * each value row once too, but the output vector lived in memory and every
 * value row added into it waited on the store before (a chain through
 * store forwarding), and the short streams of a head started cold twice.
 * Here the scores of 16 positions at a time are exponentiated against a
 * running maximum (flash attention's online softmax): the output stays in
 * registers, rescaled when the maximum grows, and the key and value streams
 * are read side by side, prefetched 16 positions ahead. */
#include "attend.h"

#include <immintrin.h>
#include <math.h>

#include "vmath.h"

#if defined(__x86_64__)
/* vmath.h's vexp on 16 lanes (same range reduction and polynomial;
 * rounding to nearest rather than half up at the range boundaries). */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static inline __m512 exp16(__m512 x)
{
	x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.72283f));
	__m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
					_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	__m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
	r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), r);
	__m512 p = _mm512_set1_ps(1.9875691500e-4f);
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
	p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
	p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
	__m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
	return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

/* 16 keys or values from fp32, or from bf16 (the top halves of fp32s). */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline))
static inline __m512 load16(const void *p, const int bf)
{
	if (!bf)
		return _mm512_loadu_ps(p);
	__m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
	return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

/* NV vectors of 16 make a head (hs = 16 NV), BF says the cache is bf16;
 * inlined per (NV, BF) so that q and the output are registers. */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline))
static inline void attend_avx512(float *out, const float *q, const void *K, const void *V, int n, float scale,
				 const int NV, const int BF)
{
	const int hs = 16 * NV;
	const size_t row = (size_t)hs * (BF ? 2 : 4); /* bytes a position */
	const char *Kb = K, *Vb = V;
	__m512 qv[NV], o[NV];
	for (int j = 0; j < NV; j++) {
		qv[j] = _mm512_loadu_ps(q + 16 * j);
		o[j] = _mm512_setzero_ps();
	}
	float m = -INFINITY, l = 0.0f;
	for (int t0 = 0; t0 < n; t0 += 16) {
		int nb = n - t0 < 16 ? n - t0 : 16;
		__mmask16 live = (__mmask16)(nb == 16 ? 0xffff : (1u << nb) - 1);
		float sc[16], pv[16];
		for (int i = 0; i < nb; i++) {
			const char *k = Kb + (size_t)(t0 + i) * row;
			for (size_t j = 0; j < row; j += 64) {
				_mm_prefetch(k + 16 * row + j, _MM_HINT_T0);
				_mm_prefetch(Vb + (size_t)(t0 + i + 16) * row + j, _MM_HINT_T0);
			}
			__m512 a = _mm512_mul_ps(qv[0], load16(k, BF));
			for (int j = 1; j < NV; j++)
				a = _mm512_fmadd_ps(qv[j], load16(k + (size_t)j * 16 * (BF ? 2 : 4), BF), a);
			sc[i] = _mm512_reduce_add_ps(a);
		}
		__m512 s = _mm512_mul_ps(_mm512_maskz_loadu_ps(live, sc), _mm512_set1_ps(scale));
		float bm = _mm512_mask_reduce_max_ps(live, s), mn = bm > m ? bm : m;
		__m512 p = _mm512_maskz_mov_ps(live, exp16(_mm512_sub_ps(s, _mm512_set1_ps(mn))));
		if (mn > m) { /* a larger maximum: what was summed so far shrinks */
			float corr = m == -INFINITY ? 0.0f : vexp(m - mn);
			l *= corr;
			for (int j = 0; j < NV; j++)
				o[j] = _mm512_mul_ps(o[j], _mm512_set1_ps(corr));
			m = mn;
		}
		l += _mm512_reduce_add_ps(p);
		_mm512_storeu_ps(pv, p);
		for (int i = 0; i < nb; i++) {
			const char *v = Vb + (size_t)(t0 + i) * row;
			__m512 pi = _mm512_set1_ps(pv[i]);
			for (int j = 0; j < NV; j++)
				o[j] = _mm512_fmadd_ps(pi, load16(v + (size_t)j * 16 * (BF ? 2 : 4), BF), o[j]);
		}
	}
	__m512 inv = _mm512_set1_ps(1.0f / l);
	for (int j = 0; j < NV; j++)
		_mm512_storeu_ps(out + 16 * j, _mm512_mul_ps(o[j], inv));
}

#define ATTEND(NAME, NV, BF) \
	__attribute__((target("avx512f,avx512bw,avx512vl"))) static void NAME( \
		float *out, const float *q, const void *K, const void *V, int n, float scale) \
	{ \
		attend_avx512(out, q, K, V, n, scale, NV, BF); \
	}
ATTEND(attend_64, 4, 0)
ATTEND(attend_128, 8, 0)
ATTEND(attend_64_bf16, 4, 1)
ATTEND(attend_128_bf16, 8, 1)
#endif

static int attend(KernelLevel k, float *out, const float *q, const void *K, const void *V, int n, int hs,
		  float scale, int bf)
{
#if defined(__x86_64__)
	if (k >= KERN_AVX512F && n > 0 && (hs == 64 || hs == 128)) {
		if (hs == 64)
			(bf ? attend_64_bf16 : attend_64)(out, q, K, V, n, scale);
		else
			(bf ? attend_128_bf16 : attend_128)(out, q, K, V, n, scale);
		return 1;
	}
#endif
	(void)k, (void)out, (void)q, (void)K, (void)V, (void)n, (void)hs, (void)scale, (void)bf;
	return 0;
}

int kern_attend_f32(KernelLevel k, float *out, const float *q, const float *K, const float *V, int n, int hs,
		    float scale)
{
	return attend(k, out, q, K, V, n, hs, scale, 0);
}

int kern_attend_bf16(KernelLevel k, float *out, const float *q, const uint16_t *K, const uint16_t *V, int n,
		     int hs, float scale)
{
	return attend(k, out, q, K, V, n, hs, scale, 1);
}
