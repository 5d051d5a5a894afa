/* The CUDA backend's arithmetic, checked on the CPU (no GPU needed):
 * - cuda_math.h, which the kernels compile as device code: stochastic
 *   rounding to bf16, the online-softmax rescale/merge, GELU, AdamW;
 * - plain-C emulations of the attention kernels' algorithm (tiles of 32
 *   keys, running max and sum, the lse-based backward with D = dout.out)
 *   and of the classifier's per-thread online softmax plus fixed-order
 *   merge, compared with layers.c's reference implementations;
 * - cuda_host.c's token buckets for the deterministic embedding backward. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_host.h"
#include "cuda_math.h"
#include "gpt2.h"
#include "layers.h"
#include "tap.h"

static double max_abs_diff(const float *a, const float *b, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - b[i]);
		if (isnan(d))
			return INFINITY;
		m = d > m ? d : m;
	}
	return m;
}

static void test_stochastic_rounding(void)
{
	Rng r;
	rng_seed(&r, 5);
	int neighbours = 1, exact = 1, specials = 1;
	double worst_bias = 0;
	for (int k = 0; k < 200; k++) {
		float f = rng_normal(&r) * powf(2.0f, (float)(k % 40) - 20.0f);
		uint32_t u = ck_f32_bits(f);
		float lo = ck_bits_f32(u & 0xFFFF0000u), hi = ck_bits_f32((u & 0xFFFF0000u) + 0x10000u);
		double sum = 0;
		int n = 4096;
		for (int i = 0; i < n; i++) {
			uint16_t h = ck_bf16_stochastic(f, ck_sr_bits((uint64_t)k * n + i, f + (float)i));
			float x = ck_bits_f32((uint32_t)h << 16);
			if (x != lo && x != hi)
				neighbours = 0;
			sum += x;
		}
		/* E[x] = f: the mean error over n draws is within a few sigma (gap/sqrt(12 n)) */
		double gap = fabs((double)hi - lo), bias = fabs(sum / n - f) / gap;
		worst_bias = bias > worst_bias ? bias : worst_bias;
		float rep = ck_bits_f32(u & 0xFFFF0000u);
		for (uint32_t bits = 0; bits < 65536; bits += 4099)
			if (ck_bits_f32((uint32_t)ck_bf16_stochastic(rep, bits) << 16) != rep)
				exact = 0;
	}
	/* 0 rounds to 0, infinities stay, NaN stays NaN */
	if (ck_bf16_stochastic(0.0f, 0xFFFF) != 0 || ck_bf16_stochastic(INFINITY, 0xFFFF) != 0x7F80 ||
	    ck_bf16_stochastic(-INFINITY, 0xFFFF) != 0xFF80 ||
	    !isnan(ck_bits_f32((uint32_t)ck_bf16_stochastic(NAN, 0xFFFF) << 16)))
		specials = 0;
	CHECK(neighbours, "sr_rounds_to_a_neighbour");
	CHECK(worst_bias < 0.03, "sr_unbiased");
	CHECK(exact, "sr_exact_values_stay");
	CHECK(specials, "sr_zero_inf_nan");
	/* the bits are a pure function of (index, value): resume rebuilds the same copy */
	CHECK(ck_sr_bits(123456789012ull, 0.5f) == ck_sr_bits(123456789012ull, 0.5f) &&
	      ck_sr_bits(1, 0.5f) != ck_sr_bits(2, 0.5f) && ck_sr_bits(1, 0.5f) != ck_sr_bits(1, 0.25f),
	      "sr_bits_pure_and_distinct");
}

