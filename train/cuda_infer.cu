/* GPT-2 inference on the GPU with a KV cache: see cuda_infer.h. */
#include "cuda_common.h"
#include "cuda_infer.h"
#include "cuda_model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { WTE, WPE, LN1W, LN1B, QKVW, QKVB, ATTPROJW, ATTPROJB, LN2W, LN2B, FCW, FCB, FCPROJW, FCPROJB, LNFW, LNFB };

struct CudaInfer {
	GPT2Config c;
	CkType t;
	size_t es, offs[GPT2_NUM_PARAM_TENSORS];
	int max_batch, pos, broken;
	cudaStream_t stream;
	CkBlas *blas;
	void *w;                      /* weights, compute type */
	void *kc, *vc;                /* (L, maxT, C) */
	void *x, *xb, *res, *tmp, *atty, *qkv, *fch, *hb, *logits;
	int *d_tok, *h_tok;
	void *h_logits_x;
	float *h_logits;
	char err[320];
};

#define fail CK_FAIL
#define K(call) CK_LAUNCH(g, call)
#define CU(call) CK_CUDA(g, call)

static void *dalloc(CudaInfer *g, size_t bytes)
{
	void *p = NULL;
	if (g->broken)
		return NULL;
	CU(cudaMalloc(&p, bytes ? bytes : 16));
	return g->broken ? NULL : p;
}

static void *W(const CudaInfer *g, int i, int l, size_t per)
{
	return (char *)g->w + (g->offs[i] + (size_t)l * per) * g->es;
}

extern "C" void cuda_infer_close(CudaInfer *g)
{
	if (!g)
		return;
	if (g->stream)
		cudaStreamSynchronize(g->stream);
	void *d[] = { g->w, g->kc, g->vc, g->x, g->xb, g->res, g->tmp, g->atty, g->qkv, g->fch, g->hb, g->logits,
		      g->d_tok };
	for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
		if (d[i])
			cudaFree(d[i]);
	if (g->h_tok)
		cudaFreeHost(g->h_tok);
	if (g->h_logits_x)
		cudaFreeHost(g->h_logits_x);
	free(g->h_logits);
	ck_blas_destroy(g->blas);
	if (g->stream)
		cudaStreamDestroy(g->stream);
	free(g);
}

