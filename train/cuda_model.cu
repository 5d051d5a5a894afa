/* GPT-2 training on one CUDA GPU: see cuda_model.h.  The layer order and
 * the gradient flow follow gpt2.c's gpt2_forward / gpt2_backward line by
 * line, with two fusions: the residual add feeds straight into the next
 * LayerNorm (ck_layernorm_forward with b), and the classifier writes the
 * logits' gradient over the logits (ck_crossentropy). */
#include "cuda_common.h"
#include "cuda_host.h"
#include "cuda_model.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ALLOCS 64

/* GPTKIT_CUDA_PROFILE=1: an event before every launch of the model, so that
 * the time between consecutive events is one call site's time on the
 * stream (a memset that follows a launch is counted with it).  The events
 * are read whenever the host waits for the stream anyway, and the totals
 * per call site go to stderr at close.  Off, it costs one branch a launch. */
#define PROF_EVENTS 512
#define PROF_SITES 96

typedef struct {
	const char *site[PROF_EVENTS]; /* the launch's text: one string literal per call site */
	cudaEvent_t ev[PROF_EVENTS + 1];
	int n;
	const char *names[PROF_SITES];
	double ms[PROF_SITES];
	long calls[PROF_SITES];
	int nsites;
	int warm; /* the first step has ended: launches before (kernel loading, algorithm choice) are dropped */
	double total;
} Prof;

/* parameter tensor indices (gpt2.h order) */
enum { WTE, WPE, LN1W, LN1B, QKVW, QKVB, ATTPROJW, ATTPROJB, LN2W, LN2B, FCW, FCB, FCPROJW, FCPROJB, LNFW, LNFB };

struct CudaModel {
	GPT2Config c;
	int B, T, broken;
	int attn_tc; /* attention on the tensor cores */
	CkType t;
	size_t es, np, sizes[GPT2_NUM_PARAM_TENSORS], offs[GPT2_NUM_PARAM_TENSORS];
	cudaStream_t stream;
	CkBlas *blas;
	void *allocs[MAX_ALLOCS];
	int nallocs;
	size_t bytes;
	/* parameters */
	float *master, *grads, *m, *v;
	void *px; /* compute copy: master itself in fp32 */
	/* activations, per layer with a stride of B*T rows */
	void *encoded, *ln1, *qkv, *atty, *res2, *ln2, *fch, *fchg, *res3, *lnf, *logits, *tmp;
	float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd, *lnf_mean, *lnf_rstd, *lse, *losses, *scalars;
	/* backward */
	void *dres, *dln, *dqkv, *datty, *dfch;
	float *attD, *colscratch;
	double *normscratch;
	/* batch: inputs | targets | order | start | tok, on the device and pinned on the host */
	int *d_batch, *h_batch; /* h_batch: two pinned buffers, used in turn */
	cudaEvent_t batch_copied[2]; /* each buffer's last copy to the device */
	int batch_turn;
	float *h_scalars;
	void *h_logits_x;
	float *h_logits, *h_params, *h_m, *h_v, *h_grads;
	Prof *prof;
	char err[320];
};

static void prof_flush(CudaModel *cm, int step_end);

static void prof_mark(CudaModel *cm, const char *site)
{
	Prof *p = cm->prof;
	if (!p)
		return;
	if (p->n == PROF_EVENTS) { /* full: wait and fold in what is there */
		cudaStreamSynchronize(cm->stream);
		prof_flush(cm, 0);
	}
	p->site[p->n] = site;
	cudaEventRecord(p->ev[p->n++], cm->stream);
}

/* Fold the recorded launches into the totals; the stream must be idle.
 * step_end: the flush at the end of a step (a step's launches can also
 * fill the events mid-step, with gradient accumulation). */
