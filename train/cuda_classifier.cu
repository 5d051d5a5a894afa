/* The fused classifier: softmax + cross-entropy + its gradient in one
 * kernel, one block per position.  Pass 1 runs the online softmax over the
 * row (each thread a strided slice, then the (max, sum) pairs merged across
 * the block in a fixed order, cuda_math.h); pass 2, with a gradient wanted,
 * overwrites the logits with dloss * (exp(logit - lse) - onehot).  The
 * probabilities are never stored. */
#include "cuda_common.h"

#include <stdlib.h>
#include <string.h>

#define CE_THREADS 512

template <typename T>
__global__ void __launch_bounds__(CE_THREADS)
	crossentropy_kernel(float *losses, T *logits, const int *targets, float dloss, int V, int Vp)
{
	__shared__ float sm_m[CE_THREADS / 32], sm_l[CE_THREADS / 32];
	__shared__ float s_lse;
	T *x = logits + (size_t)blockIdx.x * Vp;
	int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	float m = -INFINITY, l = 0.0f;
	for (int i = tid; i < V; i += blockDim.x) {
		float v = tof(x[i]);
		if (v > m) {
			l = l * ck_softmax_rescale(m, v) + 1.0f;
			m = v;
		} else {
			l += expf(v - m);
		}
	}
	/* merge within the warp, then across warps, in a fixed order */
	for (int o = 16; o > 0; o >>= 1) {
		float m2 = __shfl_xor_sync(0xFFFFFFFFu, m, o), l2 = __shfl_xor_sync(0xFFFFFFFFu, l, o);
		ck_softmax_merge(&m, &l, m2, l2);
	}
	if (lane == 0) {
		sm_m[warp] = m;
		sm_l[warp] = l;
	}
	__syncthreads();
	if (tid == 0) {
		float M = sm_m[0], L = sm_l[0];
		for (int w = 1; w < (int)(blockDim.x / 32); w++)
			ck_softmax_merge(&M, &L, sm_m[w], sm_l[w]);
		float lse = M + logf(L);
		s_lse = lse;
		int tg = targets[blockIdx.x];
		losses[blockIdx.x] = lse - tof(x[tg]);
	}
	__syncthreads();
	if (dloss == 0.0f)
		return;
	float lse = s_lse;
	int tg = targets[blockIdx.x];
	for (int i = tid; i < Vp; i += blockDim.x) {
		float d = 0.0f;
		if (i < V)
			d = (expf(tof(x[i]) - lse) - (i == tg ? 1.0f : 0.0f)) * dloss;
		x[i] = fromf<T>(d);
	}
}

/* The same with 16-byte loads and stores (Vp a multiple of the vector):
 * each thread folds a whole vector into its (max, sum) at once, so the
 * online softmax rescales once per vector rather than per element.  (A
 * version that kept the row in registers between the passes, to read the
 * logits once, measured slower on an H100: 17.0 against 13.5 ms a d12 step
 * at B=128; one block per SM could not hide the loads.) */
template <typename T>
__global__ void __launch_bounds__(CE_THREADS)
	crossentropy_vec_kernel(float *losses, T *logits, const int *targets, float dloss, int V, int Vp)
{
	constexpr int VEC = 16 / sizeof(T);
	__shared__ float sm_m[CE_THREADS / 32], sm_l[CE_THREADS / 32];
	__shared__ float s_lse;
	T *x = logits + (size_t)blockIdx.x * Vp;
	int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	float m = -INFINITY, l = 0.0f;
	for (int i0 = tid * VEC; i0 < V; i0 += blockDim.x * VEC) {
		uint4 raw = *(const uint4 *)(x + i0);
		const T *vv = (const T *)&raw;
		float f[VEC], vm = -INFINITY;
#pragma unroll
		for (int j = 0; j < VEC; j++) {
			f[j] = i0 + j < V ? tof(vv[j]) : -INFINITY;
			vm = fmaxf(vm, f[j]);
		}
		if (vm > m) {
			l *= ck_softmax_rescale(m, vm);
			m = vm;
		}
#pragma unroll
		for (int j = 0; j < VEC; j++)
			l += expf(f[j] - m);
	}
	for (int o = 16; o > 0; o >>= 1) {
		float m2 = __shfl_xor_sync(0xFFFFFFFFu, m, o), l2 = __shfl_xor_sync(0xFFFFFFFFu, l, o);
		ck_softmax_merge(&m, &l, m2, l2);
	}
	if (lane == 0) {
		sm_m[warp] = m;
		sm_l[warp] = l;
	}
	__syncthreads();
	if (tid == 0) {
		float M = sm_m[0], L = sm_l[0];
		for (int w = 1; w < (int)(blockDim.x / 32); w++)
			ck_softmax_merge(&M, &L, sm_m[w], sm_l[w]);
		float lse = M + logf(L);
		s_lse = lse;
		int tg = targets[blockIdx.x];
		losses[blockIdx.x] = lse - tof(x[tg]);
	}
	__syncthreads();
	if (dloss == 0.0f)
		return;
	float lse = s_lse;
	int tg = targets[blockIdx.x];
	for (int i0 = tid * VEC; i0 < Vp; i0 += blockDim.x * VEC) {
		uint4 raw = *(const uint4 *)(x + i0);
		T *vv = (T *)&raw;
#pragma unroll
		for (int j = 0; j < VEC; j++) {
			int i = i0 + j;
			float d = 0.0f;
			if (i < V)
				d = (expf(tof(vv[j]) - lse) - (i == tg ? 1.0f : 0.0f)) * dloss;
			vv[j] = fromf<T>(d);
		}
		*(uint4 *)(x + i0) = raw;
	}
}

