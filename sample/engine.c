/* The inference engine; see engine.h.  Reads top to bottom: loading, the
 * state, the forward pass. */
#include "engine.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "attend.h"
#include "hf.h"
#include "layers.h"
#include "vmath.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22 /* Linux 5.14; older kernels say EINVAL */
#endif

/* ------------------------------------------------------------------ loading */

/* The five matrices that are held in bf16 (indices in gpt2.h's order). */
static const int matrix_ids[5] = { 0, 4, 6, 10, 12 };

static int is_matrix(int i)
{
	return i == 0 || i == 4 || i == 6 || i == 10 || i == 12;
}

/* Point m's tensors at an fp32 or a bf16 parameter array (exactly one set),
 * converting what dtype needs; f32_owned says f32 is malloc'd and now ours. */
static int setup(Model *m, float *f32, int f32_owned, const uint16_t *b16, Error *e)
{
	const GPT2Config *c = &m->config;
	size_t sizes[GPT2_NUM_PARAM_TENSORS], total = gpt2_num_params(c);
	gpt2_param_sizes(c, sizes);
	if (m->dtype == MODEL_F32) {
		if (!f32) {
			f32 = malloc(total * sizeof(float));
			if (!f32)
				return err_set(e, "out of memory for %zu parameters", total);
			#pragma omp parallel for schedule(static)
			for (size_t i = 0; i < total; i++)
				f32[i] = ckpt_bf16_to_f32(b16[i]);
			f32_owned = 1;
		}
		gpt2_params_point(&m->w, f32, c);
		if (f32_owned)
			m->own_f32 = f32;
		return 0;
	}
	/* bf16: the matrices in bf16, everything else in fp32 */
	size_t nvec = 0, nmat = 0;
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++)
		*(is_matrix(i) ? &nmat : &nvec) += sizes[i];
	m->own_f32 = malloc(nvec * sizeof(float));
	if (!b16)
		m->own_bf16 = malloc(nmat * sizeof(uint16_t));
	if (!m->own_f32 || (!b16 && !m->own_bf16)) {
		if (f32_owned)
			free(f32);
		return err_set(e, "out of memory for %zu parameters", total);
	}
	float **vec = (float **)&m->w;
	uint16_t **mat[5] = { &m->wte16, &m->qkvw16, &m->attprojw16, &m->fcw16, &m->fcprojw16 };
	size_t src = 0, vo = 0, mo = 0;
	for (int i = 0, k = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
		size_t n = sizes[i];
		if (is_matrix(i)) {
			uint16_t *dst;
			if (b16) {
				dst = (uint16_t *)b16 + src;
			} else {
				dst = m->own_bf16 + mo;
				#pragma omp parallel for schedule(static)
				for (size_t j = 0; j < n; j++)
					dst[j] = ckpt_f32_to_bf16(f32[src + j]);
				mo += n;
			}
			*mat[k++] = dst;
			vec[i] = NULL;
		} else {
			float *dst = m->own_f32 + vo;
			for (size_t j = 0; j < n; j++)
				dst[j] = f32 ? f32[src + j] : ckpt_bf16_to_f32(b16[src + j]);
			vec[i] = dst;
			vo += n;
		}
		src += n;
	}
	(void)matrix_ids;
	if (f32_owned)
		free(f32);
	return 0;
}

int model_load(Model *m, const char *path, ModelDtype dtype, Error *e)
{
	memset(m, 0, sizeof *m);
	m->dtype = dtype;
	if (hf_is_model_path(path)) {
		float *params;
		if (hf_load(path, &m->config, &params, e))
			return -1;
		return setup(m, params, 1, NULL, e);
	}
	if (ckpt_map(&m->map, path, e))
		return -1;
	m->mapped = 1;
	m->config = m->map.config;
	m->ckpt_version = m->map.version;
	/* fault the whole mapping in now, at load time, not page by page in
	 * the first forward pass (a 500 MB checkpoint is 120k page faults:
	 * most of the first prompt pass's time otherwise) */
	if (madvise(m->map.map, m->map.map_len, MADV_POPULATE_READ))
		madvise(m->map.map, m->map.map_len, MADV_WILLNEED);
	int rc = setup(m, (float *)m->map.params_f32, 0, m->map.params_bf16, e);
	if (rc == 0 && (m->own_f32 || m->own_bf16) && !(dtype == MODEL_BF16 && m->map.params_bf16) &&
	    !(dtype == MODEL_F32 && m->map.params_f32)) {
		/* everything was copied: the file is no longer needed */
		ckpt_unmap(&m->map);
		m->mapped = 0;
	}
	if (rc)
		model_free(m);
	return rc;
}

