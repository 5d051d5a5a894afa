/* gpt-eval's library: the loss of a model over token streams (mean loss,
 * perplexity, bits per byte) in context windows, and multiple-choice tasks
 * (HellaSwag JSONL and llm.c's .bin eval files) scored by completion loss.
 * The losses come from train/'s gpt2_forward, the same code gpt-train's
 * validation uses, so the numbers agree. */
#ifndef GPTKIT_EVAL_H
#define GPTKIT_EVAL_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "gpt2.h"
#include "tok.h"

/* Load a checkpoint or a Hugging Face model into m (fp32, no activations yet). */
int eval_load_model(GPT2 *m, const char *path, Error *e);

typedef struct {
	double nats;       /* summed loss over the scored targets */
	uint64_t tokens;   /* scored targets */
	uint64_t bytes;    /* their decoded length (0 when no tokenizer) */
	uint64_t windows;  /* forward passes */
} LossSum;

/* Score tokens[0..n): windows of T inputs (T <= maxT) starting every stride
 * tokens (stride <= T); each window's targets are its inputs shifted by one,
 * and each target is scored once (the first window scores all of its
 * targets, later ones their last stride).  With stride == T this is llm.c's
 * (and gpt-train's) evaluation: consecutive windows, every token a target
 * except the first.  tok (may be NULL) counts bytes for bits per byte. */
int eval_stream(GPT2 *m, const uint32_t *tokens, size_t n, int T, int stride, const Tokenizer *tok,
		LossSum *sum, Error *e);

#define MC_MAX_CHOICES 16
typedef struct {
	int label, nchoices, index;
	double sum[MC_MAX_CHOICES];   /* summed completion loss */
	double mean[MC_MAX_CHOICES];  /* per completion token */
	int chars[MC_MAX_CHOICES];    /* length of the ending in characters (harness norm) */
	int pred, pred_norm, pred_harness;
} McResult;

typedef struct {
	uint32_t *ctx;
	size_t nctx;
	uint32_t *end[MC_MAX_CHOICES];
	size_t nend[MC_MAX_CHOICES];
	int chars[MC_MAX_CHOICES];
	int nchoices, label, index;
} McExample;

/* Read HellaSwag JSONL ({"ctx", "endings", "label"}; context = ctx, each
 * ending encoded as " " + ending, as llm.c does) or llm.c's eval .bin file
 * (magic 20240522), whichever path holds; tok encodes JSONL and decodes
 * .bin endings to count characters. */
int mc_read(const char *path, const Tokenizer *tok, McExample **ex, size_t *n, Error *e);
void mc_free(McExample *ex, size_t n);
/* Score one example: the completion losses of each ending after the context
 * (left-truncated to the model's context). */
int mc_score(GPT2 *m, const McExample *ex, McResult *r, Error *e);

#endif