extern "C" CudaInfer *cuda_infer_open(const GPT2Config *c, const float *params, int precision, int max_batch,
				      char *why, size_t why_len)
{
	char reason[256];
	if (cuda_device_count(reason, sizeof reason) <= 0) {
		snprintf(why, why_len, "no usable CUDA device: %s", reason);
		return NULL;
	}
	if (c->channels % 8 != 0) {
		/* rows of bf16 activations must stay 16-byte aligned for cuBLASLt */
		snprintf(why, why_len, "%d channels: the CUDA backend needs a multiple of 8", c->channels);
		return NULL;
	}
	if (c->channels / c->num_heads > 128 || max_batch < 1) {
		snprintf(why, why_len, "unsupported shape (head size %d, batch %d)", c->channels / c->num_heads,
			 max_batch);
		return NULL;
	}
	CudaInfer *g = (CudaInfer *)calloc(1, sizeof *g);
	if (!g) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	g->c = *c;
	g->t = precision == CUDA_INFER_BF16 ? CK_BF16 : CK_F32;
	g->es = ck_sizeof(g->t);
	g->max_batch = max_batch < c->max_seq_len ? max_batch : c->max_seq_len;
	size_t sizes[GPT2_NUM_PARAM_TENSORS], np = 0;
	gpt2_param_sizes(c, sizes);
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
		g->offs[i] = np;
		np += sizes[i];
	}
	size_t L = c->num_layers, C = c->channels, Vp = c->padded_vocab_size, maxT = c->max_seq_len;
	size_t nb = g->max_batch, es = g->es;
	CU(cudaSetDevice(0));
	CU(cudaStreamCreateWithFlags(&g->stream, cudaStreamNonBlocking));
	if (!g->broken && ck_blas_create(&g->blas, reason, sizeof reason))
		fail(g, "%s", reason);
	g->w = dalloc(g, np * es);
	g->kc = dalloc(g, L * maxT * C * es);
	g->vc = dalloc(g, L * maxT * C * es);
	g->x = dalloc(g, nb * C * es);
	g->xb = dalloc(g, nb * C * es);
	g->res = dalloc(g, nb * C * es);
	g->tmp = dalloc(g, nb * C * es);
	g->atty = dalloc(g, nb * C * es);
	g->qkv = dalloc(g, nb * 3 * C * es);
	g->fch = dalloc(g, nb * 4 * C * es);
	g->hb = dalloc(g, nb * 4 * C * es);
	g->logits = dalloc(g, nb * Vp * es);
	g->d_tok = (int *)dalloc(g, nb * sizeof(int));
	CU(cudaMallocHost((void **)&g->h_tok, nb * sizeof(int)));
	CU(cudaMallocHost(&g->h_logits_x, nb * Vp * es));
	g->h_logits = (float *)malloc(Vp * sizeof(float));
	if (!g->h_logits)
		fail(g, "out of memory");
	if (!g->broken) {
		/* weights: through a staging buffer of fp32, rounded to nearest */
		float *stage = NULL;
		CU(cudaMalloc((void **)&stage, np * sizeof(float)));
		CU(cudaMemcpy(stage, params, np * sizeof(float), cudaMemcpyHostToDevice));
		K(ck_from_float(g->t, g->w, stage, np, g->stream));
		CU(cudaStreamSynchronize(g->stream));
		if (stage)
			cudaFree(stage);
	}
	if (g->broken) {
		snprintf(why, why_len, "%s", g->err);
		cuda_infer_close(g);
		return NULL;
	}
	return g;
}

extern "C" const char *cuda_infer_error(const CudaInfer *g)
{
	return g->err;
}

extern "C" int cuda_infer_pos(const CudaInfer *g)
{
	return g->pos;
}

extern "C" void cuda_infer_rewind(CudaInfer *g, int pos)
{
	if (pos >= 0 && pos <= g->pos)
		g->pos = pos;
}

/* One chunk of n <= max_batch tokens at g->pos; logits of all n rows (all)
 * or of the last row only are left in g->logits. */