int model_from_params(Model *m, const GPT2Config *c, const float *params, ModelDtype dtype, Error *e)
{
	memset(m, 0, sizeof *m);
	m->dtype = dtype;
	m->config = *c;
	size_t n = gpt2_num_params(c);
	float *copy = malloc(n * sizeof(float));
	if (!copy)
		return err_set(e, "out of memory for %zu parameters", n);
	memcpy(copy, params, n * sizeof(float));
	return setup(m, copy, 1, NULL, e);
}

double model_bytes_per_token(const Model *m)
{
	const GPT2Config *c = &m->config;
	double C = c->channels, L = c->num_layers, esz = m->dtype == MODEL_BF16 ? 2 : 4;
	return (L * 12 * C * C + (double)c->vocab_size * C) * esz + (L * 13 * C + 2 * C) * 4;
}

void model_free(Model *m)
{
	free(m->own_f32);
	free(m->own_bf16);
	if (m->mapped)
		ckpt_unmap(&m->map);
	memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ state */

/* The decode threads: see team_main and barrier_wait. */
struct EngineTeam {
	Engine *s;
	int n;                      /* threads in a step, the caller's included */
	pthread_t *th;              /* the n - 1 others (th[1..]) */
	struct TeamArg { struct EngineTeam *t; int id; } *args;
	pthread_mutex_t mu;         /* with cv: where idle threads sleep */
	pthread_cond_t cv;
	_Atomic int step, quit;     /* step: bumped to start one */
	_Atomic int count, gen;     /* the barrier */
	_Atomic int next[];         /* the next chunk of each product of a step */
};

static void *team_main(void *arg);

/* Touch every buffer (page faults), start OpenMP's threads and let
 * OpenBLAS set up its buffers in each, now rather than in the first prompt
 * pass, which gpt-sample times: that pass ran at about 60% of the speed of
 * later ones. */
static void warm(Engine *s, size_t kv, size_t bc, size_t b4c, size_t V, size_t wscratch)
{
	size_t esz = s->kcache ? sizeof(float) : sizeof(uint16_t);
	memset(s->kcache ? (void *)s->kcache : (void *)s->kcache16, 0, kv * esz);
	memset(s->vcache ? (void *)s->vcache : (void *)s->vcache16, 0, kv * esz);
	float *bufs[] = { s->x, s->xb, s->atty, s->tmp };
	for (int i = 0; i < 4; i++)
		memset(bufs[i], 0, bc * sizeof(float));
	memset(s->qkv, 0, bc * 3 * sizeof(float));
	memset(s->hb, 0, b4c * sizeof(float));
	memset(s->logits, 0, V * sizeof(float));
	if (wscratch)
		memset(s->wscratch, 0, wscratch * sizeof(float));
	#pragma omp parallel
	{
		float a[16 * 16] = { 0 }, b[16 * 16] = { 0 }, c[16 * 16];
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 16, 16, 16, 1.0f, a, 16, b, 16, 0.0f, c, 16);
	}
}

/* Start the decode threads (they wait for the first step). */
static int team_start(Engine *s, struct EngineTeam *t)
{
	t->s = s;
	t->n = s->att_threads;
	t->th = malloc((size_t)t->n * sizeof *t->th);
	t->args = malloc((size_t)t->n * sizeof *t->args);
	if (!t->th || !t->args) {
		free(t->th);
		free(t->args);
		return -1;
	}
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	for (int i = 1; i < t->n; i++) {
		t->args[i] = (struct TeamArg){ t, i };
		if (pthread_create(&t->th[i], NULL, team_main, &t->args[i])) {
			t->n = i; /* run with the threads there are */
			break;
		}
	}
	return 0;
}

static void team_stop(struct EngineTeam *t)
{
	pthread_mutex_lock(&t->mu);
	atomic_store(&t->quit, 1);
	atomic_fetch_add(&t->step, 1);
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
	for (int i = 1; i < t->n; i++)
		pthread_join(t->th[i], NULL);
	pthread_mutex_destroy(&t->mu);
	pthread_cond_destroy(&t->cv);
	free(t->th);
	free(t->args);
}

