/* The optimizer: the global gradient norm (deterministic two-stage sum in
 * double) and AdamW on fp32 master weights, writing the bf16 compute copy
 * with stochastic rounding (cuda_math.h: the rounding bits are a hash of
 * the parameter's index and new value, so the copy is a pure function of
 * the master weights and a resumed run rebuilds it bit for bit). */
#include "cuda_common.h"

__global__ void norm_partial_kernel(double *partial, const float *x, size_t n)
{
	__shared__ double sh[32];
	double s = 0.0;
	for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
		s += (double)x[i] * x[i];
	for (int o = 16; o > 0; o >>= 1)
		s += __shfl_xor_sync(0xFFFFFFFFu, s, o);
	int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	if (lane == 0)
		sh[warp] = s;
	__syncthreads();
	if (threadIdx.x == 0) {
		double t = 0.0;
		for (int w = 0; w < (int)(blockDim.x / 32); w++)
			t += sh[w];
		partial[blockIdx.x] = t;
	}
}

__global__ void norm_finish_kernel(float *out, const double *partial, int n)
{
	if (threadIdx.x == 0) {
		double t = 0.0;
		for (int i = 0; i < n; i++)
			t += partial[i];
		*out = (float)sqrt(t);
	}
}

/* The clip factor: grad_mult, or with norm (on the device) the factor of
 * gpt-train's loop, clip / (norm + 1e-6) when clip > 0 and norm > clip,
 * computed with the same float operations as the host would. */
__device__ __forceinline__ float clip_mult(const float *norm, float clip, float grad_mult)
{
	if (!norm)
		return grad_mult;
	float n = *norm;
	return clip > 0.0f && n > clip ? clip / (n + 1e-6f) : 1.0f;
}

__global__ void adamw_kernel(float *p, bf16 *px, const float *g, float *m, float *v, size_t n, size_t index0,
			     float lr, float b1, float b2, float eps, float wd, float grad_mult, const float *norm,
			     float clip, float inv_bc1, float inv_bc2)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= n)
		return;
	float mult = clip_mult(norm, clip, grad_mult);
	float mi = m[i], vi = v[i];
	float np = ck_adamw_elem(p[i], g[i] * mult, &mi, &vi, lr, b1, b2, eps, wd, inv_bc1, inv_bc2);
	m[i] = mi;
	v[i] = vi;
	p[i] = np;
	if (px) {
		uint16_t h = ck_bf16_stochastic(np, ck_sr_bits(index0 + i, np));
		px[i] = __ushort_as_bfloat16(h);
	}
}

__global__ void round_kernel(bf16 *px, const float *p, size_t n, size_t index0)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		px[i] = __ushort_as_bfloat16(ck_bf16_stochastic(p[i], ck_sr_bits(index0 + i, p[i])));
}

extern "C" int ck_norm(float *out, double *scratch, const float *x, size_t n, void *stream)
{
	cudaStream_t s = ck_stream(stream);
	norm_partial_kernel<<<CK_NORM_BLOCKS, 256, 0, s>>>(scratch, x, n);
	norm_finish_kernel<<<1, 32, 0, s>>>(out, scratch, CK_NORM_BLOCKS);
	return ck_status();
}

extern "C" int ck_adamw(float *p, void *px, const float *g, float *m, float *v, size_t n, size_t index0, float lr,
			float beta1, float beta2, float eps, float weight_decay, float grad_mult, const float *norm,
			float clip, int t, void *stream)
{
	/* the bias corrections exactly as layers.c computes them */
	float inv_bc1 = 1.0f / (1.0f - powf(beta1, (float)t)), inv_bc2 = 1.0f / (1.0f - powf(beta2, (float)t));
	if (n)
		adamw_kernel<<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>(
			p, (bf16 *)px, g, m, v, n, index0, lr, beta1, beta2, eps, weight_decay, grad_mult, norm, clip,
			inv_bc1, inv_bc2);
	return ck_status();
}

extern "C" int ck_round_params(void *px, const float *p, size_t n, size_t index0, void *stream)
{
	if (n)
		round_kernel<<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>((bf16 *)px, p, n, index0);
	return ck_status();
}
