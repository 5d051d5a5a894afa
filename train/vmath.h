/* Vectorisable exp and tanh for the CPU kernels of train/ and sample/.
 * glibc's expf/tanhf are scalar calls; these are plain arithmetic that gcc
 * turns into AVX code inside `omp simd` loops. */
#ifndef GPTKIT_VMATH_H
#define GPTKIT_VMATH_H

#include <math.h>

/* fminf/fmaxf are library calls (NaN rules) that stop vectorisation */
static inline float clampf(float x, float lo, float hi)
{
	x = x < lo ? lo : x;
	return x > hi ? hi : x;
}

/* exp(x), relative error about 2e-7 over the float range (Cephes' expf). */
static inline float vexp(float x)
{
	x = clampf(x, -87.33654f, 88.72283f);
	/* floor by truncation of a positive number (floorf is a call here) */
	float n = (float)((int)(x * 1.44269504088896341f + 0.5f + 128.0f) - 128);
	float r = x - n * 0.693359375f;
	r = r + n * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	union { int i; float f; } s; /* no initialiser: its memset would stop vectorisation */
	s.i = ((int)n + 127) << 23;
	return p * s.f;
}

/* tanh(x): Eigen's 13/6 rational approximation, a few ulp over the float range. */
static inline float vtanh(float x)
{
	const float clamp = 7.90531110763549805f;
	float xc = clampf(x, -clamp, clamp);
	float x2 = xc * xc;
	float p = -2.76076847742355e-16f;
	p = p * x2 + 2.00018790482477e-13f;
	p = p * x2 + -8.60467152213735e-11f;
	p = p * x2 + 5.12229709037114e-08f;
	p = p * x2 + 1.48572235717979e-05f;
	p = p * x2 + 6.37261928875436e-04f;
	p = p * x2 + 4.89352455891786e-03f;
	p = p * xc;
	float q = 1.19825839466702e-06f;
	q = q * x2 + 1.18534705686654e-04f;
	q = q * x2 + 2.26843463243900e-03f;
	q = q * x2 + 4.89352518554385e-03f;
	float t = p / q;
	return fabsf(x) < 0.0004f ? x : t;
}

#endif