int engine_init(Engine *s, const Model *m, int max_batch, Error *e)
{
	memset(s, 0, sizeof *s);
	const GPT2Config *c = &m->config;
	size_t C = c->channels, L = c->num_layers, T = c->max_seq_len, B = max_batch < 1 ? 1 : max_batch;
	s->m = m;
	s->kern = kern_detect();
	/* the batched pass shares out BLAS calls among OpenMP threads itself */
	openblas_set_num_threads(1);
	s->max_batch = (int)B;
	s->att_threads = omp_get_max_threads();
	/* with bf16 weights the cache is bf16 too: in fp32, at 1000 positions
	 * of GPT-2 124M, it is 74 MB a token against 247 MB of bf16 matrices.
	 * Old (fp32 cache) and new binaries interleaved 6 times: 200 tokens
	 * after an 800-token prompt 1.00-1.24x (median 1.15), 64 after 128
	 * 0.96-1.10x (median 1.04) */
	int kv16 = m->dtype == MODEL_BF16;
	if (kv16) {
		s->kcache16 = malloc(L * T * C * sizeof(uint16_t));
		s->vcache16 = malloc(L * T * C * sizeof(uint16_t));
		s->kvwide = malloc((size_t)s->att_threads * 2 * T * (C / c->num_heads) * sizeof(float));
	} else {
		s->kcache = malloc(L * T * C * sizeof(float));
		s->vcache = malloc(L * T * C * sizeof(float));
	}
	s->x = malloc(B * C * sizeof(float));
	s->xb = malloc(B * C * sizeof(float));
	s->qkv = malloc(B * 3 * C * sizeof(float));
	s->atty = malloc(B * C * sizeof(float));
	s->tmp = malloc(B * C * sizeof(float));
	s->hb = malloc(B * 4 * C * sizeof(float));
	s->mean = malloc(B * sizeof(float));
	s->rstd = malloc(B * sizeof(float));
	s->att = malloc((size_t)s->att_threads * T * sizeof(float));
	s->scores = malloc((size_t)s->att_threads * B * T * sizeof(float));
	s->logits = malloc((size_t)c->vocab_size * sizeof(float));
	s->xs = malloc(4 * C * sizeof(uint16_t) + 64);
	s->lnt = malloc((size_t)s->att_threads * C * sizeof(float));
	s->xst = malloc((size_t)s->att_threads * 4 * C * sizeof(uint16_t));
	s->team = calloc(1, sizeof *s->team + (4 * L + 1) * sizeof(_Atomic int));
	if (s->team && team_start(s, s->team)) {
		free(s->team);
		s->team = NULL;
	}
	if (m->dtype == MODEL_BF16 && B > 1)
		s->wscratch = malloc(4 * C * C * sizeof(float));
	if ((kv16 ? !s->kcache16 || !s->vcache16 || !s->kvwide : !s->kcache || !s->vcache) || !s->x || !s->xb || !s->qkv || !s->atty || !s->tmp || !s->hb ||
	    !s->mean || !s->rstd || !s->att || !s->scores || !s->logits || !s->xs ||
	    !s->lnt || !s->xst || !s->team || (m->dtype == MODEL_BF16 && B > 1 && !s->wscratch)) {
		engine_free(s);
		return err_set(e, "out of memory for the KV cache and activations");
	}
	warm(s, L * T * C, B * C, B * 4 * C, (size_t)c->vocab_size, m->dtype == MODEL_BF16 && B > 1 ? 4 * C * C : 0);
	return 0;
}

