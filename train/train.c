/* gpt-train's training run: see train.h.  The order of work is chosen so
 * that every check that can fail (output directory, checkpoints, data,
 * shapes) happens before the first step and before anything is written. */
#include "train.h"
#include "backend.h"
#include "checkpoint.h"
#include "data.h"
#include "io.h"
#include "progress.h"
#include "state.h"
#include "tok.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

float train_lr(const TrainOptions *o, long long step, long long total)
{
	if (o->warmup > 0 && step < o->warmup)
		return o->lr * (float)(step + 1) / (float)o->warmup;
	if (o->schedule == LR_CONSTANT || total <= o->warmup)
		return o->lr;
	double frac = (double)(step - o->warmup) / (double)(total - o->warmup);
	double lo = o->lr * o->final_lr_frac;
	if (o->schedule == LR_LINEAR)
		return (float)(o->lr - (o->lr - lo) * frac);
	return (float)(lo + (o->lr - lo) * 0.5 * (1.0 + cos(M_PI * frac)));
}

/* ------------------------------------------------------------------------ */
/* The run directory: model_NNNNNNNN.bin + state_NNNNNNNN.bin pairs, log.txt */

typedef struct {
	long long *steps;   /* complete checkpoints (both files), ascending */
	int n;
	int any_model;      /* any model_*.bin at all */
} RunDir;

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static char *path_in(const char *dir, const char *fmt, long long step)
{
	char name[64], *p;
	snprintf(name, sizeof name, fmt, step);
	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	return p;
}

static int scan_dir(const char *dir, RunDir *rd, Error *e)
{
	memset(rd, 0, sizeof *rd);
	DIR *d = opendir(dir);
	if (!d)
		return err_errno(e, "%s", dir);
	struct dirent *de;
	int cap = 0;
	while ((de = readdir(d))) {
		long long step;
		char tail[8];
		if (sscanf(de->d_name, "model_%lld.bi%1s", &step, tail) == 2 && strlen(de->d_name) == 18 &&
		    strcmp(de->d_name + 14, ".bin") == 0) {
			rd->any_model = 1;
			char *sp = path_in(dir, "state_%08lld.bin", step);
			struct stat st;
			int have = sp && stat(sp, &st) == 0;
			free(sp);
			if (!have)
				continue;
			if (rd->n == cap) {
				cap = cap ? 2 * cap : 16;
				long long *s = realloc(rd->steps, cap * sizeof *s);
				if (!s) {
					closedir(d);
					return err_set(e, "out of memory");
				}
				rd->steps = s;
			}
			rd->steps[rd->n++] = step;
		} else if (strncmp(de->d_name, "model_", 6) == 0 || strncmp(de->d_name, "state_", 6) == 0) {
			/* a temporary file left by a killed writer: never a real name */
			if (strstr(de->d_name, ".bin.tmp.")) {
				char *p;
				if (asprintf(&p, "%s/%s", dir, de->d_name) >= 0) {
					unlink(p);
					free(p);
				}
			}
		}
	}
	closedir(d);
	if (rd->n > 1) /* steps is NULL when there are none: qsort's argument must not be */
		qsort(rd->steps, rd->n, sizeof *rd->steps, cmp_ll);
	return 0;
}

static int prepare_dir(const char *dir, Error *e)
{
	struct stat st;
	if (stat(dir, &st) != 0) {
		if (errno != ENOENT || mkdir(dir, 0777) != 0)
			return err_errno(e, "%s", dir);
	} else if (!S_ISDIR(st.st_mode)) {
		return err_set(e, "%s: not a directory", dir);
	}
	char *probe;
	if (asprintf(&probe, "%s/.gpt-train.probe.%ld", dir, (long)getpid()) < 0)
		return err_set(e, "out of memory");
	FILE *f = fopen(probe, "w");
	if (!f) {
		err_errno(e, "%s: cannot write", dir);
		free(probe);
		return -1;
	}
	fclose(f);
	unlink(probe);
	free(probe);
	return 0;
}

/* ------------------------------------------------------------------------ */

typedef struct {
	const TrainOptions *o;
	TrainOptions eff;        /* options in force (from the state on resume) */
	GPT2Config config;
	TokenData train, val;
	TrainBackend be;
	TrainState st;
	long long total_steps;
	int accum;
	int *inp, *tgt;          /* B*T each */
	FILE *log;
	char *log_path;
	Rng rng;
	Tokenizer *tok;
	long long last_ckpt;
} Run;