/* The forward kernel's algorithm for one query row (layers.h's layout). */
static void emu_attention_forward(float *out, float *lse, const float *inp, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	float *acc = malloc(hs * sizeof(float)), sc[32], p[32];
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
				float m = -INFINITY, l = 0.0f;
				memset(acc, 0, hs * sizeof(float));
				for (int s0 = 0; s0 <= t; s0 += 32) {
					float cm = -INFINITY;
					for (int j = 0; j < 32; j++) {
						int s = s0 + j;
						sc[j] = -INFINITY;
						if (s <= t) {
							const float *k = inp + ((size_t)b * T + s) * C3 + C + h * hs;
							float d = 0.0f;
							for (int i = 0; i < hs; i++)
								d += q[i] * k[i];
							sc[j] = d * scale;
						}
						cm = fmaxf(cm, sc[j]);
					}
					float mn = fmaxf(m, cm), corr = ck_softmax_rescale(m, mn), ps = 0.0f;
					for (int j = 0; j < 32; j++) {
						p[j] = sc[j] == -INFINITY ? 0.0f : expf(sc[j] - mn);
						ps += p[j];
					}
					l = l * corr + ps;
					for (int i = 0; i < hs; i++)
						acc[i] *= corr;
					for (int j = 0; j < 32 && s0 + j <= t; j++) {
						const float *v = inp + ((size_t)b * T + s0 + j) * C3 + 2 * C + h * hs;
						for (int i = 0; i < hs; i++)
							acc[i] += p[j] * v[i];
					}
					m = mn;
				}
				float *o = out + ((size_t)b * T + t) * C + h * hs;
				for (int i = 0; i < hs; i++)
					o[i] = acc[i] / l;
				lse[((size_t)b * NH + h) * T + t] = m + logf(l);
			}
	free(acc);
}

/* The backward kernels' algorithm: D, then dq over keys, dk/dv over queries. */
static void emu_attention_backward(float *dinp, const float *dout, const float *inp, const float *out,
				   const float *lse, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const float *L = lse + ((size_t)b * NH + h) * T;
			float *D = malloc(T * sizeof(float));
			for (int t = 0; t < T; t++) {
				float s = 0.0f;
				for (int i = 0; i < hs; i++)
					s += dout[((size_t)b * T + t) * C + h * hs + i] * out[((size_t)b * T + t) * C + h * hs + i];
				D[t] = s;
			}
			for (int t = 0; t < T; t++) { /* dq */
				const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
				const float *d = dout + ((size_t)b * T + t) * C + h * hs;
				float *dq = dinp + ((size_t)b * T + t) * C3 + h * hs;
				for (int s = 0; s <= t; s++) {
					const float *k = inp + ((size_t)b * T + s) * C3 + C + h * hs;
					const float *v = k + C;
					float x = 0.0f, dp = 0.0f;
					for (int i = 0; i < hs; i++) {
						x += q[i] * k[i];
						dp += d[i] * v[i];
					}
					float ds = expf(x * scale - L[t]) * (dp - D[t]);
					for (int i = 0; i < hs; i++)
						dq[i] += ds * k[i] * scale;
				}
			}
			for (int s = 0; s < T; s++) { /* dk, dv */
				const float *k = inp + ((size_t)b * T + s) * C3 + C + h * hs;
				const float *v = k + C;
				float *dk = dinp + ((size_t)b * T + s) * C3 + C + h * hs, *dv = dk + C;
				for (int t = s; t < T; t++) {
					const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
					const float *d = dout + ((size_t)b * T + t) * C + h * hs;
					float x = 0.0f, dp = 0.0f;
					for (int i = 0; i < hs; i++) {
						x += q[i] * k[i];
						dp += d[i] * v[i];
					}
					float p = expf(x * scale - L[t]), ds = p * (dp - D[t]);
					for (int i = 0; i < hs; i++) {
						dv[i] += p * d[i];
						dk[i] += ds * q[i] * scale;
					}
				}
			}
			free(D);
		}
}