void engine_free(Engine *s)
{
	free(s->kcache);
	free(s->vcache);
	free(s->kcache16);
	free(s->vcache16);
	free(s->kvwide);
	free(s->x);
	free(s->xb);
	free(s->qkv);
	free(s->atty);
	free(s->tmp);
	free(s->hb);
	free(s->mean);
	free(s->rstd);
	free(s->att);
	free(s->scores);
	free(s->logits);
	free(s->wscratch);
	free(s->xs);
	free(s->lnt);
	free(s->xst);
	if (s->team)
		team_stop(s->team);
	free(s->team);
	memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------------ forward */

/* out (n, OC) = inp (n, C) W^T + bias with W either fp32 or bf16. */
static void mm(Engine *s, float *out, const float *inp, const float *W, const uint16_t *W16,
	       const float *bias, int n, int C, int OC)
{
	if (W16) {
		if (n == 1)
			kern_matvec_bf16(s->kern, out, inp, W16, bias, C, OC, s->xs);
		else
			kern_matmul_bf16(out, inp, W16, bias, n, C, OC, s->wscratch);
	} else {
		if (n == 1)
			kern_matvec_f32(s->kern, out, inp, W, bias, C, OC);
		else
			kern_matmul_f32(out, inp, W, bias, n, C, OC);
	}
}

/* Where head h's key (value) of position t in layer l lies in the cache:
 * (L, NH, maxT, hs), so that one head's keys are one contiguous stream (a
 * (maxT, C) layout strides 3 KB between them, which the hardware
 * prefetchers do not follow: attention was latency-bound). */
static inline size_t kv_at(const GPT2Config *c, int l, int h, int t)
{
	int hs = c->channels / c->num_heads;
	return (((size_t)l * c->num_heads + h) * c->max_seq_len + t) * hs;
}

#define PFT 8

/* Store the key and value of head h at position t of layer l. */
static void kv_store(Engine *s, int l, int h, int t, const float *k, const float *v)
{
	const GPT2Config *c = &s->m->config;
	int hs = c->channels / c->num_heads;
	size_t at = kv_at(c, l, h, t);
	if (s->kcache16) {
		for (int j = 0; j < hs; j++) {
			s->kcache16[at + j] = ckpt_f32_to_bf16(k[j]);
			s->vcache16[at + j] = ckpt_f32_to_bf16(v[j]);
		}
	} else {
		memcpy(s->kcache + at, k, hs * sizeof(float));
		memcpy(s->vcache + at, v, hs * sizeof(float));
	}
}

/* Head h's keys and values of layer l at positions 0..n-1 as fp32: the
 * cache itself, or a bf16 cache widened into thread tid's scratch. */
static void kv_wide(Engine *s, int l, int h, int n, int tid, const float **K, const float **V)
{
	const GPT2Config *c = &s->m->config;
	int hs = c->channels / c->num_heads;
	size_t at = kv_at(c, l, h, 0);
	if (!s->kcache16) {
		*K = s->kcache + at;
		*V = s->vcache + at;
		return;
	}
	float *k = s->kvwide + (size_t)tid * 2 * c->max_seq_len * hs, *v = k + (size_t)c->max_seq_len * hs;
	for (size_t j = 0; j < (size_t)n * hs; j++) {
		k[j] = ckpt_bf16_to_f32(s->kcache16[at + j]);
		v[j] = ckpt_bf16_to_f32(s->vcache16[at + j]);
	}
	*K = k;
	*V = v;
}

/* Attention of the query at row i (position pos + i) in head h over the
 * cache of layer l up to that position, on thread tid's scratch. */
static void attend_head(Engine *s, int l, int i, int h, int tid)
{
	const GPT2Config *c = &s->m->config;
	int C = c->channels, hs = C / c->num_heads, p = s->pos + i;
	const float *q = s->qkv + (size_t)i * 3 * C + h * hs;
	float *out = s->atty + (size_t)i * C + h * hs, *att = s->att + (size_t)tid * c->max_seq_len;
	float scale = 1.0f / sqrtf((float)hs);
	size_t at = kv_at(c, l, h, 0);
	if (s->kcache16 ? kern_attend_bf16(s->kern, out, q, s->kcache16 + at, s->vcache16 + at, p + 1, hs, scale)
			: kern_attend_f32(s->kern, out, q, s->kcache + at, s->vcache + at, p + 1, hs, scale))
		return;
	/* the portable way, in three passes */
	const float *kc, *vc;
	kv_wide(s, l, h, p + 1, tid, &kc, &vc);
	for (int t = 0; t < PFT && t <= p; t++)
		for (int j = 0; j < hs; j += 16) {
			__builtin_prefetch(kc + (size_t)t * hs + j);
			__builtin_prefetch(vc + (size_t)t * hs + j);
		}
	/* one head's keys and values are two sequential streams of (p + 1) x hs
	 * floats, read once per token, from memory (the cache of 12 layers
	 * outgrows L2 after ~30 positions): prefetching PFT positions ahead took
	 * attention from 8.1% to 7.1% of a 200-token decode */
	for (int t = 0; t <= p; t++) {
		const float *k = kc + (size_t)t * hs;
		for (int j = 0; j < hs; j += 16) {
			__builtin_prefetch(k + PFT * hs + j);
			__builtin_prefetch(vc + (size_t)(t + PFT) * hs + j); /* V too: two streams in flight */
		}
		float d = 0.0f;
		#pragma omp simd reduction(+:d)
		for (int j = 0; j < hs; j++)
			d += q[j] * k[j];
		att[t] = d * scale;
	}
	causal_softmax_row(att, p, p + 1);
	for (int j = 0; j < hs; j++)
		out[j] = 0.0f;
	for (int t = 0; t <= p; t++) {
		const float *v = vc + (size_t)t * hs;
		for (int j = 0; j < hs; j += 16)
			__builtin_prefetch(v + PFT * hs + j);
		float a = att[t];
		#pragma omp simd
		for (int j = 0; j < hs; j++)
			out[j] += a * v[j];
	}
}

/* Causal attention of n new positions as matrix products, per head and
 * block of ATT_ROWS rows (tasks shared out among the threads, the largest
 * first): S = Q K^T / sqrt(hs) over the keys the block can see, a softmax of
 * each row under the causal mask, O = S V.  For a 128-token prompt this is
 * a third of the time of attend_head over every (position, head), though
 * it multiplies the masked part of the diagonal block; over all the keys
 * for every row, a 1000-token prompt spent a fifth of its time here. */
#define ATT_ROWS 128

static void attention_gemm(Engine *s, int l, int n)
{
	const GPT2Config *c = &s->m->config;
	int C = c->channels, NH = c->num_heads, hs = C / NH, pos = s->pos, nblk = (n + ATT_ROWS - 1) / ATT_ROWS;
	float scale = 1.0f / sqrtf((float)hs);
	#pragma omp parallel for schedule(dynamic, 1)
	for (int task = 0; task < NH * nblk; task++) {
		int h = task / nblk, blk = nblk - 1 - task % nblk;
		int r0 = blk * ATT_ROWS, r1 = r0 + ATT_ROWS < n ? r0 + ATT_ROWS : n, nr = r1 - r0, m = pos + r1;
		int tid = omp_get_thread_num();
		float *S = s->scores + (size_t)tid * s->max_batch * c->max_seq_len;
		const float *K, *V;
		kv_wide(s, l, h, m, tid, &K, &V);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, m, hs, scale, s->qkv + (size_t)r0 * 3 * C + h * hs,
			    3 * C, K, hs, 0.0f, S, m);
		for (int i = 0; i < nr; i++)
			causal_softmax_row(S + (size_t)i * m, pos + r0 + i, m);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nr, hs, m, 1.0f, S, m, V, hs, 0.0f,
			    s->atty + (size_t)r0 * C + h * hs, C);
	}
}