static void fill_batch(Run *r, const uint32_t *src)
{
	size_t BT = (size_t)r->eff.B * r->eff.T;
	for (size_t i = 0; i < BT; i++) {
		r->inp[i] = (int)src[i];
		r->tgt[i] = (int)src[i + 1];
	}
}

static void next_batch(Run *r)
{
	size_t BT = (size_t)r->eff.B * r->eff.T;
	if (r->st.data_pos + BT + 1 > r->train.n) {
		r->st.data_pos = 0;
		r->st.epoch++;
	}
	fill_batch(r, r->train.tok + r->st.data_pos);
	r->st.data_pos += BT;
}

static float evaluate(Run *r)
{
	size_t BT = (size_t)r->eff.B * r->eff.T;
	double sum = 0;
	int n = 0;
	for (int k = 0; k < r->eff.eval_batches && (k + 1) * BT + 1 <= r->val.n; k++, n++) {
		fill_batch(r, r->val.tok + k * BT);
		sum += r->be.loss(&r->be, r->inp, r->tgt);
	}
	return (float)(sum / n);
}

static void print_token(Run *r, uint32_t id)
{
	size_t len;
	const uint8_t *b = r->tok ? tok_token_bytes(r->tok, id, &len) : NULL;
	if (b)
		fwrite(b, 1, len, stderr);
	else
		fprintf(stderr, "[%u]", id);
}

static void sample(Run *r, long long step)
{
	int T = r->eff.T, V = r->config.vocab_size, n = r->o->sample_tokens;
	int *seq = malloc((size_t)(n + 1) * sizeof *seq);
	double *p = malloc((size_t)V * sizeof *p);
	if (!seq || !p) {
		free(seq);
		free(p);
		return;
	}
	seq[0] = r->train.eot >= 0 && (uint32_t)r->train.eot < (uint32_t)V ? r->train.eot : (int)r->train.tok[0];
	fprintf(stderr, "--- sample at step %lld ---\n", step);
	for (int i = 1; i <= n; i++) {
		int start = i > T ? i - T : 0;
		const float *lg = r->be.logits(&r->be, seq + start, i - start);
		double maxv = -INFINITY, sum = 0;
		for (int v = 0; v < V; v++)
			maxv = lg[v] > maxv ? lg[v] : maxv;
		for (int v = 0; v < V; v++)
			sum += p[v] = exp(lg[v] - maxv);
		double u = rng_uniform(&r->rng) * sum, c = 0;
		int next = V - 1;
		for (int v = 0; v < V; v++) {
			c += p[v];
			if (u < c) {
				next = v;
				break;
			}
		}
		seq[i] = next;
		print_token(r, (uint32_t)next);
	}
	fprintf(stderr, "\n---\n");
	free(seq);
	free(p);
}

static int save(Run *r, long long step, Error *e)
{
	const char *dir = r->o->out_dir;
	char *mp = path_in(dir, "model_%08lld.bin", step), *sp = path_in(dir, "state_%08lld.bin", step);
	int rc = -1;
	if (!mp || !sp) {
		err_set(e, "out of memory");
		goto out;
	}
	r->st.step = step;
	r->st.rng = r->rng.s;
	/* model first: the state file's presence marks a complete checkpoint */
	if (ckpt_write(mp, &r->config, r->be.params(&r->be), CKPT_V_FP32, e) ||
	    state_write(sp, &r->st, r->be.adam_m(&r->be), r->be.adam_v(&r->be), gpt2_num_params(&r->config), e))
		goto out;
	r->last_ckpt = step;
	if (r->o->keep > 0) {
		RunDir rd;
		if (scan_dir(dir, &rd, e) == 0) {
			for (int i = 0; i + r->o->keep < rd.n; i++) {
				char *a = path_in(dir, "state_%08lld.bin", rd.steps[i]);
				char *b = path_in(dir, "model_%08lld.bin", rd.steps[i]);
				if (a) unlink(a);
				if (b) unlink(b);
				free(a);
				free(b);
			}
			free(rd.steps);
		}
	}
	rc = 0;
out:
	free(mp);
	free(sp);
	return rc;
}

/* Keep the log's header and lines up to step; the rest belonged to the
 * part of the interrupted run that is being redone. */
static int trim_log(const char *path, long long step, Error *e)
{
	FILE *in = fopen(path, "r");
	if (!in)
		return 0;
	AtomicFile af;
	if (atomic_open(&af, path, e)) {
		fclose(in);
		return -1;
	}
	char line[1024];
	while (fgets(line, sizeof line, in))
		if (line[0] == '#' || atoll(line) <= step)
			fputs(line, af.fp);
	fclose(in);
	return atomic_commit(&af, e);
}