static void prof_flush(CudaModel *cm, int step_end)
{
	Prof *p = cm->prof;
	if (!p || p->n == 0)
		return;
	cudaEventRecord(p->ev[p->n], cm->stream);
	cudaEventSynchronize(p->ev[p->n]);
	if (!p->warm) {
		p->warm = step_end;
		p->n = 0;
		return;
	}
	for (int i = 0; i < p->n; i++) {
		float ms = 0.0f;
		cudaEventElapsedTime(&ms, p->ev[i], p->ev[i + 1]);
		int k = 0;
		while (k < p->nsites && p->names[k] != p->site[i])
			k++;
		if (k == p->nsites) {
			if (k == PROF_SITES)
				continue;
			p->names[p->nsites++] = p->site[i];
		}
		p->ms[k] += ms;
		p->calls[k]++;
		p->total += ms;
	}
	p->n = 0;
}

static void prof_report(CudaModel *cm)
{
	Prof *p = cm->prof;
	if (!p || p->total <= 0)
		return;
	fprintf(stderr, "gpt-train: CUDA profile (GPTKIT_CUDA_PROFILE), %.1f ms on the stream after the first step\n",
		p->total);
	fprintf(stderr, "%10s %7s %6s  %s\n", "ms", "calls", "%", "call site");
	for (int k = 0; k < p->nsites; k++) {
		char name[96];
		snprintf(name, sizeof name, "%s", p->names[k]);
		name[strcspn(name, "(")] = 0;
		/* the first argument names the output: enough to tell the sites apart */
		const char *args = strchr(p->names[k], '(');
		char what[64] = "";
		if (args)
			snprintf(what, sizeof what, "%.*s", (int)strcspn(args + 1, ")"), args + 1);
		fprintf(stderr, "%10.2f %7ld %5.1f%%  %s(%s)\n", p->ms[k], p->calls[k], 100 * p->ms[k] / p->total, name,
			what);
	}
}

