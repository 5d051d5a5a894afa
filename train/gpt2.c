/* The GPT-2 model on the CPU: parameter layout, allocation, initialisation,
 * and the whole-model forward, backward and AdamW update, layer by layer. */
#include "gpt2.h"
#include "layers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

#define NORM_CHUNK ((size_t)1 << 16) /* gpt2_grad_norm's fixed chunks */

const char *const gpt2_param_names[GPT2_NUM_PARAM_TENSORS] = {
	"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
	"ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb",
};

/* ------------------------------------------------------------------------ */
/* Parameters */

void gpt2_param_sizes(const GPT2Config *c, size_t s[GPT2_NUM_PARAM_TENSORS])
{
	size_t Vp = c->padded_vocab_size, C = c->channels, maxT = c->max_seq_len, L = c->num_layers;
	s[0] = Vp * C;          /* wte */
	s[1] = maxT * C;        /* wpe */
	s[2] = L * C;           /* ln1w */
	s[3] = L * C;           /* ln1b */
	s[4] = L * 3 * C * C;   /* qkvw */
	s[5] = L * 3 * C;       /* qkvb */
	s[6] = L * C * C;       /* attprojw */
	s[7] = L * C;           /* attprojb */
	s[8] = L * C;           /* ln2w */
	s[9] = L * C;           /* ln2b */
	s[10] = L * 4 * C * C;  /* fcw */
	s[11] = L * 4 * C;      /* fcb */
	s[12] = L * C * 4 * C;  /* fcprojw */
	s[13] = L * C;          /* fcprojb */
	s[14] = C;              /* lnfw */
	s[15] = C;              /* lnfb */
}

size_t gpt2_num_params(const GPT2Config *c)
{
	size_t s[GPT2_NUM_PARAM_TENSORS], n = 0;
	gpt2_param_sizes(c, s);
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++)
		n += s[i];
	return n;
}

void gpt2_params_point(GPT2Params *p, float *base, const GPT2Config *c)
{
	size_t s[GPT2_NUM_PARAM_TENSORS];
	gpt2_param_sizes(c, s);
	float **ptrs[GPT2_NUM_PARAM_TENSORS] = {
		&p->wte, &p->wpe, &p->ln1w, &p->ln1b, &p->qkvw, &p->qkvb, &p->attprojw, &p->attprojb,
		&p->ln2w, &p->ln2b, &p->fcw, &p->fcb, &p->fcprojw, &p->fcprojb, &p->lnfw, &p->lnfb,
	};
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
		*ptrs[i] = base;
		base += s[i];
	}
}

int gpt2_param_decays(int tensor)
{
	/* wte, wpe, qkvw, attprojw, fcw, fcprojw */
	return tensor == 0 || tensor == 1 || tensor == 4 || tensor == 6 || tensor == 10 || tensor == 12;
}

int gpt2_pad_vocab(int V)
{
	return (V + 127) / 128 * 128;
}