#define DIFFERS(flag, a, b) ((o->set & (flag)) && (a) != (b))

static int setup(Run *r, Error *e)
{
	const TrainOptions *o = r->o;
	r->eff = *o;
	if (prepare_dir(o->out_dir, e))
		return -1;
	RunDir rd;
	if (scan_dir(o->out_dir, &rd, e))
		return -1;
	float *params = NULL, *mo = NULL, *vo = NULL;
	int rc = -1, version, resuming = o->resume && rd.n > 0;
	uint32_t vocab = 0;
	if (!o->resume && rd.any_model) {
		err_set(e, "%s: already holds a run (model_*.bin); use --resume to continue it or another directory",
			o->out_dir);
		goto out;
	}
	if (resuming) {
		long long step = rd.steps[rd.n - 1];
		char *mp = path_in(o->out_dir, "model_%08lld.bin", step);
		char *sp = path_in(o->out_dir, "state_%08lld.bin", step);
		int bad = !mp || !sp || ckpt_load(mp, &r->config, &params, &version, e) ||
			  state_read(sp, &r->st, NULL, NULL, e);
		if (!bad && memcmp(&r->st.config, &r->config, sizeof r->config) != 0)
			bad = err_set(e, "%s: model shape differs from %s's", mp, sp);
		if (!bad && (o->set & SET_SHAPE) &&
		    (o->shape.num_layers != r->config.num_layers || o->shape.num_heads != r->config.num_heads ||
		     o->shape.channels != r->config.channels || o->shape.max_seq_len != r->config.max_seq_len))
			bad = err_set(e, "%s: checkpoint of another shape (L=%d H=%d C=%d context %d) than asked for",
				      mp, r->config.num_layers, r->config.num_heads, r->config.channels,
				      r->config.max_seq_len);
		if (!bad) {
			size_t n = gpt2_num_params(&r->config);
			mo = malloc(n * sizeof(float));
			vo = malloc(n * sizeof(float));
			bad = !mo || !vo ? err_set(e, "out of memory") : state_read(sp, &r->st, mo, vo, e);
		}
		free(mp);
		free(sp);
		if (bad)
			goto out;
		TrainState *s = &r->st;
		if (DIFFERS(SET_B, o->B, s->B) || DIFFERS(SET_T, o->T, s->T) ||
		    DIFFERS(SET_BATCH_TOKENS, o->batch_tokens, s->batch_tokens) || DIFFERS(SET_LR, o->lr, s->lr) ||
		    DIFFERS(SET_WARMUP, o->warmup, s->warmup) || DIFFERS(SET_SCHEDULE, o->schedule, s->schedule) ||
		    DIFFERS(SET_FINAL_LR, o->final_lr_frac, s->final_lr_frac) ||
		    DIFFERS(SET_WD, o->weight_decay, s->weight_decay) || DIFFERS(SET_CLIP, o->clip, s->clip) ||
		    DIFFERS(SET_SEED, o->seed, s->seed)) {
			err_set(e, "%s: the run was started with other optimisation options; drop them to resume it",
				o->out_dir);
			goto out;
		}
		r->eff.B = s->B;
		r->eff.T = s->T;
		r->eff.batch_tokens = s->batch_tokens;
		r->eff.lr = s->lr;
		r->eff.warmup = s->warmup;
		r->eff.schedule = s->schedule;
		r->eff.final_lr_frac = s->final_lr_frac;
		r->eff.weight_decay = s->weight_decay;
		r->eff.clip = s->clip;
		r->eff.seed = s->seed;
		r->eff.beta1 = s->beta1;
		r->eff.beta2 = s->beta2;
		r->eff.eps = s->eps;
		vocab = r->config.vocab_size;
	} else if (o->init_path) {
		if (ckpt_load(o->init_path, &r->config, &params, &version, e))
			goto out;
		if ((o->set & SET_SHAPE) &&
		    (o->shape.num_layers != r->config.num_layers || o->shape.num_heads != r->config.num_heads ||
		     o->shape.channels != r->config.channels)) {
			err_set(e, "%s: checkpoint of another shape (L=%d H=%d C=%d) than asked for", o->init_path,
				r->config.num_layers, r->config.num_heads, r->config.channels);
			goto out;
		}
		vocab = r->config.vocab_size;
	}

	/* data */
	if (data_load(&r->train, o->inputs, o->n_inputs, &vocab, e))
		goto out;
	if (r->train.n == 0) {
		err_set(e, "%s: no tokens to train on", r->train.name);
		goto out;
	}
	if (o->val_path) {
		uint32_t vv = vocab;
		const char *vp[1] = { o->val_path };
		if (data_load(&r->val, vp, 1, &vv, e))
			goto out;
	} else if (o->val_fraction > 0) {
		size_t nv = (size_t)(r->train.n * o->val_fraction);
		if (data_split_tail(&r->train, &r->val, nv, e))
			goto out;
	}
	if (!params) { /* a new model */
		r->config = o->shape;
		r->config.vocab_size = (int)vocab;
		r->config.padded_vocab_size = gpt2_pad_vocab((int)vocab);
		GPT2 m;
		if (gpt2_create(&m, &r->config, e))
			goto out;
		gpt2_init_random(&m, r->eff.seed);
		params = m.params_memory; /* take over the allocation */
	}

	/* shapes and sizes */
	int B = r->eff.B, T = r->eff.T;
	size_t BT = (size_t)B * T;
	if (T > r->config.max_seq_len) {
		err_set(e, "-t %d is longer than the model's context (%d)", T, r->config.max_seq_len);
		goto out;
	}
	if (r->eff.batch_tokens == 0)
		r->eff.batch_tokens = (long long)BT;
	if (r->eff.batch_tokens % (long long)BT) {
		err_set(e, "--batch-tokens %lld is not a multiple of -b %d x -t %d", r->eff.batch_tokens, B, T);
		goto out;
	}
	r->accum = (int)(r->eff.batch_tokens / (long long)BT);
	if (r->train.n < BT + 1) {
		err_set(e, "%s: %zu training tokens are fewer than one batch needs (%d x %d + 1)", r->train.name,
			r->train.n, B, T);
		goto out;
	}
	if ((o->val_path || o->val_fraction > 0) && r->val.n < BT + 1) {
		err_set(e, "%s: %zu validation tokens are fewer than one batch needs (%d x %d + 1)",
			o->val_path ? o->val_path : "--val-fraction", r->val.n, B, T);
		goto out;
	}
	uint64_t hash = data_hash(r->train.tok, r->train.n);
	if (resuming && (hash != r->st.data_hash || r->train.n != r->st.data_tokens)) {
		err_set(e, "%s: the training data differs from the run's (%llu tokens then, %zu now)",
			r->train.name, (unsigned long long)r->st.data_tokens, r->train.n);
		goto out;
	}
	if (o->steps > 0)
		r->total_steps = o->steps;
	else if (resuming && !o->epochs)
		r->total_steps = r->st.total_steps;
	else {
		long long per_epoch = (long long)((r->train.n - 1) / (size_t)r->eff.batch_tokens);
		r->total_steps = (o->epochs ? o->epochs : 1) * (per_epoch > 0 ? per_epoch : 1);
	}
	if (resuming && r->total_steps < r->st.step) {
		err_set(e, "%s: the run is at step %lld, past --steps %lld", o->out_dir, (long long)r->st.step,
			r->total_steps);
		goto out;
	}

	/* the device */
	int dev = o->device;
#ifdef GPTKIT_CUDA
	if (dev == DEVICE_CUDA || dev == DEVICE_AUTO) {
		if (backend_cuda_open(&r->be, &r->config, params, mo, vo, B, T, e) == 0)
			dev = -1;
		else if (dev == DEVICE_CUDA)
			goto out;
	}
#else
	if (dev == DEVICE_CUDA) {
		err_set(e, "--device cuda: built without CUDA");
		goto out;
	}
#endif
	if (dev != -1 && backend_cpu_open(&r->be, &r->config, params, mo, vo, B, T, e))
		goto out;

	/* state of a new run */
	if (!resuming) {
		memset(&r->st, 0, sizeof r->st);
		r->st.config = r->config;
		r->st.seed = r->eff.seed;
		r->st.B = B;
		r->st.T = T;
		r->st.batch_tokens = r->eff.batch_tokens;
		r->st.warmup = r->eff.warmup;
		r->st.schedule = r->eff.schedule;
		r->st.lr = r->eff.lr;
		r->st.final_lr_frac = r->eff.final_lr_frac;
		r->st.weight_decay = r->eff.weight_decay;
		r->st.clip = r->eff.clip;
		r->st.beta1 = r->eff.beta1;
		r->st.beta2 = r->eff.beta2;
		r->st.eps = r->eff.eps;
		rng_seed(&r->rng, r->eff.seed ^ 0x5a5a5a5aull);
	} else {
		r->rng.s = r->st.rng;
	}
	r->st.total_steps = r->total_steps;
	r->st.data_tokens = r->train.n;
	r->st.data_hash = hash;
	r->last_ckpt = resuming ? r->st.step : -1;

	r->inp = malloc(BT * sizeof(int));
	r->tgt = malloc(BT * sizeof(int));
	if (!r->inp || !r->tgt) {
		err_set(e, "out of memory");
		goto out;
	}
	if (o->sample_every > 0 && r->train.encoding[0]) {
		Error te;
		r->tok = tok_open(r->train.encoding, &te); /* unknown encoding: ids are printed */
	}

	/* the log: from here on the directory changes */
	if (asprintf(&r->log_path, "%s/log.txt", o->out_dir) < 0) {
		err_set(e, "out of memory");
		goto out;
	}
	if (resuming && trim_log(r->log_path, r->st.step, e))
		goto out;
	r->log = fopen(r->log_path, resuming ? "a" : "w");
	if (!r->log) {
		err_errno(e, "%s", r->log_path);
		goto out;
	}
	if (!resuming)
		fprintf(r->log, "# gpt-train log: step kind loss lr grad_norm ms tokens_per_s\n");
	fflush(r->log);
	rc = 0;
out:
	free(params);
	free(mo);
	free(vo);
	free(rd.steps);
	return rc;
}

