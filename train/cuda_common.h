/* Helpers shared by the .cu files (C++ only): element types, conversions,
 * warp and block reductions, the launch-status check. */
#ifndef GPTKIT_CUDA_COMMON_H
#define GPTKIT_CUDA_COMMON_H

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "cuda_kernels.h"
#include "cuda_math.h"

typedef __nv_bfloat16 bf16;

__device__ __forceinline__ float tof(float x) { return x; }
__device__ __forceinline__ float tof(bf16 x) { return __bfloat162float(x); }

template <typename T> __device__ __forceinline__ T fromf(float x);
template <> __device__ __forceinline__ float fromf<float>(float x) { return x; }
template <> __device__ __forceinline__ bf16 fromf<bf16>(float x) { return __float2bfloat16_rn(x); }

__device__ __forceinline__ float warp_sum(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v += __shfl_xor_sync(0xFFFFFFFFu, v, o);
	return v;
}

__device__ __forceinline__ float warp_max(float v)
{
	for (int o = 16; o > 0; o >>= 1)
		v = fmaxf(v, __shfl_xor_sync(0xFFFFFFFFu, v, o));
	return v;
}

/* Sum over a block of blockDim.x threads (a multiple of 32, <= 1024); every
 * thread gets the result.  The order is fixed by the thread layout.  shared
 * holds 32 floats; the block must not use it concurrently. */
__device__ __forceinline__ float block_sum(float v, float *shared)
{
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
	v = warp_sum(v);
	__syncthreads();
	if (lane == 0)
		shared[warp] = v;
	__syncthreads();
	v = lane < nw ? shared[lane] : 0.0f;
	return warp_sum(v);
}

static inline unsigned ck_blocks(size_t n, unsigned threads)
{
	return (unsigned)((n + threads - 1) / threads);
}

static inline cudaStream_t ck_stream(void *s) { return (cudaStream_t)s; }

static inline int ck_status(void)
{
	return cudaGetLastError() == cudaSuccess ? 0 : -1;
}

/* Launch F<float> or F<bf16> by the runtime type. */
#define CK_DISPATCH(t, F, ...) ((t) == CK_BF16 ? F<bf16>(__VA_ARGS__) : F<float>(__VA_ARGS__))

/* The host side's latching error, shared by the training model and the
 * inference engine: the first failure is kept with its cause, later ones are
 * ignored, and the C API reports it once.  `st` is any state struct with
 * `int broken; char err[N]; CkBlas *blas;`. */
static inline void ck_fail(int *broken, char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline void ck_fail(int *broken, char *err, size_t n, const char *fmt, ...)
{
	if (*broken)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
	*broken = 1;
}
#define CK_FAIL(st, ...) ck_fail(&(st)->broken, (st)->err, sizeof (st)->err, __VA_ARGS__)

/* A launcher's failure: the CUDA error if there is one, else cuBLASLt's. */
#define CK_LAUNCH(st, call)                                                                         \
	do {                                                                                        \
		if (!(st)->broken && (call) != 0) {                                                 \
			cudaError_t ce_ = cudaGetLastError();                                       \
			CK_FAIL(st, "%s: %s", #call,                                                \
				ce_ != cudaSuccess ? cudaGetErrorString(ce_) : ck_blas_error((st)->blas)); \
		}                                                                                   \
	} while (0)

#define CK_CUDA(st, call)                                                                    \
	do {                                                                                 \
		cudaError_t ce_ = (call);                                                    \
		if (ce_ != cudaSuccess)                                                      \
			CK_FAIL(st, "%s: %s", #call, cudaGetErrorString(ce_));               \
	} while (0)

#endif
