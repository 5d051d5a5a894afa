/* Memory bandwidth and matrix-vector kernel throughput, for bench/sample.sh.
 *   sample_membw [MiB [-q]]   prints "bandwidth GB/s": the best of five ways of
 * streaming a buffer much larger than the caches (1, 4, 8, 12 or 16
 * prefetched streams per thread; median of 7 reads each) with
 * OMP_NUM_THREADS threads; then (not with -q)
 * one line per kernel: GB/s of weights streamed by kern_matvec_* over the
 * shapes of GPT-2 124M (the four matrices of 12 layers and the head). */
#include "kernels.h"

#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* S sequential streams at once (equal parts of the chunk), each
 * prefetched 2 KB ahead: one core's loads wait ~100 ns on memory, so a core
 * reads faster the more independent streams it has in flight (one stream:
 * about 12 GB/s a core here, twelve: about 19). */
#define MAXS 16
__attribute__((target("avx512f")))
static float sum_streams(const float *p, size_t n, int S)
{
	size_t q = n / S / 16 * 16;
	__m512 a[MAXS];
	for (int s = 0; s < MAXS; s++)
		a[s] = _mm512_setzero_ps();
	for (size_t i = 0; i + 16 <= q; i += 16)
		for (int s = 0; s < S; s++) {
			_mm_prefetch((const char *)(p + s * q + i + 512), _MM_HINT_T0);
			a[s] = _mm512_add_ps(a[s], _mm512_loadu_ps(p + s * q + i));
		}
	for (int s = 1; s < MAXS; s++)
		a[0] = _mm512_add_ps(a[0], a[s]);
	return _mm512_reduce_add_ps(a[0]);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? (size_t)atol(argv[1]) : 1024, n = mib << 18; /* floats */
	float *buf = aligned_alloc(64, n * sizeof(float));
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < n; i++)
		buf[i] = (float)(i & 7);
	double t[7], best = 0;
	volatile float sink = 0;
	static const int streams[] = { 1, 4, 8, 12, 16 };
	int nt = omp_get_max_threads();
	for (int k = 0; k < 5; k++) {
		int S = streams[k];
		for (int r = 0; r < 7; r++) {
			double a = now();
			float s = 0;
			#pragma omp parallel reduction(+:s)
			{
				int id = omp_get_thread_num();
				size_t chunk = n / nt / 64 * 64, lo = chunk * id;
				s += sum_streams(buf + lo, chunk, S);
			}
			sink += s;
			t[r] = now() - a;
		}
		qsort(t, 7, sizeof t[0], cmp);
		double gbs = n * 4.0 / t[3] / 1e9;
		printf("read, %2d streams a thread: %.2f GB/s (median of 7; best %.2f)\n", S, gbs, n * 4.0 / t[0] / 1e9);
		if (gbs > best)
			best = gbs;
	}
	/* the best way of reading is the ceiling */
	printf("bandwidth %.2f GB/s (%zu MiB read, %d threads)\n", best, mib, omp_get_max_threads());
	free(buf);

	if (argc > 2 && strcmp(argv[2], "-q") == 0)
		return sink == 12345.0f;
	/* kernels on GPT-2 124M shapes: per layer 3C x C, C x C, 4C x C, C x 4C; head V x C */
	int C = 768, L = 12, V = 50257;
	struct { int oc, c; } sh[5] = { { 3 * C, C }, { C, C }, { 4 * C, C }, { C, 4 * C }, { V, C } };
	size_t tot = 0;
	for (int i = 0; i < 4; i++)
		tot += (size_t)L * sh[i].oc * sh[i].c;
	tot += (size_t)V * C;
	float *W = malloc(tot * sizeof(float)), *x = malloc(4 * C * sizeof(float)), *o = malloc(V * sizeof(float));
	uint16_t *W16 = malloc(tot * sizeof(uint16_t)), xs[4 * 768];
	#pragma omp parallel for schedule(static)
	for (size_t i = 0; i < tot; i++) {
		W[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
		W16[i] = (uint16_t)(((union { float f; uint32_t u; }){ .f = W[i] }).u >> 16);
	}
	for (int i = 0; i < 4 * C; i++)
		x[i] = 0.01f * (float)(i % 17);
	for (int lv = KERN_PORTABLE; lv <= (int)kern_detect(); lv++)
		for (int bf = 0; bf < 2; bf++) {
			for (int r = 0; r < 7; r++) {
				double a = now();
				size_t off = 0;
				for (int l = 0; l < L; l++)
					for (int i = 0; i < 4; i++) {
						if (bf)
							kern_matvec_bf16((KernelLevel)lv, o, x, W16 + off, NULL, sh[i].c, sh[i].oc, xs);
						else
							kern_matvec_f32((KernelLevel)lv, o, x, W + off, NULL, sh[i].c, sh[i].oc);
						off += (size_t)sh[i].oc * sh[i].c;
					}
				if (bf)
					kern_matvec_bf16((KernelLevel)lv, o, x, W16 + off, NULL, C, V, xs);
				else
					kern_matvec_f32((KernelLevel)lv, o, x, W + off, NULL, C, V);
				t[r] = now() - a;
			}
			qsort(t, 7, sizeof t[0], cmp);
			double bytes = (double)tot * (bf ? 2 : 4);
			printf("kernel %s %s: %.2f GB/s, %.1f passes/s\n", kern_name((KernelLevel)lv), bf ? "bf16" : "fp32",
			       bytes / t[3] / 1e9, 1 / t[3]);
		}
	return sink == 12345.0f;
}