#define fail CK_FAIL
#define K(call)                         \
	do {                            \
		prof_mark(cm, #call);   \
		CK_LAUNCH(cm, call);    \
	} while (0)
#define CU(call) CK_CUDA(cm, call)

static void *dalloc(CudaModel *cm, size_t bytes)
{
	void *p = NULL;
	if (cm->broken)
		return NULL;
	if (cm->nallocs == MAX_ALLOCS) {
		fail(cm, "too many allocations");
		return NULL;
	}
	cudaError_t ce = cudaMalloc(&p, bytes ? bytes : 16);
	if (ce != cudaSuccess) {
		fail(cm, "cannot allocate %.2f GiB of GPU memory (%.2f GiB so far): %s", bytes / 1073741824.0,
		     cm->bytes / 1073741824.0, cudaGetErrorString(ce));
		return NULL;
	}
	cm->allocs[cm->nallocs++] = p;
	cm->bytes += bytes;
	return p;
}

extern "C" int cuda_device_count(char *why, size_t why_len)
{
	int n = 0;
	cudaError_t ce = cudaGetDeviceCount(&n);
	if (ce != cudaSuccess) {
		snprintf(why, why_len, "%s", cudaGetErrorString(ce));
		cudaGetLastError(); /* clear it */
		return 0;
	}
	if (n <= 0)
		snprintf(why, why_len, "no CUDA device found");
	return n;
}

/* views: element (or float) offsets of layer l of tensor i */
static void *P(const CudaModel *cm, int i, int l, size_t per)
{
	return (char *)cm->px + (cm->offs[i] + (size_t)l * per) * cm->es;
}

static float *G(const CudaModel *cm, int i, int l, size_t per)
{
	return cm->grads + cm->offs[i] + (size_t)l * per;
}

static void *A(const CudaModel *cm, void *base, int l, size_t per)
{
	return (char *)base + (size_t)l * per * cm->es;
}

extern "C" CudaModel *cuda_model_open(const GPT2Config *c, const float *params, const float *mo, const float *vo,
				      int B, int T, int precision, char *why, size_t why_len)
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
	if (c->channels / c->num_heads > 128) {
		snprintf(why, why_len, "head size %d: the CUDA attention kernel handles up to 128",
			 c->channels / c->num_heads);
		return NULL;
	}
	CudaModel *cm = (CudaModel *)calloc(1, sizeof *cm);
	if (!cm) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	cm->c = *c;
	cm->B = B;
	cm->T = T;
	cm->t = (precision & 0xFF) == CUDA_MODEL_BF16 ? CK_BF16 : CK_F32;
	cm->es = ck_sizeof(cm->t);
	cm->attn_tc = (precision & CUDA_MODEL_ATTN_TC) && ck_attention_tc_supported(cm->t, c->channels / c->num_heads);
	gpt2_param_sizes(c, cm->sizes);
	cm->np = 0;
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
		cm->offs[i] = cm->np;
		cm->np += cm->sizes[i];
	}
	CU(cudaSetDevice(0));
	CU(cudaStreamCreateWithFlags(&cm->stream, cudaStreamNonBlocking));
	const char *pe = getenv("GPTKIT_CUDA_PROFILE");
	if (pe && *pe && strcmp(pe, "0") != 0 && (cm->prof = (Prof *)calloc(1, sizeof(Prof))) != NULL)
		for (int i = 0; i <= PROF_EVENTS; i++)
			CU(cudaEventCreate(&cm->prof->ev[i]));
	if (!cm->broken && ck_blas_create(&cm->blas, reason, sizeof reason))
		fail(cm, "%s", reason);

	size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
	size_t S = (size_t)B * T, es = cm->es, np = cm->np;
	cm->master = (float *)dalloc(cm, np * 4);
	cm->grads = (float *)dalloc(cm, np * 4);
	cm->m = (float *)dalloc(cm, np * 4);
	cm->v = (float *)dalloc(cm, np * 4);
	cm->px = cm->t == CK_BF16 ? dalloc(cm, np * 2) : cm->master;
	cm->encoded = dalloc(cm, S * C * es);
	cm->ln1 = dalloc(cm, L * S * C * es);
	cm->qkv = dalloc(cm, L * S * 3 * C * es);
	cm->atty = dalloc(cm, L * S * C * es);
	cm->res2 = dalloc(cm, L * S * C * es);
	cm->ln2 = dalloc(cm, L * S * C * es);
	cm->fch = dalloc(cm, L * S * 4 * C * es);
	cm->fchg = dalloc(cm, L * S * 4 * C * es);
	cm->res3 = dalloc(cm, L * S * C * es);
	cm->lnf = dalloc(cm, S * C * es);
	cm->logits = dalloc(cm, S * Vp * es);
	cm->tmp = dalloc(cm, S * C * es);
	cm->ln1_mean = (float *)dalloc(cm, L * S * 4);
	cm->ln1_rstd = (float *)dalloc(cm, L * S * 4);
	cm->ln2_mean = (float *)dalloc(cm, L * S * 4);
	cm->ln2_rstd = (float *)dalloc(cm, L * S * 4);
	cm->lnf_mean = (float *)dalloc(cm, S * 4);
	cm->lnf_rstd = (float *)dalloc(cm, S * 4);
	cm->lse = (float *)dalloc(cm, L * S * NH * 4);
	cm->losses = (float *)dalloc(cm, S * 4);
	cm->scalars = (float *)dalloc(cm, 4 * 4);
	cm->dres = dalloc(cm, S * C * es);
	cm->dln = dalloc(cm, S * C * es);
	cm->dqkv = dalloc(cm, S * 3 * C * es);
	cm->datty = dalloc(cm, S * C * es);
	cm->dfch = dalloc(cm, S * 4 * C * es);
	cm->attD = (float *)dalloc(cm, S * NH * 4);
	cm->colscratch = (float *)dalloc(cm, ck_colsum_scratch((int)S, (int)(4 * C)) * 4);
	cm->normscratch = (double *)dalloc(cm, CK_NORM_BLOCKS * sizeof(double));
	cm->d_batch = (int *)dalloc(cm, (5 * S + 1) * sizeof(int));
	if (!cm->broken) {
		CU(cudaMallocHost((void **)&cm->h_batch, 2 * (5 * S + 1) * sizeof(int)));
		for (int i = 0; i < 2; i++)
			CU(cudaEventCreateWithFlags(&cm->batch_copied[i], cudaEventDisableTiming));
		CU(cudaMallocHost((void **)&cm->h_scalars, 4 * sizeof(float)));
		CU(cudaMallocHost(&cm->h_logits_x, Vp * es));
		cm->h_logits = (float *)malloc(Vp * sizeof(float));
		if (!cm->h_logits)
			fail(cm, "out of memory");
	}
	if (!cm->broken) {
		CU(cudaMemcpy(cm->master, params, np * 4, cudaMemcpyHostToDevice));
		if (mo)
			CU(cudaMemcpy(cm->m, mo, np * 4, cudaMemcpyHostToDevice));
		else
			CU(cudaMemset(cm->m, 0, np * 4));
		if (vo)
			CU(cudaMemcpy(cm->v, vo, np * 4, cudaMemcpyHostToDevice));
		else
			CU(cudaMemset(cm->v, 0, np * 4));
		CU(cudaMemset(cm->grads, 0, np * 4));
		if (cm->t == CK_BF16)
			K(ck_round_params(cm->px, cm->master, np, 0, cm->stream));
		CU(cudaStreamSynchronize(cm->stream));
	}
	if (cm->broken) {
		snprintf(why, why_len, "%s", cm->err);
		cuda_model_close(cm);
		return NULL;
	}
	return cm;
}