/* Causal attention of n new positions (pos..pos+n-1) over the cache of layer l. */
static void attention(Engine *s, int l, int n)
{
	const GPT2Config *c = &s->m->config;
	int NH = c->num_heads;
	if (n >= 16) {
		attention_gemm(s, l, n);
		return;
	}
	#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * (s->pos + n) * c->channels > 32768)
	for (int i = 0; i < n; i++)
		for (int h = 0; h < NH; h++)
			attend_head(s, l, i, h, omp_get_thread_num());
}

/* One row: no thread team for 768 numbers (a parallel region costs more). */
static void layernorm_row(float *out, const float *x, const float *w, const float *b, int C)
{
	float m = 0.0f, v = 0.0f;
	#pragma omp simd reduction(+:m)
	for (int i = 0; i < C; i++)
		m += x[i];
	m /= C;
	#pragma omp simd reduction(+:v)
	for (int i = 0; i < C; i++)
		v += (x[i] - m) * (x[i] - m);
	v /= C;
	float r = 1.0f / sqrtf(v + 1e-5f);
	#pragma omp simd
	for (int i = 0; i < C; i++)
		out[i] = (x[i] - m) * r * w[i] + b[i];
}

static void layernorm(Engine *s, float *out, const float *x, const float *w, const float *b, int n, int C)
{
	if (n == 1)
		layernorm_row(out, x, w, b, C);
	else
		layernorm_forward(out, s->mean, s->rstd, x, w, b, 1, n, C);
}