static void teardown(Run *r)
{
	if (r->be.close)
		r->be.close(&r->be);
	if (r->log)
		fclose(r->log);
	if (r->tok)
		tok_free(r->tok);
	data_free(&r->train);
	data_free(&r->val);
	free(r->inp);
	free(r->tgt);
	free(r->log_path);
}

int train_run(const TrainOptions *o, volatile sig_atomic_t *stop, Error *e)
{
	Run run, *r = &run;
	memset(r, 0, sizeof *r);
	r->o = o;
	if (setup(r, e)) {
		teardown(r);
		return -1;
	}
	int have_val = r->val.n > 0, rc = 0;
	Progress prog;
	progress_init(&prog, "step", (uint64_t)r->total_steps, o->quiet ? PROGRESS_QUIET : o->progress_mode);
	long long step = r->st.step;
	float val_loss = -1;
	char extra[96] = "";
	while (step < r->total_steps && !*stop) {
		double t0 = io_now();
		float lr = train_lr(&r->eff, step, r->total_steps), loss, norm;
		/* the host prepares micro-batch k + 1 while the device runs k */
		for (int k = 0; k < r->accum; k++) {
			next_batch(r);
			r->be.micro_step(&r->be, r->inp, r->tgt, 1.0f / r->accum, k > 0);
		}
		r->be.update(&r->be, lr, r->eff.beta1, r->eff.beta2, r->eff.eps, r->eff.weight_decay, r->eff.clip,
			     (int)(step + 1), &loss, &norm);
		loss /= r->accum;
		step++;
		double ms = (io_now() - t0) * 1000.0;
		double tps = r->eff.batch_tokens / (ms / 1000.0);
		fprintf(r->log, "%lld train %.6f %.6e %.6f %.1f %.0f\n", step, loss, lr, norm, ms, tps);
		fflush(r->log);
		snprintf(extra, sizeof extra, "loss %.4f  %.0f tok/s", loss, tps);
		progress_update(&prog, (uint64_t)step, extra);
		if (have_val && ((o->eval_every > 0 && step % o->eval_every == 0) || step == r->total_steps)) {
			double t1 = io_now();
			val_loss = evaluate(r);
			fprintf(r->log, "%lld val %.6f - - %.1f -\n", step, val_loss, (io_now() - t1) * 1000.0);
			fflush(r->log);
			if (!o->quiet && o->eval_every > 0) {
				if (prog.drawn)
					fputc('\n', stderr);
				fprintf(stderr, "step %lld: train loss %.4f, val loss %.4f\n", step, loss, val_loss);
			}
		}
		if (o->sample_every > 0 && step % o->sample_every == 0) {
			if (prog.drawn)
				fputc('\n', stderr);
			sample(r, step);
		}
		if ((o->checkpoint_every > 0 && step % o->checkpoint_every == 0) || step == r->total_steps) {
			if (save(r, step, e)) {
				rc = -1;
				break;
			}
		}
	}
	if (rc == 0 && *stop) {
		if (r->last_ckpt != step && save(r, step, e))
			rc = -1;
		else
			rc = (int)*stop;
	}
	progress_done(&prog, (uint64_t)step, extra[0] ? extra : NULL);
	teardown(r);
	return rc;
}