static void test_attention_algorithm(void)
{
	int B = 2, T = 75, C = 48, NH = 3;
	size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
	float *inp = malloc(nq * 4), *out = malloc(no * 4), *ref = malloc(no * 4), *att = malloc((size_t)B * NH * T * T * 4);
	float *lse = malloc((size_t)B * NH * T * 4), *dout = malloc(no * 4), *d1 = calloc(nq, 4), *d2 = calloc(nq, 4);
	float *datt = malloc((size_t)B * NH * T * T * 4);
	Rng r;
	rng_seed(&r, 11);
	for (size_t i = 0; i < nq; i++)
		inp[i] = 2.0f * rng_normal(&r);
	for (size_t i = 0; i < no; i++)
		dout[i] = rng_normal(&r);
	attention_forward_ref(ref, att, inp, B, T, C, NH);
	emu_attention_forward(out, lse, inp, B, T, C, NH);
	CHECK(max_abs_diff(out, ref, no) < 1e-5, "flash_forward_matches_reference");
	/* lse reproduces the probabilities */
	double worst = 0;
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++)
				for (int s = 0; s <= t; s++) {
					const float *q = inp + ((size_t)b * T + t) * 3 * C + h * (C / NH);
					const float *k = inp + ((size_t)b * T + s) * 3 * C + C + h * (C / NH);
					float x = 0.0f;
					for (int i = 0; i < C / NH; i++)
						x += q[i] * k[i];
					float p = expf(x / sqrtf((float)(C / NH)) - lse[((size_t)b * NH + h) * T + t]);
					double d = fabs(p - att[(((size_t)b * NH + h) * T + t) * T + s]);
					worst = d > worst ? d : worst;
				}
	CHECK(worst < 1e-5, "flash_lse_gives_probabilities");
	attention_backward_ref(d1, datt, dout, inp, att, B, T, C, NH);
	emu_attention_backward(d2, dout, inp, out, lse, B, T, C, NH);
	CHECK(max_abs_diff(d1, d2, nq) < 1e-4, "flash_backward_matches_reference");
	free(inp); free(out); free(ref); free(att); free(lse); free(dout); free(d1); free(d2); free(datt);
}

static float bf16r(float f)
{
	return ck_bits_f32((uint32_t)ck_bf16_stochastic(f, 0x8000u - 1u + ((ck_f32_bits(f) >> 16) & 1u)) << 16);
}

/* The tensor-core kernels' control flow (cuda_attention_tc.cu): blocks of 64
 * rows, warps of 16, tiles of 64 keys or queries, the warp-level skips, and
 * bf16 rounding of P and dS before their products.  hs is 64 there; the
 * emulation takes any hs. */
static void emu_tc_forward(float *out, float *lse, const float *inp, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	float *O = malloc(64 * hs * sizeof(float)), S[64], P[64], ms[64], ls[64];
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int q0 = 0; q0 < T; q0 += 64) {
				int last_t = T - 1 < q0 + 63 ? T - 1 : q0 + 63, nkeys = last_t + 1;
				memset(O, 0, 64 * hs * sizeof(float));
				for (int r = 0; r < 64; r++) {
					ms[r] = -INFINITY;
					ls[r] = 0.0f;
				}
				for (int s0 = 0; s0 < nkeys; s0 += 64)
					for (int w = 0; w < 4; w++) {
						int wfirst = q0 + w * 16;
						if (wfirst >= T || s0 > wfirst + 15)
							continue;
						for (int r = 0; r < 16; r++) {
							int row = w * 16 + r, t = q0 + row;
							float mx = -INFINITY;
							for (int c = 0; c < 64; c++) {
								int s = s0 + c;
								S[c] = -INFINITY;
								if (t < T && s <= t && s < nkeys) {
									float d = 0.0f;
									for (int i = 0; i < hs; i++)
										d += inp[((size_t)b * T + t) * C3 + h * hs + i] *
										     inp[((size_t)b * T + s) * C3 + C + h * hs + i];
									S[c] = d * scale;
								}
								mx = fmaxf(mx, S[c]);
							}
							float mn = fmaxf(ms[row], mx), corr = 1.0f, ps = 0.0f;
							for (int c = 0; c < 64; c++)
								P[c] = 0.0f;
							if (mn != -INFINITY) {
								corr = ck_softmax_rescale(ms[row], mn);
								for (int c = 0; c < 64; c++)
									P[c] = S[c] == -INFINITY ? 0.0f : expf(S[c] - mn);
							}
							for (int c = 0; c < 64; c++)
								ps += P[c];
							ms[row] = mn;
							ls[row] = ls[row] * corr + ps;
							for (int i = 0; i < hs; i++) {
								float acc = O[row * hs + i] * corr;
								for (int c = 0; c < 64 && s0 + c < nkeys; c++)
									acc += bf16r(P[c]) * inp[((size_t)b * T + s0 + c) * C3 + 2 * C + h * hs + i];
								O[row * hs + i] = acc;
							}
						}
					}
				for (int row = 0; row < 64 && q0 + row < T; row++) {
					int t = q0 + row;
					for (int i = 0; i < hs; i++)
						out[((size_t)b * T + t) * C + h * hs + i] = O[row * hs + i] / ls[row];
					lse[((size_t)b * NH + h) * T + t] = ms[row] + logf(ls[row]);
				}
			}
	free(O);
}

