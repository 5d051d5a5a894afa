/* The training state file of gpt-train (gpt-checkpoint(5)): everything a
 * resumed run needs beside the model file to continue exactly where the
 * first run stopped: step, data position, RNG, the options that matter, a
 * fingerprint of the data, and the AdamW moments. */
#ifndef GPTKIT_STATE_H
#define GPTKIT_STATE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STATE_MAGIC 20241127
#define STATE_VERSION 1
#define STATE_HEADER_BYTES 1024

typedef struct {
	GPT2Config config;
	int64_t step;           /* optimizer steps done */
	int64_t total_steps;    /* the run's planned steps (the LR schedule's length) */
	uint64_t data_pos;      /* next training token */
	uint64_t epoch;         /* completed passes over the training data */
	uint64_t rng;           /* sampling RNG state */
	uint64_t data_tokens;   /* training tokens */
	uint64_t data_hash;     /* FNV-1a of the training tokens */
	uint64_t seed;
	int32_t B, T;
	int64_t batch_tokens, warmup;
	int32_t schedule;       /* 0 cosine, 1 linear, 2 constant */
	float lr, final_lr_frac, weight_decay, clip, beta1, beta2, eps;
} TrainState;

/* Atomically write the state and the moments m, v (n floats each). */
int state_write(const char *path, const TrainState *s, const float *m, const float *v, size_t n,
		Error *e);
/* Read the header only (m, v NULL) or also the moments into m, v (n floats
 * each, n must match the header's model). */
int state_read(const char *path, TrainState *s, float *m, float *v, Error *e);
/* Parse a header in memory (used by state_read and the fuzzer). */
int state_parse(const uint8_t hdr[STATE_HEADER_BYTES], TrainState *s, const char *name, Error *e);

#ifdef __cplusplus
}
#endif

#endif