extern "C" void cuda_model_close(CudaModel *cm)
{
	if (!cm)
		return;
	if (cm->stream)
		cudaStreamSynchronize(cm->stream);
	if (cm->prof) {
		prof_flush(cm, 0);
		prof_report(cm);
		for (int i = 0; i <= PROF_EVENTS; i++)
			if (cm->prof->ev[i])
				cudaEventDestroy(cm->prof->ev[i]);
		free(cm->prof);
	}
	for (int i = 0; i < cm->nallocs; i++)
		cudaFree(cm->allocs[i]);
	if (cm->h_batch)
		cudaFreeHost(cm->h_batch);
	for (int i = 0; i < 2; i++)
		if (cm->batch_copied[i])
			cudaEventDestroy(cm->batch_copied[i]);
	if (cm->h_scalars)
		cudaFreeHost(cm->h_scalars);
	if (cm->h_logits_x)
		cudaFreeHost(cm->h_logits_x);
	free(cm->h_logits);
	free(cm->h_params);
	free(cm->h_m);
	free(cm->h_v);
	free(cm->h_grads);
	ck_blas_destroy(cm->blas);
	if (cm->stream)
		cudaStreamDestroy(cm->stream);
	free(cm);
}

extern "C" const char *cuda_model_error(const CudaModel *cm)
{
	return cm->err;
}

extern "C" size_t cuda_model_bytes(const CudaModel *cm)
{
	return cm->bytes;
}

/* Stage the batch (and, for a backward pass, the token buckets of the
 * embedding gradient) in pinned memory and send it in one copy.  The two
 * staging buffers take turns, so that the host can fill the next
 * micro-batch while the device still works on (and may not yet have
 * copied) the last one; before refilling a buffer the host waits for that
 * buffer's previous copy, which was enqueued a whole micro-batch earlier. */
static int upload_batch(CudaModel *cm, const int *inputs, const int *targets, int N, int buckets)
{
	size_t S = (size_t)cm->B * cm->T;
	int turn = cm->batch_turn;
	cm->batch_turn ^= 1;
	int *h = cm->h_batch + (size_t)turn * (5 * S + 1);
	CU(cudaEventSynchronize(cm->batch_copied[turn]));
	if (cm->broken)
		return -1;
	memcpy(h, inputs, (size_t)N * sizeof(int));
	if (targets)
		memcpy(h + S, targets, (size_t)N * sizeof(int));
	int nb = 0;
	if (buckets) {
		nb = ck_encoder_buckets(inputs, N, h + 2 * S, h + 3 * S, h + 4 * S + 1);
		if (nb < 0) {
			fail(cm, "out of memory");
			return -1;
		}
	}
	CU(cudaMemcpyAsync(cm->d_batch, h, (5 * S + 1) * sizeof(int), cudaMemcpyHostToDevice, cm->stream));
	CU(cudaEventRecord(cm->batch_copied[turn], cm->stream));
	return cm->broken ? -1 : nb;
}

