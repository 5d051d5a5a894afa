/* One query's causal attention over a head's cached keys and values, in one
 * pass (the decode step's attention; see attend.c). */
#ifndef GPTKIT_ATTEND_H
#define GPTKIT_ATTEND_H

#include <stdint.h>

#include "kernels.h"

/* out (hs) = softmax(scale * K q) V over n positions; K and V are (n, hs)
 * row-major (one head's cache).  Returns 0 where level k has no kernel for
 * this head size (the caller computes it itself), 1 when done. */
int kern_attend_f32(KernelLevel k, float *out, const float *q, const float *K, const float *V, int n, int hs,
		    float scale);
/* The same over a bf16 cache (keys and values rounded to bf16). */
int kern_attend_bf16(KernelLevel k, float *out, const float *q, const uint16_t *K, const uint16_t *V, int n,
		     int hs, float scale);

#endif
