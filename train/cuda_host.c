/* Host-side helpers of the CUDA backend: see cuda_host.h. */
#include "cuda_host.h"

#include <stdlib.h>

/* A counting sort by token, stable in position: O(n + max token), under a
 * millisecond for a 128 x 1024 batch of GPT-2 tokens (the qsort it replaced
 * took ~10 ms, time the GPU would wait for the next step). */
int ck_encoder_buckets(const int *inp, int n, int *order, int *start, int *tok)
{
	if (n <= 0) {
		start[0] = 0;
		return 0;
	}
	int maxt = 0;
	for (int i = 0; i < n; i++)
		maxt = inp[i] > maxt ? inp[i] : maxt;
	int *count = calloc((size_t)maxt + 2, sizeof *count);
	if (!count)
		return -1;
	for (int i = 0; i < n; i++)
		count[inp[i] + 1]++;
	for (int v = 0; v <= maxt; v++)
		count[v + 1] += count[v]; /* count[v] = first slot of token v */
	int nb = 0;
	for (int v = 0; v <= maxt; v++)
		if (count[v + 1] > count[v]) {
			start[nb] = count[v];
			tok[nb] = v;
			nb++;
		}
	start[nb] = n;
	for (int i = 0; i < n; i++)
		order[count[inp[i]]++] = i;
	free(count);
	return nb;
}