static void forward(CudaModel *cm, int B, int T, int with_targets, float grad_scale, int want_grad)
{
	const GPT2Config *c = &cm->c;
	int L = c->num_layers, C = c->channels, NH = c->num_heads, V = c->vocab_size, Vp = c->padded_vocab_size;
	int N = B * T;
	size_t S = (size_t)cm->B * cm->T, SC = S * C;
	CkType t = cm->t;
	cudaStream_t s = cm->stream;
	size_t CC = (size_t)C * C;
	const int *d_in = cm->d_batch, *d_tg = cm->d_batch + S;

	K(ck_encoder_forward(t, cm->encoded, d_in, P(cm, WTE, 0, 0), P(cm, WPE, 0, 0), B, T, C, 0, s));
	K(ck_layernorm_forward(t, cm->ln1, cm->ln1_mean, cm->ln1_rstd, NULL, cm->encoded, NULL, P(cm, LN1W, 0, C),
			       P(cm, LN1B, 0, C), N, C, s));
	for (int l = 0; l < L; l++) {
		void *residual = l == 0 ? cm->encoded : A(cm, cm->res3, l - 1, SC);
		void *ln1 = A(cm, cm->ln1, l, SC), *qkv = A(cm, cm->qkv, l, 3 * SC), *atty = A(cm, cm->atty, l, SC);
		void *res2 = A(cm, cm->res2, l, SC), *ln2 = A(cm, cm->ln2, l, SC), *res3 = A(cm, cm->res3, l, SC);
		void *fch = A(cm, cm->fch, l, 4 * SC), *fchg = A(cm, cm->fchg, l, 4 * SC);
		float *lse = cm->lse + (size_t)l * S * NH;
		K(ck_matmul_forward(cm->blas, t, qkv, NULL, ln1, P(cm, QKVW, l, 3 * CC), P(cm, QKVB, l, 3 * C), N, C,
				    3 * C, s));
		if (cm->attn_tc) {
			CkAttn at;
			ck_attention_qkv_args(&at, t, atty, lse, qkv, B, T, C, NH);
			K(ck_attention_forward_tc(&at, s));
		} else {
			K(ck_attention_forward_qkv(t, atty, lse, qkv, B, T, C, NH, s));
		}
		K(ck_matmul_forward(cm->blas, t, cm->tmp, NULL, atty, P(cm, ATTPROJW, l, CC), P(cm, ATTPROJB, l, C),
				    N, C, C, s));
		K(ck_layernorm_forward(t, ln2, cm->ln2_mean + l * S, cm->ln2_rstd + l * S, res2, residual, cm->tmp,
				       P(cm, LN2W, l, C), P(cm, LN2B, l, C), N, C, s));
		K(ck_matmul_forward(cm->blas, t, fchg, fch, ln2, P(cm, FCW, l, 4 * CC), P(cm, FCB, l, 4 * C), N, C,
				    4 * C, s));
		K(ck_matmul_forward(cm->blas, t, cm->tmp, NULL, fchg, P(cm, FCPROJW, l, 4 * CC), P(cm, FCPROJB, l, C),
				    N, 4 * C, C, s));
		if (l + 1 < L)
			K(ck_layernorm_forward(t, A(cm, cm->ln1, l + 1, SC), cm->ln1_mean + (l + 1) * S,
					       cm->ln1_rstd + (l + 1) * S, res3, res2, cm->tmp, P(cm, LN1W, l + 1, C),
					       P(cm, LN1B, l + 1, C), N, C, s));
		else
			K(ck_layernorm_forward(t, cm->lnf, cm->lnf_mean, cm->lnf_rstd, res3, res2, cm->tmp,
					       P(cm, LNFW, 0, 0), P(cm, LNFB, 0, 0), N, C, s));
	}
	K(ck_matmul_forward(cm->blas, t, cm->logits, NULL, cm->lnf, P(cm, WTE, 0, 0), NULL, N, C, Vp, s));
	if (with_targets) {
		float dloss = want_grad ? grad_scale / (float)N : 0.0f;
		K(ck_crossentropy(t, cm->losses, cm->logits, d_tg, dloss, N, V, Vp, s));
		if (want_grad && dloss == 0.0f) /* a zero gradient was asked for */
			CU(cudaMemsetAsync(cm->logits, 0, (size_t)N * Vp * cm->es, s));
		K(ck_mean(cm->scalars, cm->losses, N, s));
	}
}

