/* GELU forward and backward, the residual add, and element conversions. */
#include "cuda_common.h"

template <typename T>
__global__ void gelu_forward_kernel(T *out, const T *inp, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = fromf<T>(ck_gelu(tof(inp[i])));
}

template <typename T>
__global__ void gelu_backward_kernel(T *dinp, const T *inp, const T *dout, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dinp[i] = fromf<T>(ck_gelu_grad(tof(inp[i])) * tof(dout[i]));
}

template <typename T>
__global__ void residual_kernel(T *out, const T *a, const T *b, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		out[i] = fromf<T>(tof(a[i]) + tof(b[i]));
}

template <typename T>
__global__ void from_float_kernel(T *dst, const float *src, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dst[i] = fromf<T>(src[i]);
}

template <typename T>
__global__ void to_float_kernel(float *dst, const T *src, size_t n)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i < n)
		dst[i] = tof(src[i]);
}

template <typename T>
__global__ void copy_rows_kernel(T *dst, size_t ds, const T *src, size_t ss, int rows, int width)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)rows * width)
		return;
	size_t r = i / width, c = i % width;
	dst[r * ds + c] = src[r * ss + c];
}

template <typename T>
static int gelu_fwd(void *out, const void *inp, size_t n, void *stream)
{
	if (n)
		gelu_forward_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>((T *)out, (const T *)inp, n);
	return ck_status();
}

template <typename T>
static int gelu_bwd(void *dinp, const void *inp, const void *dout, size_t n, void *stream)
{
	if (n)
		gelu_backward_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>(
			(T *)dinp, (const T *)inp, (const T *)dout, n);
	return ck_status();
}

template <typename T>
static int resid(void *out, const void *a, const void *b, size_t n, void *stream)
{
	if (n)
		residual_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>((T *)out, (const T *)a,
										   (const T *)b, n);
	return ck_status();
}

template <typename T>
static int from_f(void *dst, const float *src, size_t n, void *stream)
{
	if (n)
		from_float_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>((T *)dst, src, n);
	return ck_status();
}

template <typename T>
static int to_f(float *dst, const void *src, size_t n, void *stream)
{
	if (n)
		to_float_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>(dst, (const T *)src, n);
	return ck_status();
}

template <typename T>
static int copy_rows(void *dst, size_t ds, const void *src, size_t ss, int rows, int width, void *stream)
{
	size_t n = (size_t)rows * width;
	if (n)
		copy_rows_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>((T *)dst, ds, (const T *)src, ss,
										    rows, width);
	return ck_status();
}

extern "C" int ck_gelu_forward(CkType t, void *out, const void *inp, size_t n, void *stream)
{
	return CK_DISPATCH(t, gelu_fwd, out, inp, n, stream);
}

extern "C" int ck_gelu_backward(CkType t, void *dinp, const void *inp, const void *dout, size_t n, void *stream)
{
	return CK_DISPATCH(t, gelu_bwd, dinp, inp, dout, n, stream);
}

extern "C" int ck_residual_forward(CkType t, void *out, const void *a, const void *b, size_t n, void *stream)
{
	return CK_DISPATCH(t, resid, out, a, b, n, stream);
}

extern "C" int ck_from_float(CkType t, void *dst, const float *src, size_t n, void *stream)
{
	return CK_DISPATCH(t, from_f, dst, src, n, stream);
}

extern "C" int ck_to_float(CkType t, float *dst, const void *src, size_t n, void *stream)
{
	return CK_DISPATCH(t, to_f, dst, src, n, stream);
}

extern "C" int ck_copy_rows(CkType t, void *dst, size_t dst_stride, const void *src, size_t src_stride, int rows,
			    int width, void *stream)
{
	return CK_DISPATCH(t, copy_rows, dst, dst_stride, src, src_stride, rows, width, stream);
}

extern "C" void *ck_malloc(size_t bytes)
{
	void *p = NULL;
	return cudaMalloc(&p, bytes ? bytes : 16) == cudaSuccess ? p : NULL;
}

extern "C" void ck_free(void *p)
{
	if (p)
		cudaFree(p);
}

extern "C" int ck_memcpy(void *dst, const void *src, size_t bytes)
{
	return cudaMemcpy(dst, src, bytes, cudaMemcpyDefault) == cudaSuccess ? 0 : -1;
}

extern "C" int ck_sync(void *stream)
{
	if (cudaStreamSynchronize(ck_stream(stream)) != cudaSuccess)
		return -1;
	return cudaPeekAtLastError() == cudaSuccess ? 0 : -1;
}

extern "C" const char *ck_last_error(void)
{
	return cudaGetErrorString(cudaGetLastError());
}
