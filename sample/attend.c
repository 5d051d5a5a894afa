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

/* NV vectors of 16 make a head (hs = 16 NV); inlined per NV so that q and
 * the output are registers. */
__attribute__((target("avx512f,avx512bw,avx512vl"), always_inline))
static inline void attend_avx512(float *out, const float *q, const float *K, const float *V, int n, float scale,
				 const int NV)
{
	const int hs = 16 * NV;
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
			const float *k = K + (size_t)(t0 + i) * hs;
			for (int j = 0; j < hs; j += 16) {
				_mm_prefetch((const char *)(k + 16 * hs + j), _MM_HINT_T0);
				_mm_prefetch((const char *)(V + (size_t)(t0 + i + 16) * hs + j), _MM_HINT_T0);
			}
			__m512 a = _mm512_mul_ps(qv[0], _mm512_loadu_ps(k));
			for (int j = 1; j < NV; j++)
				a = _mm512_fmadd_ps(qv[j], _mm512_loadu_ps(k + 16 * j), a);
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
			const float *v = V + (size_t)(t0 + i) * hs;
			__m512 pi = _mm512_set1_ps(pv[i]);
			for (int j = 0; j < NV; j++)
				o[j] = _mm512_fmadd_ps(pi, _mm512_loadu_ps(v + 16 * j), o[j]);
		}
	}
	__m512 inv = _mm512_set1_ps(1.0f / l);
	for (int j = 0; j < NV; j++)
		_mm512_storeu_ps(out + 16 * j, _mm512_mul_ps(o[j], inv));
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void attend_64(float *out, const float *q, const float *K, const float *V, int n, float scale)
{
	attend_avx512(out, q, K, V, n, scale, 4);
}

__attribute__((target("avx512f,avx512bw,avx512vl")))
static void attend_128(float *out, const float *q, const float *K, const float *V, int n, float scale)
{
	attend_avx512(out, q, K, V, n, scale, 8);
}
#endif

int kern_attend_f32(KernelLevel k, float *out, const float *q, const float *K, const float *V, int n, int hs,
		    float scale)
{
#if defined(__x86_64__)
	if (k >= KERN_AVX512F && n > 0) {
		if (hs == 64) {
			attend_64(out, q, K, V, n, scale);
			return 1;
		}
		if (hs == 128) {
			attend_128(out, q, K, V, n, scale);
			return 1;
		}
	}
#endif
	(void)k, (void)out, (void)q, (void)K, (void)V, (void)n, (void)hs, (void)scale;
	return 0;
}