static void gelu(float *x, size_t n)
{
	if (n > 8192) {
		gelu_forward(x, x, n);
		return;
	}
	const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
	#pragma omp simd
	for (size_t i = 0; i < n; i++) {
		float v = x[i];
		x[i] = 0.5f * v * (1.0f + vtanh(k * (v + 0.044715f * v * v * v)));
	}
}

static void add_into(float *x, const float *y, size_t n)
{
	#pragma omp parallel for simd schedule(static) if (n > 4096)
	for (size_t i = 0; i < n; i++)
		x[i] += y[i];
}

static void logits_row(Engine *s, float *out, const float *xrow)
{
	const Model *m = s->m;
	int C = m->config.channels, V = m->config.vocab_size;
	if (m->dtype == MODEL_BF16)
		kern_matvec_bf16(s->kern, out, xrow, m->wte16, NULL, C, V, s->xs);
	else
		kern_matvec_f32(s->kern, out, xrow, m->w.wte, NULL, C, V);
}

/* ------------------------------------------------------------------ decode */

/* One decoded token is ~50 matrix-vector products and the attention of 12
 * layers: the engine's own threads (not OpenMP's) share out every
 * product's rows and the heads, meeting at this barrier five times a layer.
 * libgomp's barrier, under the OMP_WAIT_POLICY=passive that gpt-sample sets
 * for busy machines, sleeps in the kernel at once; this one spins for a few
 * microseconds (the other thread is usually that close) and then yields
 * the core.  A parallel region per token cost as much again: its worker
 * slept between tokens and waking it (a halted vCPU) took about a
 * millisecond a token (fp32 54 against 66 tokens/s with libgomp left
 * spinning). */
#define SPINS 2000

static void barrier_wait(struct EngineTeam *b, int n)
{
	if (n == 1)
		return;
	int g = atomic_load_explicit(&b->gen, memory_order_acquire);
	if (atomic_fetch_add_explicit(&b->count, 1, memory_order_acq_rel) == n - 1) {
		atomic_store_explicit(&b->count, 0, memory_order_relaxed);
		atomic_store_explicit(&b->gen, g + 1, memory_order_release);
		return;
	}
	for (int spin = 0; atomic_load_explicit(&b->gen, memory_order_acquire) == g; spin++) {
		if (spin < SPINS) {
#if defined(__x86_64__)
			__builtin_ia32_pause();
#endif
		} else {
			sched_yield();
		}
	}
}

/* Rows are handed out in chunks taken in order from a counter per product
 * (op), not split in fixed halves: on a shared machine a thread that loses
 * its core for a while would otherwise hold the other up at every barrier.
 * Chunks shrink as the rows run out (a quarter of what is left for two
 * threads, down to about 32 KB of weights and at least the kernel's 8
 * streams), so that they are long streams at first and the threads reach
 * the barrier within microseconds of each other.  Measured on the quiet
 * 2-core VM against fixed halves and against fixed 256 KB chunks: 74
 * against 66 and 71 fp32 tokens/s. */
static int take_rows(_Atomic int *next, int OC, int nt, int min, int *r0)
{
	int cur = atomic_load_explicit(next, memory_order_relaxed);
	for (;;) {
		if (cur >= OC)
			return 0;
		int n = (OC - cur) / (2 * nt);
		n = n < min ? min : (n + 7) / 8 * 8;
		n = cur + n > OC ? OC - cur : n;
		if (atomic_compare_exchange_weak_explicit(next, &cur, cur + n, memory_order_relaxed,
							  memory_order_relaxed)) {
			*r0 = cur;
			return n;
		}
	}
}

/* out (+)= W x + bias over the rows this thread takes (W fp32 or bf16, OC x
 * C), with GELU on them when act. */
static void mv_rows(Engine *s, int op, float *out, const float *x, const float *W, const uint16_t *W16,
		    const float *bias, int C, int OC, int acc, int act, int id, int nt)
{
	uint16_t *xs = s->xst + (size_t)id * 4 * s->m->config.channels;
	if (W16)
		kern_bf16_prepare(s->kern, xs, x, C);
	int min = (32768 / (C * (W16 ? 2 : 4)) + 7) / 8 * 8;
	int r0, n;
	while ((n = take_rows(&s->team->next[op], OC, nt, min < 8 ? 8 : min, &r0)) > 0) {
		if (W16)
			kern_matvec_bf16_rows(s->kern, out, x, xs, W16, bias, C, r0, r0 + n, acc);
		else
			kern_matvec_f32_rows(s->kern, out, x, W, bias, C, r0, r0 + n, acc);
		if (act)
			gelu(out + r0, (size_t)n);
	}
}

