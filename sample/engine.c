/* The inference engine; see engine.h.  Reads top to bottom: loading, the
 * state, the forward pass. */
#include "engine.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "hf.h"
#include "layers.h"
#include "vmath.h"

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

int engine_init(Engine *s, const Model *m, int max_batch, Error *e)
{
	memset(s, 0, sizeof *s);
	const GPT2Config *c = &m->config;
	size_t C = c->channels, L = c->num_layers, T = c->max_seq_len, B = max_batch < 1 ? 1 : max_batch;
	s->m = m;
	s->kern = kern_detect();
	s->max_batch = (int)B;
	s->att_threads = omp_get_max_threads();
	s->kcache = calloc(L * T * C, sizeof(float));
	s->vcache = calloc(L * T * C, sizeof(float));
	s->x = malloc(B * C * sizeof(float));
	s->xb = malloc(B * C * sizeof(float));
	s->qkv = malloc(B * 3 * C * sizeof(float));
	s->atty = malloc(B * C * sizeof(float));
	s->tmp = malloc(B * C * sizeof(float));
	s->hb = malloc(B * 4 * C * sizeof(float));
	s->mean = malloc(B * sizeof(float));
	s->rstd = malloc(B * sizeof(float));
	s->att = malloc((size_t)s->att_threads * T * sizeof(float));
	s->logits = malloc((size_t)c->vocab_size * sizeof(float));
	s->xs = malloc(4 * C * sizeof(uint16_t) + 64);
	if (m->dtype == MODEL_BF16 && B > 1)
		s->wscratch = malloc(4 * C * C * sizeof(float));
	if (!s->kcache || !s->vcache || !s->x || !s->xb || !s->qkv || !s->atty || !s->tmp || !s->hb ||
	    !s->mean || !s->rstd || !s->att || !s->logits || !s->xs || (m->dtype == MODEL_BF16 && B > 1 && !s->wscratch)) {
		engine_free(s);
		return err_set(e, "out of memory for the KV cache and activations");
	}
	return 0;
}

void engine_free(Engine *s)
{
	free(s->kcache);
	free(s->vcache);
	free(s->x);
	free(s->xb);
	free(s->qkv);
	free(s->atty);
	free(s->tmp);
	free(s->hb);
	free(s->mean);
	free(s->rstd);
	free(s->att);
	free(s->logits);
	free(s->wscratch);
	free(s->xs);
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

/* Causal attention of n new positions (pos..pos+n-1) over the cache of layer l. */
static void attention(Engine *s, int l, int n)
{
	const GPT2Config *c = &s->m->config;
	int C = c->channels, NH = c->num_heads, hs = C / NH, T = c->max_seq_len, pos = s->pos;
	const float *kc = s->kcache + (size_t)l * T * C, *vc = s->vcache + (size_t)l * T * C;
	float scale = 1.0f / sqrtf((float)hs);
	#pragma omp parallel for collapse(2) schedule(static) if ((size_t)n * (pos + n) * C > 32768)
	for (int i = 0; i < n; i++)
		for (int h = 0; h < NH; h++) {
			float *att = s->att + (size_t)omp_get_thread_num() * T;
			const float *q = s->qkv + (size_t)i * 3 * C + h * hs;
			int p = pos + i;
			float mx = -INFINITY;
			for (int t = 0; t <= p; t++) {
				const float *k = kc + (size_t)t * C + h * hs;
				float d = 0.0f;
				#pragma omp simd reduction(+:d)
				for (int j = 0; j < hs; j++)
					d += q[j] * k[j];
				d *= scale;
				att[t] = d;
				if (d > mx)
					mx = d;
			}
			float sum = 0.0f;
			for (int t = 0; t <= p; t++) {
				att[t] = expf(att[t] - mx);
				sum += att[t];
			}
			float inv = 1.0f / sum;
			float *o = s->atty + (size_t)i * C + h * hs;
			for (int j = 0; j < hs; j++)
				o[j] = 0.0f;
			for (int t = 0; t <= p; t++) {
				const float *v = vc + (size_t)t * C + h * hs;
				float a = att[t] * inv;
				#pragma omp simd
				for (int j = 0; j < hs; j++)
					o[j] += a * v[j];
			}
		}
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

static void forward_batch(Engine *s, const int *tok, int n, float *all_logits)
{
	const Model *m = s->m;
	const GPT2Config *c = &m->config;
	const GPT2Params *w = &m->w;
	int C = c->channels, L = c->num_layers, T = c->max_seq_len, V = c->vocab_size;
	size_t CC = (size_t)C * C;
	int bf = m->dtype == MODEL_BF16;

	for (int i = 0; i < n; i++) {
		float *x = s->x + (size_t)i * C;
		const float *pe = w->wpe + (size_t)(s->pos + i) * C;
		if (bf) {
			const uint16_t *te = m->wte16 + (size_t)tok[i] * C;
			for (int j = 0; j < C; j++)
				x[j] = ckpt_bf16_to_f32(te[j]) + pe[j];
		} else {
			const float *te = w->wte + (size_t)tok[i] * C;
			for (int j = 0; j < C; j++)
				x[j] = te[j] + pe[j];
		}
	}
	for (int l = 0; l < L; l++) {
		layernorm(s, s->xb, s->x, w->ln1w + l * C, w->ln1b + l * C, n, C);
		mm(s, s->qkv, s->xb, bf ? NULL : w->qkvw + l * 3 * CC, bf ? m->qkvw16 + l * 3 * CC : NULL,
		   w->qkvb + l * 3 * C, n, C, 3 * C);
		for (int i = 0; i < n; i++) {
			size_t at = ((size_t)l * T + s->pos + i) * C;
			memcpy(s->kcache + at, s->qkv + (size_t)i * 3 * C + C, C * sizeof(float));
			memcpy(s->vcache + at, s->qkv + (size_t)i * 3 * C + 2 * C, C * sizeof(float));
		}
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
		forward_batch(s, tokens + done, nb, all_logits ? all_logits + (size_t)done * V : NULL);
		done += nb;
	}
}