/* bf16 rows of up to NV * 8 * 1024 logits (GPT-2's 50304: 7 vectors a
 * thread), 1024 threads a row: the row is read once into registers and the
 * gradient written from them, so the logits cross memory once each way
 * instead of three times.  (A 512-thread version, 13 vectors a thread,
 * measured slower than the vector kernel: one block of 16 warps per SM
 * could not hide the loads.)  Selected with GPTKIT_CUDA_CE=reg. */
#define CER_THREADS 1024

template <int NV>
__global__ void __launch_bounds__(CER_THREADS, 1)
	crossentropy_reg_kernel(float *losses, bf16 *logits, const int *targets, float dloss, int V, int Vp)
{
	__shared__ float sm_m[CER_THREADS / 32], sm_l[CER_THREADS / 32];
	__shared__ float s_lse;
	bf16 *x = logits + (size_t)blockIdx.x * Vp;
	int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	uint4 r[NV];
#pragma unroll
	for (int j = 0; j < NV; j++) {
		int i0 = (j * CER_THREADS + tid) * 8;
		r[j] = i0 < Vp ? *(const uint4 *)(x + i0) : make_uint4(0, 0, 0, 0);
	}
	float m = -INFINITY, l = 0.0f;
#pragma unroll
	for (int j = 0; j < NV; j++) {
		int i0 = (j * CER_THREADS + tid) * 8;
		if (i0 >= V)
			continue;
		const bf16 *vv = (const bf16 *)&r[j];
		float f[8], vm = -INFINITY;
#pragma unroll
		for (int e = 0; e < 8; e++) {
			f[e] = i0 + e < V ? __bfloat162float(vv[e]) : -INFINITY;
			vm = fmaxf(vm, f[e]);
		}
		if (vm > m) {
			l *= ck_softmax_rescale(m, vm);
			m = vm;
		}
#pragma unroll
		for (int e = 0; e < 8; e++)
			l += expf(f[e] - m);
	}
	for (int o = 16; o > 0; o >>= 1) {
		float m2 = __shfl_xor_sync(0xFFFFFFFFu, m, o), l2 = __shfl_xor_sync(0xFFFFFFFFu, l, o);
		ck_softmax_merge(&m, &l, m2, l2);
	}
	if (lane == 0) {
		sm_m[warp] = m;
		sm_l[warp] = l;
	}
	__syncthreads();
	if (tid == 0) {
		float M = sm_m[0], L = sm_l[0];
		for (int w = 1; w < CER_THREADS / 32; w++)
			ck_softmax_merge(&M, &L, sm_m[w], sm_l[w]);
		float lse = M + logf(L);
		s_lse = lse;
		int tg = targets[blockIdx.x];
		losses[blockIdx.x] = lse - __bfloat162float(x[tg]);
	}
	__syncthreads();
	if (dloss == 0.0f)
		return;
	float lse = s_lse;
	int tg = targets[blockIdx.x];
#pragma unroll
	for (int j = 0; j < NV; j++) {
		int i0 = (j * CER_THREADS + tid) * 8;
		if (i0 >= Vp)
			continue;
		bf16 *vv = (bf16 *)&r[j];
#pragma unroll
		for (int e = 0; e < 8; e++) {
			int i = i0 + e;
			float d = 0.0f;
			if (i < V)
				d = (expf(__bfloat162float(vv[e]) - lse) - (i == tg ? 1.0f : 0.0f)) * dloss;
			vv[e] = __float2bfloat16_rn(d);
		}
		*(uint4 *)(x + i0) = r[j];
	}
}

__global__ void mean_kernel(float *out, const float *x, int n)
{
	__shared__ float sh[32];
	float s = 0.0f;
	for (int i = threadIdx.x; i < n; i += blockDim.x)
		s += x[i];
	s = block_sum(s, sh);
	if (threadIdx.x == 0)
		*out = s / (float)n;
}

template <typename T>
static int ce(float *losses, void *logits, const int *targets, float dloss, int N, int V, int Vp, void *stream)
{
	if (N <= 0)
		return 0;
	static int reg = -1;
	if (reg < 0) {
		const char *e = getenv("GPTKIT_CUDA_CE");
		reg = e && strcmp(e, "reg") == 0;
	}
	if (reg && sizeof(T) == 2 && Vp % 8 == 0 && (uintptr_t)logits % 16 == 0 && Vp <= 7 * 8 * CER_THREADS) {
		crossentropy_reg_kernel<7><<<(unsigned)N, CER_THREADS, 0, ck_stream(stream)>>>(
			losses, (bf16 *)logits, targets, dloss, V, Vp);
		return ck_status();
	}
	if (Vp % (16 / sizeof(T)) == 0 && (uintptr_t)logits % 16 == 0)
		crossentropy_vec_kernel<T><<<(unsigned)N, CE_THREADS, 0, ck_stream(stream)>>>(
			losses, (T *)logits, targets, dloss, V, Vp);
	else
		crossentropy_kernel<T><<<(unsigned)N, CE_THREADS, 0, ck_stream(stream)>>>(losses, (T *)logits, targets,
											dloss, V, Vp);
	return ck_status();
}

extern "C" int ck_crossentropy(CkType t, float *losses, void *logits, const int *targets, float dloss, int N, int V,
			       int Vp, void *stream)
{
	return CK_DISPATCH(t, ce, losses, logits, targets, dloss, N, V, Vp, stream);
}

extern "C" int ck_mean(float *out, const float *x, int n, void *stream)
{
	mean_kernel<<<1, 1024, 0, ck_stream(stream)>>>(out, x, n);
	return ck_status();
}
