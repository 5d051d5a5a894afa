/* The CUDA training backend: cuda_model.h behind the TrainBackend table of
 * backend.h.  Compiled only when the build has CUDA (GPTKIT_CUDA).
 *
 * Precision: bf16 mixed precision by default; GPTKIT_CUDA_PRECISION=fp32 in
 * the environment selects the full-fp32 checking mode.  Attention runs on
 * the tensor cores (cuda_attention_tc.cu) where it can (bf16, head size 64);
 * GPTKIT_CUDA_ATTN=cuda-core selects the fp32 CUDA-core kernel instead.
 *
 * Errors: opening fails cleanly (no device, too little memory: -1 with the
 * reason, and gpt-train --device auto falls back to the CPU).  A CUDA
 * failure in the middle of training leaves the GPU's state undefined and
 * TrainBackend's calls have no error return, so the backend stops the
 * program with `prog: cuda: what: why` (exit 1) rather than let the loop
 * write NaN checkpoints over good ones. */
#ifdef GPTKIT_CUDA
#include "backend.h"
#include "cuda_model.h"

#include <stdlib.h>
#include <string.h>

static CudaModel *M(TrainBackend *be) { return be->ctx; }

static void check(TrainBackend *be)
{
	const char *err = cuda_model_error(M(be));
	if (err[0])
		die("cuda: %s", err);
}

static void cu_micro_step(TrainBackend *be, const int *in, const int *tgt, float scale, int acc)
{
	cuda_model_step_async(M(be), in, tgt, scale, acc);
	check(be);
}

static float cu_loss(TrainBackend *be, const int *in, const int *tgt)
{
	float l = cuda_model_loss(M(be), in, tgt);
	check(be);
	return l;
}

/* The norm and the clip factor stay on the device; the host waits once. */
static void cu_update(TrainBackend *be, float lr, float b1, float b2, float eps, float wd, float clip, int t,
		      float *loss_sum, float *grad_norm)
{
	cuda_model_update_clip(M(be), lr, b1, b2, eps, wd, clip, t);
	cuda_model_finish(M(be), loss_sum, grad_norm);
	check(be);
}

static const float *cu_logits(TrainBackend *be, const int *tokens, int n)
{
	const float *p = cuda_model_logits(M(be), tokens, n);
	check(be);
	return p;
}

static const float *cu_params(TrainBackend *be)
{
	const float *p = cuda_model_params(M(be));
	check(be);
	return p;
}

static const float *cu_m(TrainBackend *be)
{
	const float *p = cuda_model_adam_m(M(be));
	check(be);
	return p;
}

static const float *cu_v(TrainBackend *be)
{
	const float *p = cuda_model_adam_v(M(be));
	check(be);
	return p;
}

static void cu_close(TrainBackend *be)
{
	cuda_model_close(M(be));
	be->ctx = NULL;
}

static int backend_cuda_precision(void)
{
	const char *p = getenv("GPTKIT_CUDA_PRECISION"), *a = getenv("GPTKIT_CUDA_ATTN");
	int prec = p && strcmp(p, "fp32") == 0 ? CUDA_MODEL_FP32 : CUDA_MODEL_BF16;
	return prec | (a && strcmp(a, "cuda-core") == 0 ? 0 : CUDA_MODEL_ATTN_TC);
}

int backend_cuda_open(TrainBackend *be, const GPT2Config *c, const float *params, const float *m, const float *v,
		      int B, int T, Error *e)
{
	char why[400];
	memset(be, 0, sizeof *be);
	CudaModel *cm = cuda_model_open(c, params, m, v, B, T, backend_cuda_precision(), why, sizeof why);
	if (!cm)
		return err_set(e, "--device cuda: %s", why);
	be->ctx = cm;
	be->name = "cuda";
	be->micro_step = cu_micro_step;
	be->loss = cu_loss;
	be->update = cu_update;
	be->logits = cu_logits;
	be->params = cu_params;
	be->adam_m = cu_m;
	be->adam_v = cu_v;
	be->close = cu_close;
	return 0;
}
#endif
