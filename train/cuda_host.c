/* Host-side helpers of the CUDA backend: see cuda_host.h. */
#include "cuda_host.h"

#include <stdlib.h>

typedef struct {
	int tok, pos;
} TokPos;

static int cmp_tokpos(const void *a, const void *b)
{
	const TokPos *x = a, *y = b;
	if (x->tok != y->tok)
		return (x->tok > y->tok) - (x->tok < y->tok);
	return (x->pos > y->pos) - (x->pos < y->pos);
}

int ck_encoder_buckets(const int *inp, int n, int *order, int *start, int *tok)
{
	if (n <= 0) {
		start[0] = 0;
		return 0;
	}
	TokPos *tp = malloc((size_t)n * sizeof *tp);
	if (!tp)
		return -1;
	for (int i = 0; i < n; i++) {
		tp[i].tok = inp[i];
		tp[i].pos = i;
	}
	qsort(tp, (size_t)n, sizeof *tp, cmp_tokpos);
	int nb = 0;
	for (int i = 0; i < n; i++) {
		if (i == 0 || tp[i].tok != tp[i - 1].tok) {
			start[nb] = i;
			tok[nb] = tp[i].tok;
			nb++;
		}
		order[i] = tp[i].pos;
	}
	start[nb] = n;
	free(tp);
	return nb;
}