static void chunk(CudaInfer *g, int n, int all)
{
	const GPT2Config *c = &g->c;
	int L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size, maxT = c->max_seq_len;
	size_t CC = (size_t)C * C, es = g->es;
	CkType t = g->t;
	cudaStream_t s = g->stream;
	int pos = g->pos;

	CU(cudaMemcpyAsync(g->d_tok, g->h_tok, (size_t)n * sizeof(int), cudaMemcpyHostToDevice, s));
	K(ck_encoder_forward(t, g->x, g->d_tok, W(g, WTE, 0, 0), W(g, WPE, 0, 0), 1, n, C, pos, s));
	for (int l = 0; l < L; l++) {
		char *kc = (char *)g->kc + (size_t)l * maxT * C * es, *vc = (char *)g->vc + (size_t)l * maxT * C * es;
		K(ck_layernorm_forward(t, g->xb, NULL, NULL, NULL, g->x, NULL, W(g, LN1W, l, C), W(g, LN1B, l, C), n, C,
				       s));
		K(ck_matmul_forward(g->blas, t, g->qkv, NULL, g->xb, W(g, QKVW, l, 3 * CC), W(g, QKVB, l, 3 * C), n, C,
				    3 * C, s));
		K(ck_copy_rows(t, kc + (size_t)pos * C * es, C, (char *)g->qkv + (size_t)C * es, 3 * C, n, C, s));
		K(ck_copy_rows(t, vc + (size_t)pos * C * es, C, (char *)g->qkv + (size_t)2 * C * es, 3 * C, n, C, s));
		CkAttn a;
		a.q = g->qkv;
		a.k = kc;
		a.v = vc;
		a.out = g->atty;
		a.lse = NULL;
		a.q_bstride = 0;
		a.kv_bstride = 0;
		a.o_bstride = 0;
		a.q_tstride = 3 * C;
		a.kv_tstride = C;
		a.o_tstride = C;
		a.B = 1;
		a.NH = NH;
		a.hs = C / NH;
		a.Tq = n;
		a.Tk = pos + n;
		a.q_off = pos;
		K(ck_attention_forward(t, &a, s));
		K(ck_matmul_forward(g->blas, t, g->tmp, NULL, g->atty, W(g, ATTPROJW, l, CC), W(g, ATTPROJB, l, C), n,
				    C, C, s));
		K(ck_layernorm_forward(t, g->xb, NULL, NULL, g->res, g->x, g->tmp, W(g, LN2W, l, C), W(g, LN2B, l, C),
				       n, C, s));
		K(ck_matmul_forward(g->blas, t, g->hb, g->fch, g->xb, W(g, FCW, l, 4 * CC), W(g, FCB, l, 4 * C), n, C,
				    4 * C, s));
		K(ck_matmul_forward(g->blas, t, g->tmp, NULL, g->hb, W(g, FCPROJW, l, 4 * CC), W(g, FCPROJB, l, C), n,
				    4 * C, C, s));
		K(ck_residual_forward(t, g->x, g->res, g->tmp, (size_t)n * C, s));
	}
	K(ck_layernorm_forward(t, g->xb, NULL, NULL, NULL, g->x, NULL, W(g, LNFW, 0, 0), W(g, LNFB, 0, 0), n, C, s));
	if (all)
		K(ck_matmul_forward(g->blas, t, g->logits, NULL, g->xb, W(g, WTE, 0, 0), NULL, n, C, Vp, s));
	else
		K(ck_matmul_forward(g->blas, t, g->logits, NULL, (char *)g->xb + (size_t)(n - 1) * C * es,
				    W(g, WTE, 0, 0), NULL, 1, C, Vp, s));
}

static void widen(const CudaInfer *g, float *dst, const void *src, size_t n)
{
	if (g->t == CK_F32) {
		memcpy(dst, src, n * sizeof(float));
		return;
	}
	const uint16_t *h = (const uint16_t *)src;
	for (size_t i = 0; i < n; i++)
		dst[i] = ck_bits_f32((uint32_t)h[i] << 16);
}

extern "C" const float *cuda_infer_forward(CudaInfer *g, const int *tokens, int n, float *all_logits)
{
	int Vp = g->c.padded_vocab_size;
	size_t es = g->es;
	if (g->broken)
		return NULL;
	if (n < 1 || g->pos + n > g->c.max_seq_len) {
		fail(g, "%d tokens at position %d do not fit the context of %d", n, g->pos, g->c.max_seq_len);
		return NULL;
	}
	for (int done = 0; done < n && !g->broken;) {
		int k = n - done < g->max_batch ? n - done : g->max_batch;
		int last = done + k == n;
		memcpy(g->h_tok, tokens + done, (size_t)k * sizeof(int));
		chunk(g, k, all_logits != NULL);
		int rows = all_logits ? k : 1;
		CU(cudaMemcpyAsync(g->h_logits_x, g->logits, (size_t)rows * Vp * es, cudaMemcpyDeviceToHost, g->stream));
		CU(cudaStreamSynchronize(g->stream));
		if (g->broken)
			return NULL;
		if (all_logits)
			widen(g, all_logits + (size_t)done * Vp, g->h_logits_x, (size_t)k * Vp);
		if (last)
			widen(g, g->h_logits, (const char *)g->h_logits_x + (size_t)(rows - 1) * Vp * es, (size_t)Vp);
		g->pos += k;
		done += k;
	}
	return g->broken ? NULL : g->h_logits;
}