static void emu_tc_backward(float *dinp, const float *dout, const float *inp, const float *out, const float *lse,
			    int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	float *D = malloc((size_t)T * sizeof(float));
#define Q(t, i) inp[((size_t)b * T + (t)) * C3 + h * hs + (i)]
#define KK(s, i) inp[((size_t)b * T + (s)) * C3 + C + h * hs + (i)]
#define VV(s, i) inp[((size_t)b * T + (s)) * C3 + 2 * C + h * hs + (i)]
#define DO(t, i) dout[((size_t)b * T + (t)) * C + h * hs + (i)]
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++) {
			const float *L = lse + ((size_t)b * NH + h) * T;
			for (int t = 0; t < T; t++) {
				float s = 0.0f;
				for (int i = 0; i < hs; i++)
					s += DO(t, i) * out[((size_t)b * T + t) * C + h * hs + i];
				D[t] = s;
			}
			/* dq: blocks of 64 queries, tiles of 64 keys */
			for (int q0 = 0; q0 < T; q0 += 64) {
				int nkeys = T < q0 + 64 ? T : q0 + 64;
				for (int s0 = 0; s0 < nkeys; s0 += 64)
					for (int w = 0; w < 4; w++) {
						int wfirst = q0 + w * 16;
						if (wfirst >= T || s0 > wfirst + 15)
							continue;
						for (int r = 0; r < 16; r++) {
							int t = wfirst + r;
							for (int c = 0; c < 64; c++) {
								int s = s0 + c;
								if (!(t < T && s <= t))
									continue;
								float x = 0.0f, dp = 0.0f;
								for (int i = 0; i < hs; i++) {
									x += Q(t, i) * KK(s, i);
									dp += DO(t, i) * VV(s, i);
								}
								float ds = bf16r(expf(x * scale - L[t]) * (dp - D[t]));
								for (int i = 0; i < hs; i++)
									dinp[((size_t)b * T + t) * C3 + h * hs + i] += ds * KK(s, i) * scale;
							}
						}
					}
			}
			/* dk, dv: blocks of 64 keys, tiles of 64 queries from the block's first key */
			for (int k0 = 0; k0 < T; k0 += 64)
				for (int t0 = k0; t0 < T; t0 += 64)
					for (int w = 0; w < 4; w++) {
						int wfirst = k0 + w * 16;
						if (wfirst >= T || t0 + 63 < wfirst)
							continue;
						for (int r = 0; r < 16; r++) {
							int s = wfirst + r;
							for (int c = 0; c < 64; c++) {
								int t = t0 + c;
								if (!(s < T && t < T && t >= s))
									continue;
								float x = 0.0f, dp = 0.0f;
								for (int i = 0; i < hs; i++) {
									x += Q(t, i) * KK(s, i);
									dp += DO(t, i) * VV(s, i);
								}
								float p = expf(x * scale - L[t]), ds = p * (dp - D[t]);
								float pb = bf16r(p), dsb = bf16r(ds);
								for (int i = 0; i < hs; i++) {
									dinp[((size_t)b * T + s) * C3 + 2 * C + h * hs + i] += pb * DO(t, i);
									dinp[((size_t)b * T + s) * C3 + C + h * hs + i] += dsb * Q(t, i) * scale;
								}
							}
						}
					}
		}
#undef Q
#undef KK
#undef VV
#undef DO
	free(D);
}

static double rel_l2(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		den += (double)b[i] * b[i];
	}
	return sqrt(num / den);
}

