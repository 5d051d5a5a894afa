/* gpt-train's training run: data, model, the optimisation loop, evaluation,
 * samples, the log, checkpoints and resume, on a TrainBackend. */
#ifndef GPTKIT_TRAIN_H
#define GPTKIT_TRAIN_H

#include <signal.h>
#include <stdint.h>
#include "err.h"
#include "gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { LR_COSINE, LR_LINEAR, LR_CONSTANT };
enum { DEVICE_CPU, DEVICE_CUDA, DEVICE_AUTO };

/* Options the user set explicitly (a resumed run refuses to change them). */
enum {
	SET_B = 1 << 0, SET_T = 1 << 1, SET_BATCH_TOKENS = 1 << 2, SET_LR = 1 << 3,
	SET_WARMUP = 1 << 4, SET_SCHEDULE = 1 << 5, SET_FINAL_LR = 1 << 6, SET_WD = 1 << 7,
	SET_CLIP = 1 << 8, SET_SEED = 1 << 9, SET_SHAPE = 1 << 10,
};

typedef struct {
	const char *const *inputs; int n_inputs;
	const char *val_path;
	double val_fraction;
	GPT2Config shape;          /* for a new model (vocabulary from the data) */
	const char *init_path;
	int B, T;
	long long batch_tokens;    /* 0 = B*T */
	long long steps;           /* 0 = from epochs */
	int epochs;                /* 0 = 1 */
	float lr, final_lr_frac, weight_decay, clip, beta1, beta2, eps;
	long long warmup;
	int schedule;
	uint64_t seed;
	const char *out_dir;
	long long checkpoint_every;
	int keep;
	int resume;
	long long eval_every;
	int eval_batches;
	long long sample_every;
	int sample_tokens;
	int progress_mode;         /* PROGRESS_* */
	int quiet;
	int device;
	unsigned set;              /* SET_* */
} TrainOptions;

/* Run training.  Returns 0 when done, the signal number when *stop was
 * raised (a checkpoint has been written), -1 on error (e says why; nothing
 * in the output directory has been damaged). */
int train_run(const TrainOptions *o, volatile sig_atomic_t *stop, Error *e);

/* Learning rate at step (0-based) of total. */
float train_lr(const TrainOptions *o, long long step, long long total);

#ifdef __cplusplus
}
#endif

#endif
