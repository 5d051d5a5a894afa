/* Host-side helpers of the CUDA backend that need no GPU (cuda_host.c is
 * compiled in every build and tested by tests/test_cuda_host.c). */
#ifndef GPTKIT_CUDA_HOST_H
#define GPTKIT_CUDA_HOST_H

/* Group the n positions of inp by token for the deterministic embedding
 * backward: order[0..n) lists the positions sorted by (token, position);
 * bucket k covers order[start[k] .. start[k+1]) and holds token tok[k].
 * order and tok hold n ints, start n + 1.  Returns the number of buckets,
 * or -1 when out of memory. */
#ifdef __cplusplus
extern "C"
#endif
int ck_encoder_buckets(const int *inp, int n, int *order, int *start, int *tok);

#endif
