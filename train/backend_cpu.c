/* The CPU training backend: gpt2.h behind the TrainBackend table. */
#include "backend.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
	GPT2 m;
	float loss_sum; /* the step's micro-batch losses */
} CpuBackend;

static GPT2 *M(TrainBackend *be) { return &((CpuBackend *)be->ctx)->m; }

static void cpu_micro_step(TrainBackend *be, const int *in, const int *tgt, float scale, int acc)
{
	CpuBackend *c = be->ctx;
	gpt2_forward(&c->m, in, tgt, c->m.B, c->m.T);
	gpt2_backward(&c->m, scale, acc);
	c->loss_sum = acc ? c->loss_sum + c->m.mean_loss : c->m.mean_loss;
}

static float cpu_loss(TrainBackend *be, const int *in, const int *tgt)
{
	GPT2 *m = M(be);
	gpt2_forward(m, in, tgt, m->B, m->T);
	return m->mean_loss;
}

static void cpu_update(TrainBackend *be, float lr, float b1, float b2, float eps, float wd, float clip, int t,
		       float *loss_sum, float *grad_norm)
{
	CpuBackend *c = be->ctx;
	float norm = gpt2_grad_norm(&c->m);
	gpt2_update(&c->m, lr, b1, b2, eps, wd, backend_clip_mult(norm, clip), t);
	*loss_sum = c->loss_sum;
	*grad_norm = norm;
}

static const float *cpu_logits(TrainBackend *be, const int *tokens, int n)
{
	GPT2 *m = M(be);
	gpt2_forward(m, tokens, NULL, 1, n);
	return m->acts.logits + (size_t)(n - 1) * m->config.padded_vocab_size;
}

static const float *cpu_params(TrainBackend *be) { return M(be)->params_memory; }
static const float *cpu_m(TrainBackend *be) { return M(be)->m_memory; }
static const float *cpu_v(TrainBackend *be) { return M(be)->v_memory; }

static void cpu_close(TrainBackend *be)
{
	if (be->ctx) {
		gpt2_free(M(be));
		free(be->ctx);
	}
	be->ctx = NULL;
}

int backend_cpu_open(TrainBackend *be, const GPT2Config *c, const float *params,
		     const float *mo, const float *vo, int B, int T, Error *e)
{
	memset(be, 0, sizeof *be);
	CpuBackend *cb = calloc(1, sizeof *cb);
	if (!cb)
		return err_set(e, "out of memory");
	be->ctx = cb;
	GPT2 *m = &cb->m;
	be->close = cpu_close;
	if (gpt2_create(m, c, e) || gpt2_alloc_batch(m, B, T, e) || gpt2_alloc_train(m, e)) {
		cpu_close(be);
		return -1;
	}
	memcpy(m->params_memory, params, m->num_params * sizeof(float));
	if (mo)
		memcpy(m->m_memory, mo, m->num_params * sizeof(float));
	if (vo)
		memcpy(m->v_memory, vo, m->num_params * sizeof(float));
	be->name = "cpu";
	be->micro_step = cpu_micro_step;
	be->loss = cpu_loss;
	be->update = cpu_update;
	be->logits = cpu_logits;
	be->params = cpu_params;
	be->adam_m = cpu_m;
	be->adam_v = cpu_v;
	return 0;
}