/* Thread id's share of one token at position s->pos (s->x holds its
 * embedding); the last position's logits into s->logits. */
static void decode_share(Engine *s, int id, int nt)
{
	const Model *m = s->m;
	const GPT2Config *c = &m->config;
	const GPT2Params *w = &m->w;
	int C = c->channels, L = c->num_layers, NH = c->num_heads, hs = C / NH;
	size_t CC = (size_t)C * C;
	int bf = m->dtype == MODEL_BF16;
	float *xb = s->lnt + (size_t)id * C; /* layernorm output: each thread its own copy */
	struct EngineTeam *bar = s->team;

	for (int l = 0; l < L; l++) {
		int op = 4 * l;
		layernorm_row(xb, s->x, w->ln1w + l * C, w->ln1b + l * C, C);
		mv_rows(s, op, s->qkv, xb, bf ? NULL : w->qkvw + l * 3 * CC, bf ? m->qkvw16 + l * 3 * CC : NULL,
			w->qkvb + l * 3 * C, C, 3 * C, 0, 0, id, nt);
		barrier_wait(bar, nt);
		for (int h = id; h < NH; h += nt) {
			kv_store(s, l, h, s->pos, s->qkv + C + h * hs, s->qkv + 2 * C + h * hs);
			attend_head(s, l, 0, h, id);
		}
		barrier_wait(bar, nt);
		mv_rows(s, op + 1, s->x, s->atty, bf ? NULL : w->attprojw + l * CC, bf ? m->attprojw16 + l * CC : NULL,
			w->attprojb + l * C, C, C, 1, 0, id, nt);
		barrier_wait(bar, nt);
		layernorm_row(xb, s->x, w->ln2w + l * C, w->ln2b + l * C, C);
		mv_rows(s, op + 2, s->hb, xb, bf ? NULL : w->fcw + l * 4 * CC, bf ? m->fcw16 + l * 4 * CC : NULL,
			w->fcb + l * 4 * C, C, 4 * C, 0, 1, id, nt);
		barrier_wait(bar, nt);
		mv_rows(s, op + 3, s->x, s->hb, bf ? NULL : w->fcprojw + l * 4 * CC,
			bf ? m->fcprojw16 + l * 4 * CC : NULL, w->fcprojb + l * C, 4 * C, C, 1, 0, id, nt);
		barrier_wait(bar, nt);
	}
	/* the tied head, the largest matrix, shared out like the others */
	layernorm_row(xb, s->x, w->lnfw, w->lnfb, C);
	mv_rows(s, 4 * L, s->logits, xb, bf ? NULL : w->wte, bf ? m->wte16 : NULL, NULL, C, c->vocab_size, 0, 0, id, nt);
	barrier_wait(bar, nt);
}

static void embed(Engine *s, float *x, int tok, int pos)
{
	const Model *m = s->m;
	int C = m->config.channels;
	const float *pe = m->w.wpe + (size_t)pos * C;
	if (m->dtype == MODEL_BF16) {
		const uint16_t *te = m->wte16 + (size_t)tok * C;
		for (int j = 0; j < C; j++)
			x[j] = ckpt_bf16_to_f32(te[j]) + pe[j];
	} else {
		const float *te = m->w.wte + (size_t)tok * C;
		for (int j = 0; j < C; j++)
			x[j] = te[j] + pe[j];
	}
}

/* The other threads of the team: wait for a step (spinning for a while,
 * since the next token comes after only the sampler's work, then asleep),
 * take a share, repeat. */
#define IDLE_SPINS 20000

static void *team_main(void *arg)
{
	struct EngineTeam *t = ((struct TeamArg *)arg)->t;
	int id = ((struct TeamArg *)arg)->id, seen = 0;
	for (;;) {
		int g;
		for (int spin = 0; (g = atomic_load_explicit(&t->step, memory_order_acquire)) == seen; spin++) {
			if (spin < IDLE_SPINS) {
#if defined(__x86_64__)
				__builtin_ia32_pause();
#endif
				continue;
			}
			pthread_mutex_lock(&t->mu);
			while (atomic_load(&t->step) == seen)
				pthread_cond_wait(&t->cv, &t->mu);
			pthread_mutex_unlock(&t->mu);
		}
		seen = g;
		if (atomic_load(&t->quit))
			return NULL;
		decode_share(t->s, id, t->n);
	}
}

