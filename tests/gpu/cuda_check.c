/* cuda_check: every CUDA kernel against the CPU implementation (layers.h,
 * gpt2.h) on fresh random inputs, in fp32 and in bf16, then the whole
 * training model (loss, every gradient tensor, the norm, AdamW) and the
 * inference engine (KV cache: prefill and decode) against gpt2.c.
 *
 *   cuda_check [SEED]        prints `ok NAME rel=E tol=X` / `not ok NAME: ...`
 *
 * The error of a tensor is the relative L2 error ||gpu - cpu|| / ||cpu||.
 * Tolerances: fp32 kernels 2e-5 (only the order of the sums differs),
 * fp32 whole model 1e-4; bf16 kernels 1e-2 (bf16 keeps 8 significant bits:
 * one rounding is 2^-9 = 2e-3 relative), bf16 whole model 5e-2 (loss: 1e-2).
 * In bf16 the inputs are rounded to bf16 first and the CPU computes on the
 * rounded values, so the error measures the kernel, not the input rounding.
 * Exit 0 when everything passes, 1 otherwise, 77 when there is no GPU. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "layers.h"

#ifndef GPTKIT_CUDA
int main(void)
{
	printf("skip cuda_check: built without CUDA\n");
	return 77;
}
#else
#include "cuda_host.h"
#include "cuda_infer.h"
#include "cuda_kernels.h"
#include "cuda_model.h"

static int failures, checks;
static Rng rng;

static double tol_kernel(CkType t) { return t == CK_BF16 ? 1e-2 : 2e-5; }
static const char *tname(CkType t) { return t == CK_BF16 ? "bf16" : "fp32"; }

static double rel_err(const float *g, const float *c, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)g[i] - c[i];
		if (isnan(g[i]) || isinf(g[i]))
			return INFINITY;
		num += d * d;
		den += (double)c[i] * c[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void report(const char *name, CkType t, double err, double tol)
{
	checks++;
	if (err <= tol) {
		printf("ok %s_%s rel=%.3g tol=%.0e\n", name, tname(t), err, tol);
	} else {
		printf("not ok %s_%s: rel=%.3g > tol=%.0e\n", name, tname(t), err, tol);
		failures++;
	}
	fflush(stdout);
}

static void check_rel(const char *name, CkType t, const float *g, const float *c, size_t n, double tol)
{
	report(name, t, rel_err(g, c, n), tol);
}

static float bf16_round(float f)
{
	union { float f; uint32_t u; } x = { .f = f };
	x.u = (x.u + 0x7FFFu + ((x.u >> 16) & 1)) & 0xFFFF0000u;
	return x.f;
}

/* n random floats N(0, std), rounded to t */
static float *randn(size_t n, float std, CkType t)
{
	float *p = malloc(n * sizeof(float));
	if (!p) {
		fprintf(stderr, "cuda_check: out of memory\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		p[i] = std * rng_normal(&rng);
		if (t == CK_BF16)
			p[i] = bf16_round(p[i]);
	}
	return p;
}

static void die_cuda(const char *what)
{
	fprintf(stderr, "cuda_check: %s: %s\n", what, ck_last_error());
	printf("not ok cuda_check: %s failed\n", what);
	exit(1);
}

/* device copy of host floats, as type t (t < 0: float) */
static void *up(int t, const float *h, size_t n)
{
	float *f = ck_malloc(n * sizeof(float));
	if (!f || ck_memcpy(f, h, n * sizeof(float)))
		die_cuda("upload");
	if (t < 0 || t == CK_F32)
		return f;
	void *d = ck_malloc(n * 2);
	if (!d || ck_from_float((CkType)t, d, f, n, NULL) || ck_sync(NULL))
		die_cuda("convert");
	ck_free(f);
	return d;
}

static int *up_int(const int *h, size_t n)
{
	int *d = ck_malloc(n * sizeof(int));
	if (!d || ck_memcpy(d, h, n * sizeof(int)))
		die_cuda("upload");
	return d;
}

/* host floats of a device tensor of type t (t < 0: float) */
static float *down(int t, const void *d, size_t n)
{
	float *h = malloc(n * sizeof(float));
	if (!h)
		exit(1);
	if (ck_sync(NULL))
		die_cuda("kernel");
	if (t < 0 || t == CK_F32) {
		if (ck_memcpy(h, d, n * sizeof(float)))
			die_cuda("download");
		return h;
	}
	float *f = ck_malloc(n * sizeof(float));
	if (!f || ck_to_float((CkType)t, f, d, n, NULL) || ck_sync(NULL) || ck_memcpy(h, f, n * sizeof(float)))
		die_cuda("download");
	ck_free(f);
	return h;
}

#define F (-1) /* a float tensor for up/down */

static void check_encoder(CkType t)
{
	int B = 3, T = 41, C = 96, V = 50, N = B * T;
	float *wte = randn((size_t)V * C, 1, t), *wpe = randn((size_t)T * C, 1, t);
	float *dout = randn((size_t)N * C, 1, t);
	int *inp = malloc(N * sizeof(int)), *order = malloc(N * sizeof(int)), *start = malloc((N + 1) * sizeof(int));
	int *tok = malloc(N * sizeof(int));
	for (int i = 0; i < N; i++)
		inp[i] = (int)(rng_u64(&rng) % 17); /* many repeats */
	float *out = malloc((size_t)N * C * sizeof(float));
	encoder_forward(out, inp, wte, wpe, B, T, C);
	void *d_out = ck_malloc((size_t)N * C * 4), *d_wte = up(t, wte, (size_t)V * C), *d_wpe = up(t, wpe, (size_t)T * C);
	int *d_inp = up_int(inp, N);
	if (ck_encoder_forward(t, d_out, d_inp, d_wte, d_wpe, B, T, C, 0, NULL))
		die_cuda("encoder_forward");
	float *g = down(t, d_out, (size_t)N * C);
	check_rel("encoder_forward", t, g, out, (size_t)N * C, tol_kernel(t));
	free(g);

	float *dwte = randn((size_t)V * C, 1, CK_F32), *dwpe = randn((size_t)T * C, 1, CK_F32);
	float *d_dwte = up(F, dwte, (size_t)V * C), *d_dwpe = up(F, dwpe, (size_t)T * C);
	void *d_dout = up(t, dout, (size_t)N * C);
	int nb = ck_encoder_buckets(inp, N, order, start, tok);
	int *d_order = up_int(order, N), *d_start = up_int(start, nb + 1), *d_tok = up_int(tok, nb);
	encoder_backward(dwte, dwpe, dout, inp, B, T, C);
	if (ck_encoder_backward_wte(t, d_dwte, d_dout, d_order, d_start, d_tok, nb, C, NULL) ||
	    ck_encoder_backward_wpe(t, d_dwpe, d_dout, B, T, C, NULL))
		die_cuda("encoder_backward");
	g = down(F, d_dwte, (size_t)V * C);
	check_rel("encoder_backward_dwte", t, g, dwte, (size_t)V * C, tol_kernel(CK_F32));
	free(g);
	g = down(F, d_dwpe, (size_t)T * C);
	check_rel("encoder_backward_dwpe", t, g, dwpe, (size_t)T * C, tol_kernel(CK_F32));
	free(g);
	ck_free(d_out); ck_free(d_wte); ck_free(d_wpe); ck_free(d_inp); ck_free(d_dwte); ck_free(d_dwpe);
	ck_free(d_dout); ck_free(d_order); ck_free(d_start); ck_free(d_tok);
	free(wte); free(wpe); free(dout); free(inp); free(order); free(start); free(tok); free(out);
	free(dwte); free(dwpe);
}

static void check_layernorm(CkType t, int N, int C)
{
	size_t n = (size_t)N * C;
	float *a = randn(n, 1, t), *b = randn(n, 1, t), *w = randn(C, 1, t), *bias = randn(C, 1, t);
	float *resid = malloc(n * 4), *out = malloc(n * 4), *mean = malloc(N * 4), *rstd = malloc(N * 4);
	for (size_t i = 0; i < n; i++) {
		resid[i] = a[i] + b[i];
		if (t == CK_BF16)
			resid[i] = bf16_round(resid[i]);
	}
	layernorm_forward(out, mean, rstd, resid, w, bias, N, 1, C);
	void *d_a = up(t, a, n), *d_b = up(t, b, n), *d_w = up(t, w, C), *d_bias = up(t, bias, C);
	void *d_out = ck_malloc(n * 4), *d_res = ck_malloc(n * 4);
	float *d_mean = ck_malloc(N * 4), *d_rstd = ck_malloc(N * 4);
	if (ck_layernorm_forward(t, d_out, d_mean, d_rstd, d_res, d_a, d_b, d_w, d_bias, N, C, NULL))
		die_cuda("layernorm_forward");
	float *g = down(t, d_out, n);
	check_rel("layernorm_forward", t, g, out, n, tol_kernel(t));
	free(g);
	g = down(t, d_res, n);
	check_rel("layernorm_forward_residual", t, g, resid, n, tol_kernel(t));
	free(g);
	g = down(F, d_rstd, N);
	check_rel("layernorm_forward_rstd", t, g, rstd, N, tol_kernel(CK_F32));
	free(g);

	/* backward, accumulating into random gradients; the GPU uses its own mean/rstd (checked above) */
	float *dout = randn(n, 1, t), *dinp = randn(n, 1, t), *dw = randn(C, 1, CK_F32), *db = randn(C, 1, CK_F32);
	void *d_dout = up(t, dout, n), *d_dinp = up(t, dinp, n);
	float *d_dw = up(F, dw, C), *d_db = up(F, db, C), *scratch = ck_malloc(ck_colsum_scratch(N, 4 * C) * 4);
	layernorm_backward(dinp, dw, db, dout, resid, w, mean, rstd, N, 1, C);
	if (ck_layernorm_backward(t, d_dinp, d_dw, d_db, scratch, d_dout, d_res, d_w, d_mean, d_rstd, N, C, NULL))
		die_cuda("layernorm_backward");
	g = down(t, d_dinp, n);
	check_rel("layernorm_backward_dinp", t, g, dinp, n, tol_kernel(t));
	free(g);
	g = down(F, d_dw, C);
	check_rel("layernorm_backward_dweight", t, g, dw, C, tol_kernel(t));
	free(g);
	g = down(F, d_db, C);
	check_rel("layernorm_backward_dbias", t, g, db, C, tol_kernel(t));
	free(g);
	ck_free(d_a); ck_free(d_b); ck_free(d_w); ck_free(d_bias); ck_free(d_out); ck_free(d_res); ck_free(d_mean);
	ck_free(d_rstd); ck_free(d_dout); ck_free(d_dinp); ck_free(d_dw); ck_free(d_db); ck_free(scratch);
	free(a); free(b); free(w); free(bias); free(resid); free(out); free(mean); free(rstd); free(dout);
	free(dinp); free(dw); free(db);
}

static void check_matmul(CkBlas *h, CkType t, int N, int C, int OC)
{
	size_t ni = (size_t)N * C, no = (size_t)N * OC, nw = (size_t)OC * C;
	float *inp = randn(ni, 1, t), *w = randn(nw, 0.1f, t), *bias = randn(OC, 1, t);
	float *out = malloc(no * 4), *gel = malloc(no * 4);
	matmul_forward_ref(out, inp, w, bias, N, 1, C, OC);
	gelu_forward(gel, out, no);
	void *d_inp = up(t, inp, ni), *d_w = up(t, w, nw), *d_bias = up(t, bias, OC);
	void *d_out = ck_malloc(no * 4), *d_pre = ck_malloc(no * 4);
	if (ck_matmul_forward(h, t, d_out, NULL, d_inp, d_w, d_bias, N, C, OC, NULL))
		die_cuda(ck_blas_error(h));
	float *g = down(t, d_out, no);
	check_rel("matmul_forward_bias", t, g, out, no, tol_kernel(t));
	free(g);
	if (ck_matmul_forward(h, t, d_out, d_pre, d_inp, d_w, d_bias, N, C, OC, NULL))
		die_cuda(ck_blas_error(h));
	g = down(t, d_pre, no);
	check_rel("matmul_forward_gelu_pre", t, g, out, no, tol_kernel(t));
	free(g);
	g = down(t, d_out, no);
	check_rel("matmul_forward_gelu", t, g, gel, no, tol_kernel(t));
	free(g);

	float *dout = randn(no, 1, t), *dinp = calloc(ni, 4), *dw = randn(nw, 1, CK_F32), *db = randn(OC, 1, CK_F32);
	void *d_dout = up(t, dout, no), *d_dinp = ck_malloc(ni * 4);
	float *d_dw = up(F, dw, nw), *d_db = up(F, db, OC), *scratch = ck_malloc(ck_colsum_scratch(N, OC) * 4);
	matmul_backward_ref(dinp, dw, db, dout, inp, w, N, 1, C, OC);
	if (ck_matmul_backward_input(h, t, d_dinp, d_dout, d_w, N, C, OC, NULL) ||
	    ck_matmul_backward_weight(h, t, d_dw, d_dout, d_inp, N, C, OC, NULL))
		die_cuda(ck_blas_error(h));
	if (ck_bias_backward(t, d_db, scratch, d_dout, N, OC, NULL))
		die_cuda("bias_backward");
	g = down(t, d_dinp, ni);
	check_rel("matmul_backward_dinp", t, g, dinp, ni, tol_kernel(t));
	free(g);
	g = down(F, d_dw, nw);
	check_rel("matmul_backward_dweight", t, g, dw, nw, tol_kernel(t));
	free(g);
	g = down(F, d_db, OC);
	check_rel("matmul_backward_dbias", t, g, db, OC, tol_kernel(t));
	free(g);
	ck_free(d_inp); ck_free(d_w); ck_free(d_bias); ck_free(d_out); ck_free(d_pre); ck_free(d_dout);
	ck_free(d_dinp); ck_free(d_dw); ck_free(d_db); ck_free(scratch);
	free(inp); free(w); free(bias); free(out); free(gel); free(dout); free(dinp); free(dw); free(db);
}

static void check_attention(CkType t, int B, int T, int C, int NH)
{
	size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C, na = (size_t)B * NH * T * T;
	float *qkv = randn(nq, 1, t), *out = malloc(no * 4), *att = malloc(na * 4);
	attention_forward_ref(out, att, qkv, B, T, C, NH);
	void *d_qkv = up(t, qkv, nq), *d_out = ck_malloc(no * 4);
	float *d_lse = ck_malloc((size_t)B * NH * T * 4);
	if (ck_attention_forward_qkv(t, d_out, d_lse, d_qkv, B, T, C, NH, NULL))
		die_cuda("attention_forward");
	float *g = down(t, d_out, no);
	char name[64];
	snprintf(name, sizeof name, "attention_forward_hs%d_T%d", C / NH, T);
	check_rel(name, t, g, out, no, tol_kernel(t));
	free(g);

	/* backward from the GPU's own output (bf16: the CPU sees the same rounded out) */
	float *outg = down(t, d_out, no);
	float *dout = randn(no, 1, t), *dqkv = calloc(nq, 4), *datt = malloc(na * 4);
	attention_backward_ref(dqkv, datt, dout, qkv, att, B, T, C, NH);
	(void)outg;
	void *d_dout = up(t, dout, no), *d_dqkv = ck_malloc(nq * 4);
	float *d_D = ck_malloc((size_t)B * NH * T * 4);
	if (ck_attention_backward(t, d_dqkv, d_D, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, NULL))
		die_cuda("attention_backward");
	g = down(t, d_dqkv, nq);
	snprintf(name, sizeof name, "attention_backward_hs%d_T%d", C / NH, T);
	check_rel(name, t, g, dqkv, nq, tol_kernel(t) * (t == CK_BF16 ? 2 : 1));
	free(g);
	/* the tensor-core kernels (bf16, head size 64) against the same references */
	if (ck_attention_tc_supported(t, C / NH)) {
		CkAttn a;
		ck_attention_qkv_args(&a, t, d_out, d_lse, d_qkv, B, T, C, NH);
		if (ck_attention_forward_tc(&a, NULL))
			die_cuda("attention_forward_tc");
		g = down(t, d_out, no);
		snprintf(name, sizeof name, "attention_forward_tc_T%d", T);
		check_rel(name, t, g, out, no, 2 * tol_kernel(t));
		free(g);
		if (ck_attention_backward_tc(d_dqkv, d_D, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, NULL))
			die_cuda("attention_backward_tc");
		g = down(t, d_dqkv, nq);
		snprintf(name, sizeof name, "attention_backward_tc_T%d", T);
		check_rel(name, t, g, dqkv, nq, 3 * tol_kernel(t));
		free(g);
	}
	ck_free(d_qkv); ck_free(d_out); ck_free(d_lse); ck_free(d_dout); ck_free(d_dqkv); ck_free(d_D);
	free(qkv); free(out); free(att); free(outg); free(dout); free(dqkv); free(datt);
}

static void check_gelu(CkType t)
{
	size_t n = 100003;
	float *x = randn(n, 2, t), *y = malloc(n * 4), *dout = randn(n, 1, t), *dx = calloc(n, 4);
	gelu_forward(y, x, n);
	gelu_backward(dx, x, dout, n);
	void *d_x = up(t, x, n), *d_y = ck_malloc(n * 4), *d_d = up(t, dout, n);
	if (ck_gelu_forward(t, d_y, d_x, n, NULL) || ck_gelu_backward(t, d_d, d_x, d_d, n, NULL))
		die_cuda("gelu");
	float *g = down(t, d_y, n);
	check_rel("gelu_forward", t, g, y, n, tol_kernel(t));
	free(g);
	g = down(t, d_d, n);
	check_rel("gelu_backward", t, g, dx, n, tol_kernel(t));
	free(g);
	ck_free(d_x); ck_free(d_y); ck_free(d_d);
	free(x); free(y); free(dout); free(dx);
}

static void check_classifier(CkType t, int N, int V, int Vp)
{
	size_t n = (size_t)N * Vp;
	float *logits = randn(n, 3, t), *probs = malloc(n * 4), *losses = malloc(N * 4), *dl = malloc(N * 4);
	int *tg = malloc(N * sizeof(int));
	for (int i = 0; i < N; i++) {
		tg[i] = (int)(rng_u64(&rng) % V);
		dl[i] = 0.37f / N;
	}
	softmax_crossentropy_forward(probs, losses, logits, tg, N, 1, V, Vp);
	crossentropy_softmax_backward(probs, dl, probs, tg, N, 1, V, Vp);
	void *d_lg = up(t, logits, n);
	int *d_tg = up_int(tg, N);
	float *d_loss = ck_malloc(N * 4), *d_mean = ck_malloc(4);
	if (ck_crossentropy(t, d_loss, d_lg, d_tg, 0.0f, N, V, Vp, NULL))
		die_cuda("crossentropy");
	float *g = down(F, d_loss, N);
	check_rel("crossentropy_losses", t, g, losses, N, tol_kernel(CK_F32));
	free(g);
	g = down(t, d_lg, n);
	check_rel("crossentropy_keeps_logits", t, g, logits, n, 0.0);
	free(g);
	if (ck_crossentropy(t, d_loss, d_lg, d_tg, 0.37f / N, N, V, Vp, NULL) || ck_mean(d_mean, d_loss, N, NULL))
		die_cuda("crossentropy");
	g = down(t, d_lg, n);
	check_rel("crossentropy_dlogits", t, g, probs, n, tol_kernel(t));
	free(g);
	double s = 0;
	for (int i = 0; i < N; i++)
		s += losses[i];
	float want = (float)(s / N), *gm = down(F, d_mean, 1);
	check_rel("crossentropy_mean", t, gm, &want, 1, tol_kernel(CK_F32));
	free(gm);
	ck_free(d_lg); ck_free(d_tg); ck_free(d_loss); ck_free(d_mean);
	free(logits); free(probs); free(losses); free(dl); free(tg);
}

static void check_adamw(CkType t)
{
	size_t n = 300007;
	float *p = randn(n, 1, CK_F32), *gr = randn(n, 1, CK_F32), *m = randn(n, 0.1f, CK_F32), *v = randn(n, 0.1f, CK_F32);
	for (size_t i = 0; i < n; i++)
		v[i] = fabsf(v[i]);
	float *d_p = up(F, p, n), *d_g = up(F, gr, n), *d_m = up(F, m, n), *d_v = up(F, v, n);
	void *d_px = t == CK_BF16 ? ck_malloc(n * 2) : NULL;
	adamw_update(p, gr, m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 7);
	if (ck_adamw(d_p, d_px, d_g, d_m, d_v, n, 12345, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, NULL, 0.0f, 7, NULL))
		die_cuda("adamw");
	float *g = down(F, d_p, n);
	check_rel("adamw_params", t, g, p, n, 1e-6);
	if (d_px) {
		/* each bf16 value is one of the two neighbours of the fp32 one, and the mean rounding error is ~0 */
		float *x = down(CK_BF16, d_px, n);
		size_t bad = 0;
		double bias = 0, scale = 0;
		for (size_t i = 0; i < n; i++) {
			union { float f; uint32_t u; } a = { .f = g[i] }, b;
			b.u = a.u & 0xFFFF0000u;
			float down_ = b.f;
			b.u += 0x10000u;
			float upv = b.f;
			if (x[i] != down_ && x[i] != upv)
				bad++;
			bias += (double)x[i] - g[i];
			scale += fabs((double)upv - down_);
		}
		report("adamw_stochastic_round_neighbours", t, (double)bad, 0.0);
		report("adamw_stochastic_round_unbiased", t, fabs(bias) / scale, 0.01);
		free(x);
	}
	free(g);
	g = down(F, d_m, n);
	check_rel("adamw_m", t, g, m, n, 1e-6);
	free(g);
	g = down(F, d_v, n);
	check_rel("adamw_v", t, g, v, n, 1e-6);
	free(g);
	/* the norm */
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += (double)gr[i] * gr[i];
	float want = (float)sqrt(s), *d_out = ck_malloc(4);
	double *scratch = ck_malloc(CK_NORM_BLOCKS * sizeof(double));
	if (ck_norm(d_out, scratch, d_g, n, NULL))
		die_cuda("norm");
	float *gn = down(F, d_out, 1);
	check_rel("grad_norm", t, gn, &want, 1, 1e-6);
	free(gn);
	ck_free(d_p); ck_free(d_g); ck_free(d_m); ck_free(d_v); ck_free(d_px); ck_free(d_out); ck_free(scratch);
	free(p); free(gr); free(m); free(v);
}

/* The whole model: three training steps on the CPU and on the GPU from the
 * same initialisation, comparing the loss, every gradient tensor, the norm
 * and the parameters after AdamW; then determinism (the same step twice
 * gives bitwise the same gradients). */
static void check_model(CkType t, int nh, int flags)
{
	GPT2Config c = { .max_seq_len = 64, .vocab_size = 300, .padded_vocab_size = 384, .num_layers = 2,
			 .num_heads = nh, .channels = 128 };
	const char *tag = flags & CUDA_MODEL_ATTN_TC ? "tc_" : "";
	char name[64];
	int B = 3, T = 64, N = B * T;
	double tol = t == CK_BF16 ? 5e-2 : 1e-4, ltol = t == CK_BF16 ? 1e-2 : 1e-5;
	GPT2 m;
	Error e;
	if (gpt2_create(&m, &c, &e) || gpt2_alloc_batch(&m, B, T, &e) || gpt2_alloc_train(&m, &e)) {
		printf("not ok model_%s: %s\n", tname(t), e.msg);
		failures++;
		return;
	}
	gpt2_init_random(&m, 42);
	char why[400];
	CudaModel *cm = cuda_model_open(&c, m.params_memory, NULL, NULL, B, T,
					(t == CK_BF16 ? CUDA_MODEL_BF16 : CUDA_MODEL_FP32) | flags, why, sizeof why);
	if (!cm) {
		printf("not ok model_open_%s: %s\n", tname(t), why);
		failures++;
		gpt2_free(&m);
		return;
	}
	int *in = malloc(N * sizeof(int)), *tg = malloc(N * sizeof(int));
	for (int step = 1; step <= 3; step++) {
		for (int i = 0; i < N; i++) {
			in[i] = (int)(rng_u64(&rng) % c.vocab_size);
			tg[i] = (int)(rng_u64(&rng) % c.vocab_size);
		}
		gpt2_forward(&m, in, tg, B, T);
		gpt2_backward(&m, 1.0f, 0);
		float lg = cuda_model_step(cm, in, tg, 1.0f, 0);
		snprintf(name, sizeof name, "%smodel_loss_step%d", tag, step);
		report(name, t, fabs(lg - m.mean_loss) / m.mean_loss, ltol);
		if (step == 1) {
			const float *gg = cuda_model_grads(cm);
			size_t off = 0;
			for (int i = 0; gg && i < GPT2_NUM_PARAM_TENSORS; i++) {
				snprintf(name, sizeof name, "%smodel_grad_%s", tag, gpt2_param_names[i]);
				check_rel(name, t, gg + off, m.grads_memory + off, m.param_sizes[i], tol);
				off += m.param_sizes[i];
			}
		}
		float nc = gpt2_grad_norm(&m), ng = cuda_model_grad_norm(cm);
		snprintf(name, sizeof name, "%smodel_grad_norm_step%d", tag, step);
		report(name, t, fabs(ng - nc) / nc, tol);
		gpt2_update(&m, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, step);
		cuda_model_update(cm, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, step);
	}
	const float *pg = cuda_model_params(cm);
	snprintf(name, sizeof name, "%smodel_params_after_3_steps", tag);
	if (pg)
		check_rel(name, t, pg, m.params_memory, m.num_params, tol);
	/* determinism: the same micro-batch twice, gradients compared bit for bit */
	cuda_model_step(cm, in, tg, 1.0f, 0);
	const float *g1 = cuda_model_grads(cm);
	float *keep = g1 ? malloc(m.num_params * 4) : NULL;
	if (keep)
		memcpy(keep, g1, m.num_params * 4);
	cuda_model_step(cm, in, tg, 1.0f, 0);
	const float *g2 = cuda_model_grads(cm);
	snprintf(name, sizeof name, "%smodel_deterministic", tag);
	report(name, t, keep && g2 && memcmp(keep, g2, m.num_params * 4) == 0 ? 0.0 : 1.0, 0.0);
	/* accumulation: two half-scaled steps equal one full step */
	cuda_model_step(cm, in, tg, 0.5f, 0);
	cuda_model_step(cm, in, tg, 0.5f, 1);
	const float *g3 = cuda_model_grads(cm);
	snprintf(name, sizeof name, "%smodel_grad_accumulate", tag);
	if (g3 && keep)
		check_rel(name, t, g3, keep, m.num_params, 1e-6);
	/* logits of one short sequence */
	const float *lg = cuda_model_logits(cm, in, 10);
	gpt2_forward(&m, in, NULL, 1, 10);
	snprintf(name, sizeof name, "%smodel_logits", tag);
	if (lg)
		check_rel(name, t, lg, m.acts.logits + 9 * c.padded_vocab_size, c.padded_vocab_size,
			  t == CK_BF16 ? 2e-2 : 1e-4);
	if (cuda_model_error(cm)[0]) {
		printf("not ok model_%s: %s\n", tname(t), cuda_model_error(cm));
		failures++;
	}
	free(keep);
	free(in);
	free(tg);
	cuda_model_close(cm);
	gpt2_free(&m);
}

/* gpt-train's path (micro-batches without waiting, the clip factor on the
 * device, one wait at the end) against the waiting calls with the clip
 * factor computed on the host: the same bits, two steps of two micro-batches
 * each with clipping active. */
static void check_async_step(CkType t, int flags)
{
	GPT2Config c = { .max_seq_len = 64, .vocab_size = 300, .padded_vocab_size = 384, .num_layers = 2,
			 .num_heads = 2, .channels = 128 };
	const char *tag = flags & CUDA_MODEL_ATTN_TC ? "tc_" : "";
	int B = 2, T = 64, N = B * T, prec = (t == CK_BF16 ? CUDA_MODEL_BF16 : CUDA_MODEL_FP32) | flags;
	const float clip = 0.05f; /* below the norms here: the factor is used */
	char name[80], why[400];
	GPT2 m;
	Error e;
	if (gpt2_create(&m, &c, &e)) {
		printf("not ok async_%s: %s\n", tname(t), e.msg);
		failures++;
		return;
	}
	gpt2_init_random(&m, 9);
	CudaModel *a = cuda_model_open(&c, m.params_memory, NULL, NULL, B, T, prec, why, sizeof why);
	CudaModel *b = a ? cuda_model_open(&c, m.params_memory, NULL, NULL, B, T, prec, why, sizeof why) : NULL;
	int *in = malloc(2 * N * sizeof(int)), *tg = malloc(2 * N * sizeof(int));
	int same_loss = 1, same_norm = 1, clipped = 1;
	for (int step = 1; a && b && step <= 2; step++) {
		for (int i = 0; i < 2 * N; i++) {
			in[i] = (int)(rng_u64(&rng) % c.vocab_size);
			tg[i] = (int)(rng_u64(&rng) % c.vocab_size);
		}
		float l = 0.0f;
		for (int k = 0; k < 2; k++)
			l += cuda_model_step(a, in + k * N, tg + k * N, 0.5f, k > 0);
		float n = cuda_model_grad_norm(a);
		clipped &= n > clip;
		cuda_model_update(a, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, n > clip ? clip / (n + 1e-6f) : 1.0f, step);
		for (int k = 0; k < 2; k++)
			cuda_model_step_async(b, in + k * N, tg + k * N, 0.5f, k > 0);
		cuda_model_update_clip(b, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, clip, step);
		float lb, nb;
		cuda_model_finish(b, &lb, &nb);
		same_loss &= memcmp(&l, &lb, sizeof l) == 0;
		same_norm &= memcmp(&n, &nb, sizeof n) == 0;
	}
	const float *pa = a ? cuda_model_params(a) : NULL, *pb = b ? cuda_model_params(b) : NULL;
	snprintf(name, sizeof name, "%sasync_step_loss_sum_bitwise", tag);
	report(name, t, a && b && same_loss ? 0.0 : 1.0, 0.0);
	snprintf(name, sizeof name, "%sasync_step_norm_bitwise_clipped", tag);
	report(name, t, a && b && same_norm && clipped ? 0.0 : 1.0, 0.0);
	snprintf(name, sizeof name, "%sasync_step_params_bitwise", tag);
	report(name, t, pa && pb && memcmp(pa, pb, m.num_params * sizeof(float)) == 0 ? 0.0 : 1.0, 0.0);
	if (!a || !b || cuda_model_error(a)[0] || cuda_model_error(b)[0]) {
		printf("not ok async_%s: %s\n", tname(t), !a || !b ? why : cuda_model_error(a)[0] ? cuda_model_error(a)
											      : cuda_model_error(b));
		failures++;
	}
	free(in);
	free(tg);
	cuda_model_close(a);
	cuda_model_close(b);
	gpt2_free(&m);
}

/* Inference with the KV cache: prefill then decode, against gpt2_forward. */
static void check_infer(CkType t)
{
	GPT2Config c = { .max_seq_len = 96, .vocab_size = 300, .padded_vocab_size = 384, .num_layers = 2,
			 .num_heads = 2, .channels = 128 };
	GPT2 m;
	Error e;
	int n0 = 40, n = 48, Vp = c.padded_vocab_size;
	if (gpt2_create(&m, &c, &e) || gpt2_alloc_batch(&m, 1, n, &e)) {
		printf("not ok infer_%s: %s\n", tname(t), e.msg);
		failures++;
		return;
	}
	gpt2_init_random(&m, 7);
	char why[400];
	/* max_batch 16: the prefill runs in chunks of 16, 16, 8 */
	CudaInfer *g = cuda_infer_open(&c, m.params_memory, t == CK_BF16 ? CUDA_INFER_BF16 : CUDA_INFER_FP32, 16, why,
				       sizeof why);
	if (!g) {
		printf("not ok infer_open_%s: %s\n", tname(t), why);
		failures++;
		gpt2_free(&m);
		return;
	}
	int tokens[48];
	for (int i = 0; i < n; i++)
		tokens[i] = (int)(rng_u64(&rng) % c.vocab_size);
	float *all = malloc((size_t)n * Vp * 4);
	gpt2_forward(&m, tokens, NULL, 1, n);
	double tol = t == CK_BF16 ? 3e-2 : 1e-4;
	const float *lg = cuda_infer_forward(g, tokens, n0, all);
	if (lg)
		check_rel("infer_prefill_all_logits", t, all, m.acts.logits, (size_t)n0 * Vp, tol);
	double worst = 0;
	for (int i = n0; i < n && lg; i++) {
		lg = cuda_infer_forward(g, tokens + i, 1, NULL);
		if (lg) {
			double r = rel_err(lg, m.acts.logits + (size_t)i * Vp, Vp);
			worst = r > worst ? r : worst;
		}
	}
	report("infer_decode_logits", t, lg ? worst : INFINITY, tol);
	/* rewind and prefill the tail again: the cache is overwritten in place */
	cuda_infer_rewind(g, 20);
	lg = cuda_infer_forward(g, tokens + 20, n - 20, NULL);
	report("infer_rewind_logits", t, lg ? rel_err(lg, m.acts.logits + (size_t)(n - 1) * Vp, Vp) : INFINITY, tol);
	/* greedy decoding, 24 tokens from an 8-token prompt: the GPU's tokens
	 * against the CPU's (fp32: all equal; bf16: reported) */
	cuda_infer_rewind(g, 0);
	int seq_c[32], seq_g[32], agree = 0;
	memcpy(seq_c, tokens, 8 * sizeof(int));
	memcpy(seq_g, tokens, 8 * sizeof(int));
	lg = cuda_infer_forward(g, seq_g, 8, NULL);
	for (int i = 8; i < 32 && lg; i++) {
		int best = 0;
		for (int v = 1; v < c.vocab_size; v++)
			best = lg[v] > lg[best] ? v : best;
		seq_g[i] = best;
		lg = cuda_infer_forward(g, &seq_g[i], 1, NULL);
		gpt2_forward(&m, seq_c, NULL, 1, i);
		const float *lc = m.acts.logits + (size_t)(i - 1) * Vp;
		int bc = 0;
		for (int v = 1; v < c.vocab_size; v++)
			bc = lc[v] > lc[bc] ? v : bc;
		seq_c[i] = bc;
	}
	while (agree < 24 && seq_c[8 + agree] == seq_g[8 + agree])
		agree++;
	if (t == CK_F32)
		report("infer_greedy_tokens_differing", t, lg ? (double)(24 - agree) : INFINITY, 0.0);
	else /* bf16 weights move near-ties of a random model: information only */
		printf("# infer_greedy_bf16: the first %d of 24 tokens agree with the fp32 CPU\n", agree);
	if (cuda_infer_error(g)[0]) {
		printf("not ok infer_%s: %s\n", tname(t), cuda_infer_error(g));
		failures++;
	}
	free(all);
	cuda_infer_close(g);
	gpt2_free(&m);
}

int main(int argc, char **argv)
{
	char why[256];
	if (cuda_device_count(why, sizeof why) <= 0) {
		printf("skip cuda_check: no CUDA device (%s)\n", why);
		return 77;
	}
	rng_seed(&rng, argc > 1 ? strtoull(argv[1], NULL, 10) : 1234);
	gpt2_set_threads(1);
	CkBlas *h;
	if (ck_blas_create(&h, why, sizeof why)) {
		printf("not ok cublaslt: %s\n", why);
		return 1;
	}
	for (int k = 0; k < 2; k++) {
		CkType t = k ? CK_BF16 : CK_F32;
		check_encoder(t);
		check_layernorm(t, 300, 768);
		check_layernorm(t, 37, 100);
		check_matmul(h, t, 130, 96, 384);
		check_matmul(h, t, 64, 768, 3072);
		check_attention(t, 2, 70, 96, 3);    /* hs 32, T not a multiple of 32 */
		check_attention(t, 1, 130, 256, 2);  /* hs 128 */
		check_attention(t, 2, 64, 128, 2);   /* hs 64 */
		check_attention(t, 2, 200, 256, 4);  /* hs 64, T not a multiple of 64 */
		check_gelu(t);
		check_classifier(t, 20, 50257, 50304);
		check_classifier(t, 7, 300, 384);
		check_adamw(t);
		check_model(t, 4, 0);
		if (t == CK_BF16) /* head size 64: the tensor-core attention */
			check_model(t, 2, CUDA_MODEL_ATTN_TC);
		check_async_step(t, 0);
		if (t == CK_BF16)
			check_async_step(t, CUDA_MODEL_ATTN_TC);
		check_infer(t);
	}
	ck_blas_destroy(h);
	printf("# cuda_check: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
#endif