int gpt2_config_check(const GPT2Config *c, const char *what, Error *e)
{
	if (c->max_seq_len <= 0 || c->max_seq_len > 1 << 20)
		return err_set(e, "%s: context length %d is out of range (1..%d)", what, c->max_seq_len, 1 << 20);
	if (c->vocab_size <= 0 || c->vocab_size > 1 << 24)
		return err_set(e, "%s: vocabulary size %d is out of range (1..%d)", what, c->vocab_size, 1 << 24);
	if (c->padded_vocab_size < c->vocab_size)
		return err_set(e, "%s: padded vocabulary %d is smaller than the vocabulary %d",
			       what, c->padded_vocab_size, c->vocab_size);
	if (c->padded_vocab_size % 128 != 0)
		return err_set(e, "%s: padded vocabulary %d is not a multiple of 128", what, c->padded_vocab_size);
	if (c->num_layers <= 0 || c->num_layers > 1024)
		return err_set(e, "%s: layer count %d is out of range (1..1024)", what, c->num_layers);
	if (c->num_heads <= 0 || c->num_heads > 1024)
		return err_set(e, "%s: head count %d is out of range (1..1024)", what, c->num_heads);
	if (c->channels <= 0 || c->channels > 1 << 16)
		return err_set(e, "%s: channel count %d is out of range (1..%d)", what, c->channels, 1 << 16);
	if (c->channels % c->num_heads != 0)
		return err_set(e, "%s: channels %d are not divisible by the %d heads", what, c->channels, c->num_heads);
	double n = (double)gpt2_num_params(c);
	if (n * 4 > 64e9)
		return err_set(e, "%s: %.0f parameters is more than this build handles", what, n);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Allocation and initialisation */

int gpt2_create(GPT2 *m, const GPT2Config *c, Error *e)
{
	memset(m, 0, sizeof *m);
	if (gpt2_config_check(c, "model", e))
		return -1;
	m->config = *c;
	gpt2_param_sizes(c, m->param_sizes);
	m->num_params = gpt2_num_params(c);
	m->params_memory = calloc(m->num_params, sizeof(float));
	if (!m->params_memory)
		return err_set(e, "out of memory for %zu parameters", m->num_params);
	gpt2_params_point(&m->params, m->params_memory, c);
	m->mean_loss = -1.0f;
	return 0;
}

void rng_seed(Rng *r, uint64_t seed)
{
	/* splitmix64 of the seed, so that nearby seeds give unrelated streams */
	uint64_t z = seed + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	r->s = z ? z : 0x2545f4914f6cdd1dull;
}

uint64_t rng_u64(Rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

float rng_uniform(Rng *r)
{
	return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

float rng_normal(Rng *r)
{
	double u1 = ((double)(rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
	double u2 = (double)(rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
	return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/* N(0, std) in chunks of 64K values, each from its own RNG stream seeded by
 * (seed, tensor, chunk): parallel, yet the same values for any thread count. */
#define INIT_CHUNK 65536
static void fill_normal(float *p, size_t n, float std, uint64_t seed, int tensor)
{
	size_t nchunks = (n + INIT_CHUNK - 1) / INIT_CHUNK;
	#pragma omp parallel for schedule(static)
	for (size_t k = 0; k < nchunks; k++) {
		Rng r;
		rng_seed(&r, seed ^ ((uint64_t)tensor << 56) ^ (k * 0x9e3779b97f4a7c15ull));
		size_t i0 = k * INIT_CHUNK, i1 = i0 + INIT_CHUNK < n ? i0 + INIT_CHUNK : n;
		for (size_t i = i0; i < i1; i += 2) {
			/* Box-Muller: both values of each pair */
			double u1 = ((double)(rng_u64(&r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
			double u2 = (double)(rng_u64(&r) >> 11) * (1.0 / 9007199254740992.0);
			double rad = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * u2;
			p[i] = (float)(std * rad * cos(a));
			if (i + 1 < i1)
				p[i + 1] = (float)(std * rad * sin(a));
		}
	}
}

void gpt2_init_random(GPT2 *m, uint64_t seed)
{
	const GPT2Config *c = &m->config;
	size_t C = c->channels, L = c->num_layers;
	float std = 0.02f, pstd = 0.02f / sqrtf(2.0f * (float)L);
	memset(m->params_memory, 0, m->num_params * sizeof(float));
	GPT2Params *p = &m->params;
	fill_normal(p->wte, (size_t)c->vocab_size * C, std, seed, 0);  /* padded rows stay 0 */
	fill_normal(p->wpe, (size_t)c->max_seq_len * C, std, seed, 1);
	fill_normal(p->qkvw, L * 3 * C * C, std, seed, 4);
	fill_normal(p->attprojw, L * C * C, pstd, seed, 6);
	fill_normal(p->fcw, L * 4 * C * C, std, seed, 10);
	fill_normal(p->fcprojw, L * 4 * C * C, pstd, seed, 12);
	for (size_t i = 0; i < L * C; i++)
		p->ln1w[i] = p->ln2w[i] = 1.0f;
	for (size_t i = 0; i < C; i++)
		p->lnfw[i] = 1.0f;
}

int gpt2_alloc_batch(GPT2 *m, int B, int T, Error *e)
{
	const GPT2Config *c = &m->config;
	if (B <= 0 || T <= 0)
		return err_set(e, "batch %d x %d is empty", B, T);
	if (T > c->max_seq_len)
		return err_set(e, "sequence length %d is longer than the model's context %d", T, c->max_seq_len);
	size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
	size_t BT = (size_t)B * T;
	size_t sizes[GPT2_NUM_ACT_TENSORS] = {
		BT * C,                  /* encoded */
		L * BT * C, L * BT, L * BT,  /* ln1, mean, rstd */
		L * BT * 3 * C,          /* qkv */
		L * BT * C,              /* atty */
		L * B * NH * T * T,      /* att */
		L * BT * C,              /* residual2 */
		L * BT * C, L * BT, L * BT,  /* ln2, mean, rstd */
		L * BT * 4 * C,          /* fch */
		L * BT * 4 * C,          /* fch_gelu */
		L * BT * C,              /* residual3 */
		BT * C, BT, BT,          /* lnf, mean, rstd */
		BT * Vp,                 /* logits */
		BT,                      /* losses */
	};
	float **ptrs[GPT2_NUM_ACT_TENSORS] = {
		&m->acts.encoded, &m->acts.ln1, &m->acts.ln1_mean, &m->acts.ln1_rstd, &m->acts.qkv,
		&m->acts.atty, &m->acts.att, &m->acts.residual2, &m->acts.ln2, &m->acts.ln2_mean,
		&m->acts.ln2_rstd, &m->acts.fch, &m->acts.fch_gelu, &m->acts.residual3, &m->acts.lnf,
		&m->acts.lnf_mean, &m->acts.lnf_rstd, &m->acts.logits, &m->acts.losses,
	};
	size_t ssizes[] = { BT * C, BT * C, BT * 3 * C, BT * C, B * NH * T * T, BT * 4 * C, BT * 4 * C };
	float **sptrs[] = {
		&m->scratch.dresidual, &m->scratch.dln, &m->scratch.dqkv, &m->scratch.datty,
		&m->scratch.datt, &m->scratch.dfch_gelu, &m->scratch.dfch,
	};
	size_t n = 0, ns = 0;
	for (int i = 0; i < GPT2_NUM_ACT_TENSORS; i++)
		n += sizes[i];
	for (size_t i = 0; i < sizeof ssizes / sizeof ssizes[0]; i++)
		ns += ssizes[i];
	free(m->acts_memory);
	free(m->scratch_memory);
	free(m->inputs);
	free(m->targets);
	m->acts_memory = malloc(n * sizeof(float));
	m->scratch_memory = malloc(ns * sizeof(float));
	m->inputs = malloc(BT * sizeof(int));
	m->targets = malloc(BT * sizeof(int));
	if (!m->acts_memory || !m->scratch_memory || !m->inputs || !m->targets)
		return err_set(e, "out of memory for the activations of a %d x %d batch", B, T);
	float *base = m->acts_memory;
	for (int i = 0; i < GPT2_NUM_ACT_TENSORS; i++) {
		*ptrs[i] = base;
		base += sizes[i];
	}
	base = m->scratch_memory;
	for (size_t i = 0; i < sizeof ssizes / sizeof ssizes[0]; i++) {
		*sptrs[i] = base;
		base += ssizes[i];
	}
	m->num_acts = n;
	m->B = B;
	m->T = T;
	return 0;
}

int gpt2_alloc_train(GPT2 *m, Error *e)
{
	size_t n = m->num_params;
	m->grads_memory = calloc(n, sizeof(float));
	m->m_memory = calloc(n, sizeof(float));
	m->v_memory = calloc(n, sizeof(float));
	m->norm_partial = malloc(((n + NORM_CHUNK - 1) / NORM_CHUNK) * sizeof(double));
	if (!m->grads_memory || !m->m_memory || !m->v_memory || !m->norm_partial)
		return err_set(e, "out of memory for the gradients and optimizer state of %zu parameters", n);
	gpt2_params_point(&m->grads, m->grads_memory, &m->config);
	return 0;
}

void gpt2_free(GPT2 *m)
{
	free(m->params_memory);
	free(m->grads_memory);
	free(m->m_memory);
	free(m->v_memory);
	free(m->norm_partial);
	free(m->acts_memory);
	free(m->scratch_memory);
	free(m->inputs);
	free(m->targets);
	memset(m, 0, sizeof *m);
}

void gpt2_set_threads(int n)
{
	if (n < 1)
		n = 1;
	omp_set_num_threads(n);
	openblas_set_num_threads(1); /* layers.c splits the products among OpenMP threads */
}

void gpt2_blas_init(char *const argv[])
{
	int again = 0;
	if (!getenv("OPENBLAS_CORETYPE")) {
		const char *core = openblas_get_corename();
		__builtin_cpu_init();
		const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX" :
				   __builtin_cpu_supports("avx2") ? "Haswell" : NULL;
		if (core && want && (strcasecmp(core, "Prescott") == 0 || strcasecmp(core, "Nehalem") == 0 ||
				     strcasecmp(core, "Core2") == 0)) {
			setenv("OPENBLAS_CORETYPE", want, 1);
			again = 1;
		}
	}
	if (!getenv("OMP_WAIT_POLICY")) {
		setenv("OMP_WAIT_POLICY", "passive", 1);
		again = 1;
	}
	if (again)
		execv("/proc/self/exe", argv);
	/* nothing to do, or exec failed: carry on as we are */
}

/* ------------------------------------------------------------------------ */
/* Forward */

void gpt2_forward(GPT2 *m, const int *inputs, const int *targets, int B, int T)
{
	const GPT2Config *c = &m->config;
	int V = c->vocab_size, Vp = c->padded_vocab_size, L = c->num_layers;
	int NH = c->num_heads, C = c->channels;
	size_t BT = (size_t)B * T, BTC = BT * C;
	GPT2Params p = m->params;
	GPT2Acts a = m->acts;

	memcpy(m->inputs, inputs, BT * sizeof(int));
	if (targets)
		memcpy(m->targets, targets, BT * sizeof(int));
	m->have_targets = targets != NULL;
	m->batch_b = B;
	m->batch_t = T;
	/* Activations are laid out for m->B x m->T; a smaller batch uses the
	 * same per-layer strides (layer l at l * m->B * m->T). */
	size_t S = (size_t)m->B * m->T;

	encoder_forward(a.encoded, inputs, p.wte, p.wpe, B, T, C);
	for (int l = 0; l < L; l++) {
		const float *residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * S * C;
		float *ln1 = a.ln1 + l * S * C, *ln1_mean = a.ln1_mean + l * S, *ln1_rstd = a.ln1_rstd + l * S;
		float *qkv = a.qkv + l * S * 3 * C, *atty = a.atty + l * S * C;
		float *att = a.att + l * (size_t)m->B * NH * m->T * m->T;
		float *residual2 = a.residual2 + l * S * C;
		float *ln2 = a.ln2 + l * S * C, *ln2_mean = a.ln2_mean + l * S, *ln2_rstd = a.ln2_rstd + l * S;
		float *fch = a.fch + l * S * 4 * C, *fch_gelu = a.fch_gelu + l * S * 4 * C;
		float *residual3 = a.residual3 + l * S * C;

		layernorm_forward(ln1, ln1_mean, ln1_rstd, residual, p.ln1w + l * C, p.ln1b + l * C, B, T, C);
		matmul_forward(qkv, ln1, p.qkvw + (size_t)l * 3 * C * C, p.qkvb + l * 3 * C, B, T, C, 3 * C);
		attention_forward(atty, att, qkv, B, T, C, NH);
		matmul_forward(residual2, atty, p.attprojw + (size_t)l * C * C, p.attprojb + l * C, B, T, C, C);
		residual_forward(residual2, residual, residual2, BTC);
		layernorm_forward(ln2, ln2_mean, ln2_rstd, residual2, p.ln2w + l * C, p.ln2b + l * C, B, T, C);
		matmul_forward(fch, ln2, p.fcw + (size_t)l * 4 * C * C, p.fcb + l * 4 * C, B, T, C, 4 * C);
		gelu_forward(fch_gelu, fch, BT * 4 * C);
		matmul_forward(residual3, fch_gelu, p.fcprojw + (size_t)l * 4 * C * C, p.fcprojb + l * C, B, T, 4 * C, C);
		residual_forward(residual3, residual2, residual3, BTC);
	}
	const float *last = a.residual3 + (L - 1) * S * C;
	layernorm_forward(a.lnf, a.lnf_mean, a.lnf_rstd, last, p.lnfw, p.lnfb, B, T, C);
	matmul_forward(a.logits, a.lnf, p.wte, NULL, B, T, C, Vp);

	if (targets) {
		softmax_crossentropy_forward(a.logits, a.losses, a.logits, targets, B, T, V, Vp);
		double sum = 0;
		for (size_t i = 0; i < BT; i++)
			sum += a.losses[i];
		m->mean_loss = (float)(sum / BT);
	} else {
		m->mean_loss = -1.0f;
	}
}

/* ------------------------------------------------------------------------ */
/* Backward */

void gpt2_zero_grad(GPT2 *m)
{
	float *g = m->grads_memory;
	size_t n = m->num_params;
	#pragma omp parallel for schedule(static)
	for (size_t i0 = 0; i0 < n; i0 += 1 << 16) {
		size_t i1 = i0 + (1 << 16) < n ? i0 + (1 << 16) : n;
		memset(g + i0, 0, (i1 - i0) * sizeof(float));
	}
}

void gpt2_backward(GPT2 *m, float grad_scale, int accumulate)
{
	const GPT2Config *c = &m->config;
	int V = c->vocab_size, Vp = c->padded_vocab_size, L = c->num_layers;
	int NH = c->num_heads, C = c->channels, B = m->batch_b, T = m->batch_t;
	size_t BT = (size_t)B * T, BTC = BT * C, S = (size_t)m->B * m->T;
	GPT2Params p = m->params, g = m->grads;
	GPT2Acts a = m->acts;
	GPT2Scratch s = m->scratch;

	/* With accumulate == 0 the matrix products write their weight and bias
	 * gradients (the head writes dwte before the encoder adds to it); only
	 * the small remaining tensors need zeroing. */
	int acc = accumulate;
	if (!acc) {
		GPT2Params *z = &g;
		size_t LC = (size_t)L * C;
		memset(z->wpe, 0, (size_t)c->max_seq_len * C * sizeof(float));
		memset(z->ln1w, 0, LC * sizeof(float));
		memset(z->ln1b, 0, LC * sizeof(float));
		memset(z->ln2w, 0, LC * sizeof(float));
		memset(z->ln2b, 0, LC * sizeof(float));
		memset(z->lnfw, 0, C * sizeof(float));
		memset(z->lnfb, 0, C * sizeof(float));
	}

	/* d(mean loss)/d(loss[b,t]) = 1/BT; the probabilities become dlogits in place */
	float *dlosses = s.dln; /* BT floats of scratch, free until the head's backward */
	for (size_t i = 0; i < BT; i++)
		dlosses[i] = grad_scale / (float)BT;
	crossentropy_softmax_backward(a.logits, dlosses, a.logits, m->targets, B, T, V, Vp);

	/* head (tied to wte) and final LayerNorm */
	memset(s.dln, 0, BTC * sizeof(float));
	matmul_backward_ex(s.dln, g.wte, NULL, a.logits, a.lnf, p.wte, B, T, C, Vp, acc);
	memset(s.dresidual, 0, BTC * sizeof(float));
	const float *last = a.residual3 + (L - 1) * S * C;
	layernorm_backward(s.dresidual, g.lnfw, g.lnfb, s.dln, last, p.lnfw, a.lnf_mean, a.lnf_rstd, B, T, C);

	for (int l = L - 1; l >= 0; l--) {
		const float *residual = l == 0 ? a.encoded : a.residual3 + (l - 1) * S * C;
		const float *ln1 = a.ln1 + l * S * C, *ln1_mean = a.ln1_mean + l * S, *ln1_rstd = a.ln1_rstd + l * S;
		const float *qkv = a.qkv + l * S * 3 * C, *atty = a.atty + l * S * C;
		const float *att = a.att + l * (size_t)m->B * NH * m->T * m->T;
		const float *residual2 = a.residual2 + l * S * C;
		const float *ln2 = a.ln2 + l * S * C, *ln2_mean = a.ln2_mean + l * S, *ln2_rstd = a.ln2_rstd + l * S;
		const float *fch = a.fch + l * S * 4 * C, *fch_gelu = a.fch_gelu + l * S * 4 * C;

		/* residual3 = residual2 + fcproj(gelu(fc(ln2(residual2)))):
		 * dresidual passes through unchanged to residual2 and feeds the MLP */
		memset(s.dfch_gelu, 0, BT * 4 * C * sizeof(float));
		matmul_backward_ex(s.dfch_gelu, g.fcprojw + (size_t)l * 4 * C * C, g.fcprojb + l * C,
				   s.dresidual, fch_gelu, p.fcprojw + (size_t)l * 4 * C * C, B, T, 4 * C, C, acc);
		memset(s.dfch, 0, BT * 4 * C * sizeof(float));
		gelu_backward(s.dfch, fch, s.dfch_gelu, BT * 4 * C);
		memset(s.dln, 0, BTC * sizeof(float));
		matmul_backward_ex(s.dln, g.fcw + (size_t)l * 4 * C * C, g.fcb + l * 4 * C,
				   s.dfch, ln2, p.fcw + (size_t)l * 4 * C * C, B, T, C, 4 * C, acc);
		layernorm_backward(s.dresidual, g.ln2w + l * C, g.ln2b + l * C, s.dln, residual2,
				   p.ln2w + l * C, ln2_mean, ln2_rstd, B, T, C);

		/* residual2 = residual + attproj(attention(qkv(ln1(residual)))) */
		memset(s.datty, 0, BTC * sizeof(float));
		matmul_backward_ex(s.datty, g.attprojw + (size_t)l * C * C, g.attprojb + l * C,
				   s.dresidual, atty, p.attprojw + (size_t)l * C * C, B, T, C, C, acc);
		memset(s.dqkv, 0, BTC * 3 * sizeof(float));
		attention_backward(s.dqkv, s.datt, s.datty, qkv, att, B, T, C, NH);
		memset(s.dln, 0, BTC * sizeof(float));
		matmul_backward_ex(s.dln, g.qkvw + (size_t)l * 3 * C * C, g.qkvb + l * 3 * C,
				   s.dqkv, ln1, p.qkvw + (size_t)l * 3 * C * C, B, T, C, 3 * C, acc);
		layernorm_backward(s.dresidual, g.ln1w + l * C, g.ln1b + l * C, s.dln, residual,
				   p.ln1w + l * C, ln1_mean, ln1_rstd, B, T, C);
	}
	encoder_backward(g.wte, g.wpe, s.dresidual, m->inputs, B, T, C);
}

/* ------------------------------------------------------------------------ */
/* Gradient norm and AdamW */

float gpt2_grad_norm(const GPT2 *m)
{
	const float *g = m->grads_memory;
	size_t n = m->num_params, nchunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
	double total = 0.0;
	/* Each chunk's sum is computed the same way whatever the thread count;
	 * the chunk sums are then added in order. */
	double *partial = m->norm_partial;
	#pragma omp parallel for schedule(static)
	for (size_t k = 0; k < nchunks; k++) {
		size_t i0 = k * NORM_CHUNK, i1 = i0 + NORM_CHUNK < n ? i0 + NORM_CHUNK : n;
		float acc = 0.0f;
		double sum = 0.0;
		for (size_t j0 = i0; j0 < i1; j0 += 1024) {
			size_t j1 = j0 + 1024 < i1 ? j0 + 1024 : i1;
			acc = 0.0f;
			#pragma omp simd reduction(+:acc)
			for (size_t j = j0; j < j1; j++)
				acc += g[j] * g[j];
			sum += acc;
		}
		partial[k] = sum;
	}
	for (size_t k = 0; k < nchunks; k++)
		total += partial[k];
	return (float)sqrt(total);
}

void gpt2_update(GPT2 *m, float lr, float beta1, float beta2, float eps,
		 float weight_decay, float grad_mult, int t)
{
	size_t off = 0;
	for (int i = 0; i < GPT2_NUM_PARAM_TENSORS; i++) {
		size_t n = m->param_sizes[i];
		float wd = gpt2_param_decays(i) ? weight_decay : 0.0f;
		adamw_update(m->params_memory + off, m->grads_memory + off, m->m_memory + off,
			     m->v_memory + off, n, lr, beta1, beta2, eps, wd, grad_mult, t);
		off += n;
	}
}
