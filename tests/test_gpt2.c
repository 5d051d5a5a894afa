/* The CPU GPT-2 model against PyTorch: logits, loss, every parameter
 * gradient, and the losses of 10 AdamW steps with clipping, compared with the
 * golden file that tests/torch_ref/make_golden.py wrote from the same
 * checkpoint (tests/torch_ref/model.bin) in float64.
 *   test_gpt2                      run the comparison
 *   test_gpt2 --write-model PATH   write the small model the golden file uses */
#include "checkpoint.h"
#include "gpt2.h"
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN_MAGIC 20241126
/* mirrored from make_golden.py */
static const float LR = 1e-3f, BETA1 = 0.9f, BETA2 = 0.95f, EPS = 1e-8f, WD = 0.1f, CLIP = 0.72f;

static double rel_err(const float *a, const float *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - b[i];
		num += d * d;
		den += (double)b[i] * b[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

static int write_model(const char *path)
{
	GPT2Config c = { .max_seq_len = 24, .vocab_size = 100, .padded_vocab_size = 128,
			 .num_layers = 2, .num_heads = 4, .channels = 32 };
	GPT2 m;
	Error e;
	if (gpt2_create(&m, &c, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	gpt2_init_random(&m, 42);
	/* Give the LayerNorm gains and the biases values too, so that their
	 * gradients and their paths through the model are exercised. */
	Rng r;
	rng_seed(&r, 7);
	GPT2Params *p = &m.params;
	size_t L = c.num_layers, C = c.channels;
	struct { float *t; size_t n; float base; } vec[] = {
		{ p->ln1w, L * C, 1 }, { p->ln1b, L * C, 0 }, { p->qkvb, L * 3 * C, 0 },
		{ p->attprojb, L * C, 0 }, { p->ln2w, L * C, 1 }, { p->ln2b, L * C, 0 },
		{ p->fcb, L * 4 * C, 0 }, { p->fcprojb, L * C, 0 }, { p->lnfw, C, 1 }, { p->lnfb, C, 0 },
	};
	for (size_t k = 0; k < sizeof vec / sizeof vec[0]; k++)
		for (size_t i = 0; i < vec[k].n; i++)
			vec[k].t[i] = vec[k].base + 0.1f * rng_normal(&r);
	if (ckpt_write(path, &c, m.params_memory, CKPT_V_FP32, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	gpt2_free(&m);
	return 0;
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *buf = malloc(*len);
	if (buf && fread(buf, 1, *len, f) != *len) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--write-model") == 0)
		return write_model(argv[2]);
	const char *top = getenv("TOP") ? getenv("TOP") : ".";
	char mpath[4096], gpath[4096];
	snprintf(mpath, sizeof mpath, "%s/tests/torch_ref/model.bin", top);
	snprintf(gpath, sizeof gpath, "%s/tests/torch_ref/golden.bin", top);

	GPT2Config c;
	float *params;
	int version;
	Error e;
	int rc = ckpt_load(mpath, &c, &params, &version, &e);
	CHECK(rc == 0, "load the reference checkpoint");
	if (rc) {
		printf("# %s\n", e.msg);
		return test_done();
	}
	size_t glen;
	uint8_t *g = read_file(gpath, &glen);
	CHECK(g != NULL, "read the golden file");
	if (!g)
		return test_done();
	int32_t h[16];
	memcpy(h, g, sizeof h);
	int B = h[1], T = h[2], V = h[3], Vp = h[4], steps = h[9];
	CHECK(h[0] == GOLDEN_MAGIC && V == c.vocab_size && Vp == c.padded_vocab_size &&
	      h[5] == c.num_layers && h[6] == c.num_heads && h[7] == c.channels, "golden file matches the model");
	size_t BT = (size_t)B * T, P = gpt2_num_params(&c);
	size_t want = 64 + 8 * BT + 4 * (BT * V + 1 + P + 2 * (size_t)steps);
	CHECK(glen == want, "golden file size");
	if (glen != want)
		return test_done();
	const int *inputs = (const int *)(g + 64), *targets = inputs + BT;
	const float *glogits = (const float *)(targets + BT);
	float gloss = glogits[BT * V];
	const float *ggrads = glogits + BT * V + 1;
	const float *glosses = ggrads + P, *gnorms = glosses + steps;

	GPT2 m;
	rc = gpt2_create(&m, &c, &e) || gpt2_alloc_batch(&m, B, T, &e) || gpt2_alloc_train(&m, &e);
	CHECK(rc == 0, "allocate the model");
	if (rc)
		return test_done();
	memcpy(m.params_memory, params, P * sizeof(float));

	/* logits: a forward without targets leaves them raw */
	gpt2_forward(&m, inputs, NULL, B, T);
	float *logits = malloc(BT * V * sizeof(float));
	int pad_zero = 1;
	for (size_t bt = 0; bt < BT; bt++)
		memcpy(logits + bt * V, m.acts.logits + bt * Vp, V * sizeof(float));
	double err = rel_err(logits, glogits, BT * V);
	printf("# logits relative error %.3g\n", err);
	CHECK(err < 1e-4, "logits agree with torch");

	gpt2_forward(&m, inputs, targets, B, T);
	printf("# loss %.7f torch %.7f\n", m.mean_loss, gloss);
	CHECK(fabs(m.mean_loss - gloss) / gloss < 1e-5, "loss agrees with torch");
	double psum = 0;
	for (size_t bt = 0; bt < BT; bt++) {
		for (int i = V; i < Vp; i++)
			if (m.acts.logits[bt * Vp + i] != 0.0f)
				pad_zero = 0;
		for (int i = 0; i < V; i++)
			psum += m.acts.logits[bt * Vp + i];
	}
	CHECK(pad_zero, "padded vocabulary gets no probability");
	CHECK(fabs(psum / BT - 1.0) < 1e-5, "probabilities sum to 1");

	gpt2_backward(&m, 1.0f, 0);
	size_t off = 0;
	int all_ok = 1;
	for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
		size_t n = m.param_sizes[t];
		double r = rel_err(m.grads_memory + off, ggrads + off, n);
		char name[64];
		snprintf(name, sizeof name, "gradient of %s agrees with torch", gpt2_param_names[t]);
		printf("# d%-8s relative error %.3g\n", gpt2_param_names[t], r);
		CHECK(r < 1e-4, name);
		all_ok &= r < 1e-4;
		off += n;
	}
	int padded_grad_zero = 1;
	for (size_t i = (size_t)V * c.channels; i < (size_t)Vp * c.channels; i++)
		padded_grad_zero &= m.grads.wte[i] == 0.0f;
	CHECK(padded_grad_zero, "padded wte rows get no gradient");

	/* gradient accumulation: two half-scaled backward passes = one full */
	float *full = malloc(P * sizeof(float));
	memcpy(full, m.grads_memory, P * sizeof(float));
	gpt2_forward(&m, inputs, targets, B, T);
	gpt2_backward(&m, 0.5f, 0);
	gpt2_forward(&m, inputs, targets, B, T);
	gpt2_backward(&m, 0.5f, 1);
	CHECK(rel_err(m.grads_memory, full, P) < 1e-6, "accumulated gradients equal one pass");
	free(full);

	/* 10 AdamW steps with weight decay and clipping, on the same batch */
	double worst = 0, worst_norm = 0;
	for (int s = 0; s < steps; s++) {
		gpt2_forward(&m, inputs, targets, B, T);
		gpt2_backward(&m, 1.0f, 0);
		float norm = gpt2_grad_norm(&m);
		float mult = norm > CLIP ? CLIP / (norm + 1e-6f) : 1.0f;
		gpt2_update(&m, LR, BETA1, BETA2, EPS, WD, mult, s + 1);
		double d = fabs(m.mean_loss - glosses[s]) / fabs(glosses[s]);
		double dn = fabs(norm - gnorms[s]) / gnorms[s];
		printf("# step %d loss %.7f torch %.7f  norm %.5f torch %.5f\n", s + 1, m.mean_loss,
		       glosses[s], norm, gnorms[s]);
		worst = d > worst ? d : worst;
		worst_norm = dn > worst_norm ? dn : worst_norm;
	}
	printf("# worst step loss relative error %.3g, grad norm %.3g\n", worst, worst_norm);
	CHECK(worst < 1e-4, "10 AdamW steps give torch's losses");
	CHECK(worst_norm < 1e-4, "10 AdamW steps give torch's gradient norms");
	CHECK(glosses[steps - 1] < glosses[0] - 0.01f, "the reference run learns (the test is not vacuous)");

	free(logits);
	free(params);
	free(g);
	gpt2_free(&m);
	return test_done();
}