static void test_tc_attention_algorithm(void)
{
	int B = 1, T = 150, C = 32, NH = 2; /* T: two full tiles and a partial one */
	size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
	float *inp = malloc(nq * 4), *out = malloc(no * 4), *ref = malloc(no * 4), *att = malloc(na * 4);
	float *lse = malloc((size_t)B * NH * T * 4), *dout = malloc(no * 4), *d1 = calloc(nq, 4), *d2 = calloc(nq, 4);
	float *datt = malloc(na * 4);
	Rng r;
	rng_seed(&r, 13);
	for (size_t i = 0; i < nq; i++)
		inp[i] = rng_normal(&r);
	for (size_t i = 0; i < no; i++)
		dout[i] = rng_normal(&r);
	attention_forward_ref(ref, att, inp, B, T, C, NH);
	emu_tc_forward(out, lse, inp, B, T, C, NH);
	double ef = rel_l2(out, ref, no);
	CHECK(ef < 5e-3, "tc_forward_tiles_and_masks");
	attention_backward_ref(d1, datt, dout, inp, att, B, T, C, NH);
	emu_tc_backward(d2, dout, inp, ref, lse, B, T, C, NH);
	double eb = rel_l2(d2, d1, nq);
	CHECK(eb < 1e-2, "tc_backward_tiles_and_masks");
	free(inp); free(out); free(ref); free(att); free(lse); free(dout); free(d1); free(d2); free(datt);
}

/* The classifier kernel's online softmax: 512 strided threads, warps of 32
 * merged by xor-shuffle pairs, then warps merged in order. */
static void test_classifier_algorithm(void)
{
	int V = 50257, Vp = 50304, nt = 512;
	float *x = malloc(Vp * 4), *probs = malloc(Vp * 4), loss;
	float m[512], l[512];
	int target = 4242;
	Rng r;
	rng_seed(&r, 3);
	for (int i = 0; i < Vp; i++)
		x[i] = 4.0f * rng_normal(&r);
	softmax_crossentropy_forward(probs, &loss, x, &target, 1, 1, V, Vp);
	for (int t = 0; t < nt; t++) {
		m[t] = -INFINITY;
		l[t] = 0.0f;
		for (int i = t; i < V; i += nt) {
			if (x[i] > m[t]) {
				l[t] = l[t] * ck_softmax_rescale(m[t], x[i]) + 1.0f;
				m[t] = x[i];
			} else {
				l[t] += expf(x[i] - m[t]);
			}
		}
	}
	for (int w = 0; w < nt / 32; w++)
		for (int o = 16; o > 0; o >>= 1) {
			float m2[32], l2[32];
			for (int j = 0; j < 32; j++) {
				m2[j] = m[w * 32 + (j ^ o)];
				l2[j] = l[w * 32 + (j ^ o)];
			}
			for (int j = 0; j < 32; j++)
				ck_softmax_merge(&m[w * 32 + j], &l[w * 32 + j], m2[j], l2[j]);
		}
	float M = m[0], L = l[0];
	for (int w = 1; w < nt / 32; w++)
		ck_softmax_merge(&M, &L, m[w * 32], l[w * 32]);
	float lse = M + logf(L), mine = lse - x[target];
	CHECK(fabsf(mine - loss) < 1e-4f * fabsf(loss), "classifier_online_softmax_loss");
	/* the log-sum-exp itself, against a double-precision sum */
	double dm = -INFINITY, ds = 0;
	for (int i = 0; i < V; i++)
		dm = x[i] > dm ? x[i] : dm;
	for (int i = 0; i < V; i++)
		ds += exp((double)x[i] - dm);
	CHECK(fabs(lse - (dm + log(ds))) < 4e-6, "classifier_lse_exact");
	/* merging with an empty partial changes nothing */
	float mm = 1.5f, ll = 2.0f;
	ck_softmax_merge(&mm, &ll, -INFINITY, 0.0f);
	CHECK(mm == 1.5f && ll == 2.0f, "softmax_merge_empty");
	free(x);
	free(probs);
}