static void backward(CudaModel *cm, int B, int T, int nbuckets, int accumulate)
{
	const GPT2Config *c = &cm->c;
	int L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
	int N = B * T;
	size_t S = (size_t)cm->B * cm->T, SC = S * C, CC = (size_t)C * C;
	CkType t = cm->t;
	cudaStream_t s = cm->stream;
	CkBlas *h = cm->blas;
	float *cs = cm->colscratch;
	const int *order = cm->d_batch + 2 * S, *start = cm->d_batch + 3 * S, *tok = cm->d_batch + 4 * S + 1;

	if (!accumulate)
		CU(cudaMemsetAsync(cm->grads, 0, cm->np * 4, s));
	/* the head (tied to wte): the logits hold their gradient now */
	K(ck_matmul_backward_input(h, t, cm->dln, cm->logits, P(cm, WTE, 0, 0), N, C, Vp, s));
	K(ck_matmul_backward_weight(h, t, G(cm, WTE, 0, 0), cm->logits, cm->lnf, N, C, Vp, s));
	CU(cudaMemsetAsync(cm->dres, 0, (size_t)N * C * cm->es, s));
	K(ck_layernorm_backward(t, cm->dres, G(cm, LNFW, 0, 0), G(cm, LNFB, 0, 0), cs, cm->dln,
				A(cm, cm->res3, L - 1, SC), P(cm, LNFW, 0, 0), cm->lnf_mean, cm->lnf_rstd, N, C, s));
	for (int l = L - 1; l >= 0; l--) {
		void *residual = l == 0 ? cm->encoded : A(cm, cm->res3, l - 1, SC);
		void *ln1 = A(cm, cm->ln1, l, SC), *qkv = A(cm, cm->qkv, l, 3 * SC), *atty = A(cm, cm->atty, l, SC);
		void *res2 = A(cm, cm->res2, l, SC), *ln2 = A(cm, cm->ln2, l, SC);
		void *fch = A(cm, cm->fch, l, 4 * SC), *fchg = A(cm, cm->fchg, l, 4 * SC);
		float *lse = cm->lse + (size_t)l * S * NH;

		/* MLP */
		K(ck_matmul_backward_input_dgelu(h, t, cm->dfch, cm->dres, P(cm, FCPROJW, l, 4 * CC), fch, N, 4 * C, C,
						 s));
		K(ck_matmul_backward_weight(h, t, G(cm, FCPROJW, l, 4 * CC), cm->dres, fchg, N, 4 * C, C, s));
		K(ck_bias_backward(t, G(cm, FCPROJB, l, C), cs, cm->dres, N, C, s));
		K(ck_matmul_backward_input(h, t, cm->dln, cm->dfch, P(cm, FCW, l, 4 * CC), N, C, 4 * C, s));
		K(ck_matmul_backward_weight(h, t, G(cm, FCW, l, 4 * CC), cm->dfch, ln2, N, C, 4 * C, s));
		K(ck_bias_backward(t, G(cm, FCB, l, 4 * C), cs, cm->dfch, N, 4 * C, s));
		K(ck_layernorm_backward(t, cm->dres, G(cm, LN2W, l, C), G(cm, LN2B, l, C), cs, cm->dln, res2,
					P(cm, LN2W, l, C), cm->ln2_mean + l * S, cm->ln2_rstd + l * S, N, C, s));
		/* attention */
		K(ck_matmul_backward_input(h, t, cm->datty, cm->dres, P(cm, ATTPROJW, l, CC), N, C, C, s));
		K(ck_matmul_backward_weight(h, t, G(cm, ATTPROJW, l, CC), cm->dres, atty, N, C, C, s));
		K(ck_bias_backward(t, G(cm, ATTPROJB, l, C), cs, cm->dres, N, C, s));
		if (cm->attn_tc)
			K(ck_attention_backward_tc(cm->dqkv, cm->attD, cm->datty, qkv, atty, lse, B, T, C, NH, s));
		else
			K(ck_attention_backward(t, cm->dqkv, cm->attD, cm->datty, qkv, atty, lse, B, T, C, NH, s));
		K(ck_matmul_backward_input(h, t, cm->dln, cm->dqkv, P(cm, QKVW, l, 3 * CC), N, C, 3 * C, s));
		K(ck_matmul_backward_weight(h, t, G(cm, QKVW, l, 3 * CC), cm->dqkv, ln1, N, C, 3 * C, s));
		K(ck_bias_backward(t, G(cm, QKVB, l, 3 * C), cs, cm->dqkv, N, 3 * C, s));
		K(ck_layernorm_backward(t, cm->dres, G(cm, LN1W, l, C), G(cm, LN1B, l, C), cs, cm->dln, residual,
					P(cm, LN1W, l, C), cm->ln1_mean + l * S, cm->ln1_rstd + l * S, N, C, s));
	}
	K(ck_encoder_backward_wte(t, G(cm, WTE, 0, 0), cm->dres, order, start, tok, nbuckets, C, s));
	K(ck_encoder_backward_wpe(t, G(cm, WPE, 0, 0), cm->dres, B, T, C, s));
}