static void forward_one(Engine *s, int tok, float *logits_out)
{
	struct EngineTeam *t = s->team;
	embed(s, s->x, tok, s->pos);
	for (int i = 0; i <= 4 * s->m->config.num_layers; i++)
		atomic_store_explicit(&t->next[i], 0, memory_order_relaxed);
	if (t->n > 1) {
		pthread_mutex_lock(&t->mu);
		atomic_fetch_add_explicit(&t->step, 1, memory_order_release);
		pthread_cond_broadcast(&t->cv);
		pthread_mutex_unlock(&t->mu);
	}
	decode_share(s, 0, t->n);
	if (logits_out)
		memcpy(logits_out, s->logits, s->m->config.vocab_size * sizeof(float));
	s->pos++;
}

/* ------------------------------------------------------------------ prompt */

static void forward_batch(Engine *s, const int *tok, int n, float *all_logits)
{
	const Model *m = s->m;
	const GPT2Config *c = &m->config;
	const GPT2Params *w = &m->w;
	int C = c->channels, L = c->num_layers, V = c->vocab_size, NH = c->num_heads, hs = C / NH;
	size_t CC = (size_t)C * C;
	int bf = m->dtype == MODEL_BF16;

	for (int i = 0; i < n; i++)
		embed(s, s->x + (size_t)i * C, tok[i], s->pos + i);
	for (int l = 0; l < L; l++) {
		layernorm(s, s->xb, s->x, w->ln1w + l * C, w->ln1b + l * C, n, C);
		mm(s, s->qkv, s->xb, bf ? NULL : w->qkvw + l * 3 * CC, bf ? m->qkvw16 + l * 3 * CC : NULL,
		   w->qkvb + l * 3 * C, n, C, 3 * C);
		for (int i = 0; i < n; i++)
			for (int h = 0; h < NH; h++)
				kv_store(s, l, h, s->pos + i, s->qkv + (size_t)i * 3 * C + C + h * hs,
					 s->qkv + (size_t)i * 3 * C + 2 * C + h * hs);
		attention(s, l, n);
		mm(s, s->tmp, s->atty, bf ? NULL : w->attprojw + l * CC, bf ? m->attprojw16 + l * CC : NULL,
		   w->attprojb + l * C, n, C, C);
		add_into(s->x, s->tmp, (size_t)n * C);
		layernorm(s, s->xb, s->x, w->ln2w + l * C, w->ln2b + l * C, n, C);
		mm(s, s->hb, s->xb, bf ? NULL : w->fcw + l * 4 * CC, bf ? m->fcw16 + l * 4 * CC : NULL,
		   w->fcb + l * 4 * C, n, C, 4 * C);
		gelu(s->hb, (size_t)n * 4 * C);
		mm(s, s->tmp, s->hb, bf ? NULL : w->fcprojw + l * 4 * CC, bf ? m->fcprojw16 + l * 4 * CC : NULL,
		   w->fcprojb + l * C, n, 4 * C, C);
		add_into(s->x, s->tmp, (size_t)n * C);
	}
	if (all_logits) {
		layernorm(s, s->xb, s->x, w->lnfw, w->lnfb, n, C);
		if (!bf && n > 1)
			kern_matmul_f32(all_logits, s->xb, w->wte, NULL, n, C, V);
		else
			for (int i = 0; i < n; i++)
				logits_row(s, all_logits + (size_t)i * V, s->xb + (size_t)i * C);
		memcpy(s->logits, all_logits + (size_t)(n - 1) * V, V * sizeof(float));
	} else {
		const float *last = s->x + (size_t)(n - 1) * C;
		layernorm_row(s->xb, last, w->lnfw, w->lnfb, C);
		logits_row(s, s->logits, s->xb);
	}
	s->pos += n;
}

void engine_forward(Engine *s, const int *tokens, int n, float *all_logits)
{
	int V = s->m->config.vocab_size;
	for (int done = 0; done < n;) {
		int nb = n - done < s->max_batch ? n - done : s->max_batch;
		float *out = all_logits ? all_logits + (size_t)done * V : NULL;
		if (nb == 1)
			forward_one(s, tokens[done], out);
		else
			forward_batch(s, tokens + done, nb, out);
		done += nb;
	}
}
