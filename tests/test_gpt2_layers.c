/* The fast layers against their plain-loop references (odd shapes, so that
 * the blocked and vectorised paths hit their edges), and the whole model's
 * results against the number of threads. */
#include "gpt2.h"
#include "layers.h"
#include "tap.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float *rnd(size_t n, Rng *r, float scale)
{
	float *p = malloc(n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		p[i] = scale * rng_normal(r);
	return p;
}

static float *copy(const float *a, size_t n)
{
	float *p = malloc(n * sizeof(float));
	memcpy(p, a, n * sizeof(float));
	return p;
}

static double rel(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		den += (double)b[i] * b[i];
	}
	return sqrt(num / (den > 0 ? den : 1));
}

int main(void)
{
	Rng r;
	rng_seed(&r, 3);
	gpt2_set_threads(2);
	int B = 2, T = 37, C = 48, OC = 80, NH = 3;
	size_t BT = (size_t)B * T;

	/* matmul */
	float *inp = rnd(BT * C, &r, 1), *w = rnd((size_t)OC * C, &r, 0.1f), *bias = rnd(OC, &r, 0.1f);
	float *o1 = malloc(BT * OC * 4), *o2 = malloc(BT * OC * 4);
	matmul_forward(o1, inp, w, bias, B, T, C, OC);
	matmul_forward_ref(o2, inp, w, bias, B, T, C, OC);
	CHECK(rel(o1, o2, BT * OC) < 1e-6, "matmul_forward = reference");
	float *dout = rnd(BT * OC, &r, 1);
	float *di1 = rnd(BT * C, &r, 1), *di2 = copy(di1, BT * C);
	float *dw1 = rnd((size_t)OC * C, &r, 1), *dw2 = copy(dw1, (size_t)OC * C);
	float *db1 = rnd(OC, &r, 1), *db2 = copy(db1, OC);
	matmul_backward(di1, dw1, db1, dout, inp, w, B, T, C, OC);
	matmul_backward_ref(di2, dw2, db2, dout, inp, w, B, T, C, OC);
	CHECK(rel(di1, di2, BT * C) < 1e-6 && rel(dw1, dw2, (size_t)OC * C) < 1e-6 && rel(db1, db2, OC) < 1e-6,
	      "matmul_backward = reference (adds into dinp, dweight, dbias)");

	/* attention */
	float *qkv = rnd(BT * 3 * C, &r, 1);
	float *a1 = malloc(BT * C * 4), *a2 = malloc(BT * C * 4);
	float *att1 = malloc((size_t)B * NH * T * T * 4), *att2 = malloc((size_t)B * NH * T * T * 4);
	attention_forward(a1, att1, qkv, B, T, C, NH);
	attention_forward_ref(a2, att2, qkv, B, T, C, NH);
	CHECK(rel(a1, a2, BT * C) < 1e-6 && rel(att1, att2, (size_t)B * NH * T * T) < 1e-6,
	      "attention_forward = reference");
	int causal = 1;
	for (int bh = 0; bh < B * NH; bh++)
		for (int t = 0; t < T; t++)
			for (int s = t + 1; s < T; s++)
				causal &= att1[((size_t)bh * T + t) * T + s] == 0.0f;
	CHECK(causal, "attention is causal");
	{
		/* rows in blocks (the last one partial) over only the keys each block sees */
		int B2 = 1, T2 = 300;
		float *q2 = rnd((size_t)B2 * T2 * 3 * C, &r, 1);
		float *o1 = malloc((size_t)B2 * T2 * C * 4), *o2 = malloc((size_t)B2 * T2 * C * 4);
		float *t1 = malloc((size_t)B2 * NH * T2 * T2 * 4), *t2 = malloc((size_t)B2 * NH * T2 * T2 * 4);
		attention_forward(o1, t1, q2, B2, T2, C, NH);
		attention_forward_ref(o2, t2, q2, B2, T2, C, NH);
		CHECK(rel(o1, o2, (size_t)B2 * T2 * C) < 1e-6 && rel(t1, t2, (size_t)B2 * NH * T2 * T2) < 1e-6,
		      "attention_forward = reference at T = 300 (blocks of rows)");
		float *d2 = rnd((size_t)B2 * T2 * C, &r, 1), *g1 = rnd((size_t)B2 * T2 * 3 * C, &r, 1);
		float *g2 = copy(g1, (size_t)B2 * T2 * 3 * C), *sc = malloc((size_t)B2 * NH * T2 * T2 * 4);
		attention_backward(g1, sc, d2, q2, t1, B2, T2, C, NH);
		attention_backward_ref(g2, sc, d2, q2, t2, B2, T2, C, NH);
		CHECK(rel(g1, g2, (size_t)B2 * T2 * 3 * C) < 1e-5, "attention_backward = reference at T = 300 (adds into dq, dk, dv)");
		free(d2), free(g1), free(g2), free(sc);
		free(q2), free(o1), free(o2), free(t1), free(t2);
	}
	float *da = rnd(BT * C, &r, 1);
	float *dq1 = rnd(BT * 3 * C, &r, 1), *dq2 = copy(dq1, BT * 3 * C);
	float *datt = malloc((size_t)B * NH * T * T * 4);
	attention_backward(dq1, datt, da, qkv, att1, B, T, C, NH);
	attention_backward_ref(dq2, datt, da, qkv, att2, B, T, C, NH);
	CHECK(rel(dq1, dq2, BT * 3 * C) < 1e-5, "attention_backward = reference");

	/* GELU: the vectorised tanh against libm, and the derivative numerically */
	int N = 2001;
	float *x = malloc(N * 4), *g = malloc(N * 4), *dx = calloc(N, 4), *ones = malloc(N * 4);
	for (int i = 0; i < N; i++) {
		x[i] = -10.0f + 0.01f * i;
		ones[i] = 1.0f;
	}
	gelu_forward(g, x, N);
	gelu_backward(dx, x, ones, N);
	double worst = 0, worst_d = 0;
	for (int i = 0; i < N; i++) {
		double xd = x[i];
		double ref = 0.5 * xd * (1 + tanh(0.7978845608028654 * (xd + 0.044715 * xd * xd * xd)));
		/* 1 + tanh cancels for very negative x in any fp32 GELU: an absolute floor */
		double err = fabs(g[i] - ref) / (fabs(ref) + 1e-2);
		worst = err > worst ? err : worst;
		double h = 1e-3, f1 = 0.5 * (xd + h) * (1 + tanh(0.7978845608028654 * ((xd + h) + 0.044715 * pow(xd + h, 3))));
		double f0 = 0.5 * (xd - h) * (1 + tanh(0.7978845608028654 * ((xd - h) + 0.044715 * pow(xd - h, 3))));
		double dref = (f1 - f0) / (2 * h);
		worst_d = fabs(dx[i] - dref) > worst_d ? fabs(dx[i] - dref) : worst_d;
	}
	printf("# gelu worst error (relative, floor 1e-2) %.3g, derivative abs error %.3g\n", worst, worst_d);
	/* the rational tanh is within 4e-7 of tanh; near x = -6 GELU multiplies that by 3 */
	CHECK(worst < 1e-4, "gelu forward matches libm's tanh (to 1e-6 absolute)");
	CHECK(worst_d < 1e-5, "gelu backward is the derivative");

	/* softmax: the padded vocabulary stays at zero probability */
	int V = 300, Vp = 384;
	float *lg = rnd(BT * Vp, &r, 3), *losses = malloc(BT * 4);
	int *tg = malloc(BT * sizeof(int));
	for (size_t i = 0; i < BT; i++) {
		tg[i] = (int)(rng_u64(&r) % V);
		for (int j = V; j < Vp; j++)
			lg[i * Vp + j] = 100.0f; /* garbage that must not leak into the softmax */
	}
	float l0;
	{
		const float *row = lg;
		double mx = -1e30, s = 0;
		for (int j = 0; j < V; j++) mx = row[j] > mx ? row[j] : mx;
		for (int j = 0; j < V; j++) s += exp(row[j] - mx);
		l0 = (float)(log(s) + mx - row[tg[0]]);
	}
	softmax_crossentropy_forward(lg, losses, lg, tg, B, T, V, Vp);
	int pad0 = 1;
	for (size_t i = 0; i < BT; i++)
		for (int j = V; j < Vp; j++)
			pad0 &= lg[i * Vp + j] == 0.0f;
	CHECK(pad0, "padded logits get probability 0");
	CHECK(fabsf(losses[0] - l0) < 1e-5f * fabsf(l0), "cross-entropy = logsumexp - logit");

	/* the whole model: identical bytes with 1 and 2 threads */
	GPT2Config cfg = { .max_seq_len = 64, .vocab_size = 300, .padded_vocab_size = 384,
			   .num_layers = 2, .num_heads = 4, .channels = 64 };
	GPT2 m;
	Error e;
	int Bm = 3, Tm = 50;
	int *in = malloc(Bm * Tm * sizeof(int)), *tgt = malloc(Bm * Tm * sizeof(int));
	for (int i = 0; i < Bm * Tm; i++) {
		in[i] = (int)(rng_u64(&r) % 300);
		tgt[i] = (int)(rng_u64(&r) % 300);
	}
	float *grads[2], *params[2];
	for (int k = 0; k < 2; k++) {
		gpt2_set_threads(k + 1);
		if (gpt2_create(&m, &cfg, &e) || gpt2_alloc_batch(&m, Bm, Tm, &e) || gpt2_alloc_train(&m, &e))
			return 1;
		gpt2_init_random(&m, 11);
		for (int s = 0; s < 2; s++) {
			gpt2_forward(&m, in, tgt, Bm, Tm);
			gpt2_backward(&m, 1.0f, 0);
			gpt2_update(&m, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, s + 1);
		}
		grads[k] = copy(m.grads_memory, m.num_params);
		params[k] = copy(m.params_memory, m.num_params);
		gpt2_free(&m);
	}
	size_t np = gpt2_num_params(&cfg);
	CHECK(memcmp(grads[0], grads[1], np * 4) == 0 && memcmp(params[0], params[1], np * 4) == 0,
	      "1 and 2 threads give the same bytes");
	void *all[] = { inp, w, bias, o1, o2, dout, di1, di2, dw1, dw2, db1, db2, qkv, a1, a2, att1, att2,
			da, dq1, dq2, datt, x, g, dx, ones, lg, losses, tg, in, tgt, grads[0], grads[1],
			params[0], params[1] };
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		free(all[i]);
	return test_done();
}