static void test_gelu_adamw(void)
{
	size_t n = 2001;
	float x[2001], y[2001], dy[2001], dx[2001], ones[2001];
	for (size_t i = 0; i < n; i++) {
		x[i] = -10.0f + 20.0f * (float)i / (float)(n - 1);
		ones[i] = 1.0f;
		dx[i] = 0.0f;
	}
	gelu_forward(y, x, n);
	gelu_backward(dx, x, ones, n);
	for (size_t i = 0; i < n; i++)
		dy[i] = ck_gelu(x[i]);
	CHECK(max_abs_diff(dy, y, n) < 1e-5, "gelu_matches_layers");
	for (size_t i = 0; i < n; i++)
		dy[i] = ck_gelu_grad(x[i]);
	CHECK(max_abs_diff(dy, dx, n) < 1e-5, "gelu_grad_matches_layers");

	float p[64], g[64], m[64], v[64], p2[64], m2[64], v2[64];
	Rng r;
	rng_seed(&r, 9);
	for (int i = 0; i < 64; i++) {
		p[i] = p2[i] = rng_normal(&r);
		g[i] = rng_normal(&r);
		m[i] = m2[i] = 0.1f * rng_normal(&r);
		v[i] = v2[i] = fabsf(0.1f * rng_normal(&r));
	}
	adamw_update(p, g, m, v, 64, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.7f, 5);
	float ib1 = 1.0f / (1.0f - powf(0.9f, 5.0f)), ib2 = 1.0f / (1.0f - powf(0.95f, 5.0f));
	for (int i = 0; i < 64; i++)
		p2[i] = ck_adamw_elem(p2[i], g[i] * 0.7f, &m2[i], &v2[i], 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, ib1, ib2);
	CHECK(max_abs_diff(p, p2, 64) < 1e-7 && max_abs_diff(m, m2, 64) == 0 && max_abs_diff(v, v2, 64) == 0,
	      "adamw_matches_layers");
}

static void test_buckets(void)
{
	int inp[] = { 5, 3, 5, 9, 3, 5, 0 }, n = 7;
	int order[7], start[8], tok[7];
	int nb = ck_encoder_buckets(inp, n, order, start, tok);
	int want_order[] = { 6, 1, 4, 0, 2, 5, 3 }, want_start[] = { 0, 1, 3, 6, 7 }, want_tok[] = { 0, 3, 5, 9 };
	CHECK(nb == 4 && memcmp(order, want_order, sizeof want_order) == 0 &&
	      memcmp(start, want_start, sizeof want_start) == 0 && memcmp(tok, want_tok, sizeof want_tok) == 0,
	      "buckets_sorted_by_token_then_position");
	CHECK(ck_encoder_buckets(inp, 0, order, start, tok) == 0 && start[0] == 0, "buckets_empty");
	/* a large random batch: order is a permutation sorted by (token, position) */
	enum { N = 20000 };
	static int in2[N], ord2[N], st2[N + 1], tk2[N], seen[N];
	Rng r;
	rng_seed(&r, 21);
	for (int i = 0; i < N; i++)
		in2[i] = (int)(rng_u64(&r) % 3000);
	int nb2 = ck_encoder_buckets(in2, N, ord2, st2, tk2), good = nb2 > 0 && st2[0] == 0 && st2[nb2] == N;
	for (int i = 0; i < N && good; i++) {
		good = ord2[i] >= 0 && ord2[i] < N && !seen[ord2[i]];
		if (good)
			seen[ord2[i]] = 1;
		if (good && i > 0)
			good = in2[ord2[i - 1]] < in2[ord2[i]] || (in2[ord2[i - 1]] == in2[ord2[i]] && ord2[i - 1] < ord2[i]);
	}
	for (int k = 0; k < nb2 && good; k++)
		for (int j = st2[k]; j < st2[k + 1] && good; j++)
			good = in2[ord2[j]] == tk2[k] && st2[k + 1] > st2[k];
	CHECK(good, "buckets_random_batch");
}

int main(void)
{
	gpt2_set_threads(1);
	test_stochastic_rounding();
	test_attention_algorithm();
	test_tc_attention_algorithm();
	test_classifier_algorithm();
	test_gelu_adamw();
	test_buckets();
	return test_done();
}
