/* Samplers; see sampler.h.  The filters run in Hugging Face's order:
 * repetition penalty, temperature, top-k, top-p, min-p. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	float p;
	int i;
} ProbIndex;

int sampler_init(Sampler *s, const SamplerParams *p, int V, uint64_t seed, Error *e)
{
	memset(s, 0, sizeof *s);
	s->p = *p;
	s->V = V;
	rng_seed(&s->rng, seed);
	s->prob = malloc((size_t)V * sizeof *s->prob);
	s->idx = malloc((size_t)V * sizeof(ProbIndex));
	s->seen = calloc((size_t)V, 1);
	if (!s->prob || !s->idx || !s->seen) {
		sampler_free(s);
		return err_set(e, "out of memory for the sampler");
	}
	return 0;
}

void sampler_free(Sampler *s)
{
	free(s->prob);
	free(s->idx);
	free(s->seen);
	memset(s, 0, sizeof *s);
}

const float *sampler_probs(const Sampler *s)
{
	return s->prob;
}

static int by_prob_desc(const void *a, const void *b)
{
	const ProbIndex *x = a, *y = b;
	if (x->p != y->p)
		return x->p > y->p ? -1 : 1;
	return x->i - y->i; /* ties by index: deterministic */
}

/* Move the k largest of a[0..n) to the front (in any order): quickselect. */
static void select_top(ProbIndex *a, int n, int k)
{
	int lo = 0, hi = n - 1;
	while (lo < hi) {
		ProbIndex pivot = a[(lo + hi) / 2];
		int i = lo, j = hi;
		while (i <= j) {
			while (by_prob_desc(&a[i], &pivot) < 0)
				i++;
			while (by_prob_desc(&a[j], &pivot) > 0)
				j--;
			if (i <= j) {
				ProbIndex t = a[i];
				a[i++] = a[j];
				a[j--] = t;
			}
		}
		if (k - 1 <= j)
			hi = j;
		else if (k - 1 >= i)
			lo = i;
		else
			break;
	}
}

int sampler_next(Sampler *s, float *logits, const int *ctx, int n)
{
	int V = s->V;
	const SamplerParams *p = &s->p;
	if (p->repetition_penalty != 1.0f) {
		for (int i = 0; i < n; i++)
			if (ctx[i] >= 0 && ctx[i] < V && !s->seen[ctx[i]]) {
				int t = ctx[i];
				s->seen[t] = 1;
				logits[t] = logits[t] > 0 ? logits[t] / p->repetition_penalty
							  : logits[t] * p->repetition_penalty;
			}
		for (int i = 0; i < n; i++)
			if (ctx[i] >= 0 && ctx[i] < V)
				s->seen[ctx[i]] = 0;
	}
	if (p->temperature <= 0.0f) {
		int best = 0;
		for (int i = 1; i < V; i++)
			if (logits[i] > logits[best])
				best = i;
		return best;
	}
	float mx = logits[0];
	for (int i = 1; i < V; i++)
		if (logits[i] > mx)
			mx = logits[i];
	double sum = 0;
	for (int i = 0; i < V; i++) {
		s->prob[i] = expf((logits[i] - mx) / p->temperature);
		sum += s->prob[i];
	}
	for (int i = 0; i < V; i++)
		s->prob[i] = (float)(s->prob[i] / sum);

	/* Candidates, most probable first when a filter needs an order. */
	ProbIndex *c = (ProbIndex *)s->idx;
	int nc = 0;
	int k = p->top_k > 0 && p->top_k < V ? p->top_k : V;
	int need_order = k < V || p->top_p < 1.0f;
	if (k == V && p->top_p < 1.0f) {
		/* Tokens below (1 - top_p) / (V - 1) can never be in the nucleus. */
		float cut = (1.0f - p->top_p) / (float)(V - 1);
		for (int i = 0; i < V; i++)
			if (s->prob[i] >= cut)
				c[nc++] = (ProbIndex){ s->prob[i], i };
	} else {
		for (int i = 0; i < V; i++)
			c[nc++] = (ProbIndex){ s->prob[i], i };
	}
	if (need_order) {
		if (k < nc) {
			select_top(c, nc, k);
			nc = k;
		}
		qsort(c, (size_t)nc, sizeof *c, by_prob_desc);
	}
	double mass = 0;
	for (int i = 0; i < nc; i++)
		mass += c[i].p;
	if (p->top_p < 1.0f) {
		double cum = 0;
		int keep = nc;
		for (int i = 0; i < nc; i++) {
			cum += c[i].p / mass;
			if (cum >= p->top_p) {
				keep = i + 1;
				break;
			}
		}
		nc = keep;
	}
	if (p->min_p > 0.0f) {
		float top = 0;
		for (int i = 0; i < nc; i++)
			if (c[i].p > top)
				top = c[i].p;
		int m = 0;
		for (int i = 0; i < nc; i++)
			if (c[i].p >= p->min_p * top)
				c[m++] = c[i];
		nc = m;
	}
	/* Renormalise over the survivors (the probabilities tests read) and draw. */
	mass = 0;
	for (int i = 0; i < nc; i++)
		mass += c[i].p;
	memset(s->prob, 0, (size_t)V * sizeof *s->prob);
	for (int i = 0; i < nc; i++)
		s->prob[c[i].i] = (float)(c[i].p / mass);
	double r = rng_uniform(&s->rng) * mass, cum = 0;
	for (int i = 0; i < nc; i++) {
		cum += c[i].p;
		if (r < cum)
			return c[i].i;
	}
	return c[nc - 1].i;
}