/* Wait for the stream with scalars[first .. first + n) copied to the same
 * places of h_scalars; -1 once broken. */
static int wait_scalars(CudaModel *cm, int first, int n)
{
	if (cm->broken)
		return -1;
	CU(cudaMemcpyAsync(cm->h_scalars + first, cm->scalars + first, n * sizeof(float), cudaMemcpyDeviceToHost,
			   cm->stream));
	CU(cudaStreamSynchronize(cm->stream));
	cudaError_t ce = cudaGetLastError();
	if (ce != cudaSuccess)
		fail(cm, "%s", cudaGetErrorString(ce));
	prof_flush(cm, 1);
	return cm->broken ? -1 : 0;
}

static float read_scalar(CudaModel *cm, int k)
{
	return wait_scalars(cm, k, 1) ? NAN : cm->h_scalars[k];
}

/* The training loop's path: no waiting until cuda_model_finish.  The mean
 * loss of each micro-batch is added to scalars[2] on the device. */
extern "C" void cuda_model_step_async(CudaModel *cm, const int *inputs, const int *targets, float grad_scale,
				      int accumulate)
{
	if (cm->broken)
		return;
	int nb = upload_batch(cm, inputs, targets, cm->B * cm->T, 1);
	if (nb < 0)
		return;
	forward(cm, cm->B, cm->T, 1, grad_scale, 1);
	backward(cm, cm->B, cm->T, nb, accumulate);
	K(ck_scalar_add(cm->scalars + 2, cm->scalars, accumulate, cm->stream));
}

extern "C" float cuda_model_step(CudaModel *cm, const int *inputs, const int *targets, float grad_scale,
				 int accumulate)
{
	cuda_model_step_async(cm, inputs, targets, grad_scale, accumulate);
	return read_scalar(cm, 0);
}

/* AdamW over every tensor: the gradients scaled by grad_mult, or with norm
 * by the clip factor taken on the device (ck_adamw). */
static void adamw_all(CudaModel *cm, float lr, float beta1, float beta2, float eps, float weight_decay,
		      float grad_mult, const float *norm, float clip, int t)
{
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS && !cm->broken; i++) {
		size_t o = cm->offs[i];
		float wd = gpt2_param_decays(i) ? weight_decay : 0.0f;
		void *px = cm->t == CK_BF16 ? (char *)cm->px + o * 2 : NULL;
		K(ck_adamw(cm->master + o, px, cm->grads + o, cm->m + o, cm->v + o, cm->sizes[i], o, lr, beta1, beta2,
			   eps, wd, grad_mult, norm, clip, t, cm->stream));
	}
}

extern "C" void cuda_model_update_clip(CudaModel *cm, float lr, float beta1, float beta2, float eps,
				       float weight_decay, float clip, int t)
{
	K(ck_norm(cm->scalars + 1, cm->normscratch, cm->grads, cm->np, cm->stream));
	adamw_all(cm, lr, beta1, beta2, eps, weight_decay, 1.0f, cm->scalars + 1, clip, t);
}

extern "C" int cuda_model_finish(CudaModel *cm, float *loss_sum, float *norm)
{
	*loss_sum = *norm = NAN;
	if (wait_scalars(cm, 1, 2))
		return -1;
	*norm = cm->h_scalars[1];
	*loss_sum = cm->h_scalars[2];
	return 0;
}

extern "C" float cuda_model_loss(CudaModel *cm, const int *inputs, const int *targets)
{
	if (cm->broken)
		return NAN;
	if (upload_batch(cm, inputs, targets, cm->B * cm->T, 0) < 0)
		return NAN;
	forward(cm, cm->B, cm->T, 1, 0.0f, 0);
	return read_scalar(cm, 0);
}

extern "C" float cuda_model_grad_norm(CudaModel *cm)
{
	if (cm->broken)
		return NAN;
	K(ck_norm(cm->scalars + 1, cm->normscratch, cm->grads, cm->np, cm->stream));
	return read_scalar(cm, 1);
}

extern "C" int cuda_model_update(CudaModel *cm, float lr, float beta1, float beta2, float eps, float weight_decay,
				 float grad_mult, int t)
{
	adamw_all(cm, lr, beta1, beta2, eps, weight_decay, grad_mult, NULL, 0.0f, t);
	return cm->broken ? -1 : 0;
}

static float bf16_bits_to_float(uint16_t h)
{
	return ck_bits_f32((uint32_t)h << 16);
}

extern "C" const float *cuda_model_logits(CudaModel *cm, const int *tokens, int n)
{
	int Vp = cm->c.padded_vocab_size;
	if (cm->broken || n < 1 || n > cm->T)
		return NULL;
	if (upload_batch(cm, tokens, NULL, n, 0) < 0)
		return NULL;
	forward(cm, 1, n, 0, 0.0f, 0);
	CU(cudaMemcpyAsync(cm->h_logits_x, (char *)cm->logits + (size_t)(n - 1) * Vp * cm->es, (size_t)Vp * cm->es,
			   cudaMemcpyDeviceToHost, cm->stream));
	CU(cudaStreamSynchronize(cm->stream));
	if (cm->broken)
		return NULL;
	for (int i = 0; i < Vp; i++)
		cm->h_logits[i] = cm->t == CK_BF16 ? bf16_bits_to_float(((const uint16_t *)cm->h_logits_x)[i])
						   : ((const float *)cm->h_logits_x)[i];
	return cm->h_logits;
}

static const float *to_host(CudaModel *cm, float **buf, const float *src)
{
	if (cm->broken)
		return NULL;
	if (!*buf && !(*buf = (float *)malloc(cm->np * sizeof(float)))) {
		fail(cm, "out of memory for a host copy of %zu parameters", cm->np);
		return NULL;
	}
	CU(cudaMemcpyAsync(*buf, src, cm->np * sizeof(float), cudaMemcpyDeviceToHost, cm->stream));
	CU(cudaStreamSynchronize(cm->stream));
	prof_flush(cm, 0); /* before the checkpoint is written: that time is not the stream's */
	return cm->broken ? NULL : *buf;
}

extern "C" const float *cuda_model_params(CudaModel *cm) { return to_host(cm, &cm->h_params, cm->master); }
extern "C" const float *cuda_model_adam_m(CudaModel *cm) { return to_host(cm, &cm->h_m, cm->m); }
extern "C" const float *cuda_model_adam_v(CudaModel *cm) { return to_host(cm, &cm->h_v, cm->v); }
extern "C" const float *cuda_model_grads(CudaModel *cm) { return to_host(cm, &cm->h_grads, cm->grads); }
