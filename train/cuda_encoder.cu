/* Token + position embedding, forward and backward (cuda_kernels.h).  The
 * backward pass is deterministic: dwpe sums the batch in order, and dwte
 * walks, for each distinct token, its positions in the order the host put
 * them in (ck_encoder_buckets), so no two threads add into one value. */
#include "cuda_common.h"

template <typename T>
__global__ void encoder_forward_kernel(T *out, const int *inp, const T *wte, const T *wpe, int B, int T_,
				       int C, int pos0)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	size_t n = (size_t)B * T_ * C;
	if (i >= n)
		return;
	size_t bt = i / C;
	int c = (int)(i % C), t = (int)(bt % T_);
	out[i] = fromf<T>(tof(wte[(size_t)inp[bt] * C + c]) + tof(wpe[(size_t)(pos0 + t) * C + c]));
}

template <typename T>
__global__ void encoder_backward_wpe_kernel(float *dwpe, const T *dout, int B, int T_, int C)
{
	size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
	if (i >= (size_t)T_ * C)
		return;
	float s = 0.0f;
	for (int b = 0; b < B; b++)
		s += tof(dout[(size_t)b * T_ * C + i]);
	dwpe[i] += s;
}

/* grid (nbuckets, ceil(C / blockDim)) */
template <typename T>
__global__ void encoder_backward_wte_kernel(float *dwte, const T *dout, const int *order, const int *start,
					    const int *tok, int C)
{
	int k = blockIdx.x, c = blockIdx.y * blockDim.x + threadIdx.x;
	if (c >= C)
		return;
	float s = 0.0f;
	for (int j = start[k]; j < start[k + 1]; j++)
		s += tof(dout[(size_t)order[j] * C + c]);
	dwte[(size_t)tok[k] * C + c] += s;
}

template <typename T>
static int enc_fwd(void *out, const int *inp, const void *wte, const void *wpe, int B, int T_, int C, int pos0,
		   void *stream)
{
	size_t n = (size_t)B * T_ * C;
	encoder_forward_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>(
		(T *)out, inp, (const T *)wte, (const T *)wpe, B, T_, C, pos0);
	return ck_status();
}

template <typename T>
static int enc_bwd_wpe(float *dwpe, const void *dout, int B, int T_, int C, void *stream)
{
	size_t n = (size_t)T_ * C;
	encoder_backward_wpe_kernel<T><<<ck_blocks(n, 256), 256, 0, ck_stream(stream)>>>(dwpe, (const T *)dout, B,
											  T_, C);
	return ck_status();
}

template <typename T>
static int enc_bwd_wte(float *dwte, const void *dout, const int *order, const int *start, const int *tok,
		       int nb, int C, void *stream)
{
	if (nb <= 0)
		return 0;
	dim3 grid((unsigned)nb, ck_blocks((size_t)C, 128));
	encoder_backward_wte_kernel<T><<<grid, 128, 0, ck_stream(stream)>>>(dwte, (const T *)dout, order, start,
									   tok, C);
	return ck_status();
}

extern "C" size_t ck_sizeof(CkType t)
{
	return t == CK_BF16 ? 2 : 4;
}

extern "C" int ck_encoder_forward(CkType t, void *out, const int *inp, const void *wte, const void *wpe, int B,
				  int T_, int C, int pos0, void *stream)
{
	return CK_DISPATCH(t, enc_fwd, out, inp, wte, wpe, B, T_, C, pos0, stream);
}

extern "C" int ck_encoder_backward_wpe(CkType t, float *dwpe, const void *dout, int B, int T_, int C, void *stream)
{
	return CK_DISPATCH(t, enc_bwd_wpe, dwpe, dout, B, T_, C, stream);
}

extern "C" int ck_encoder_backward_wte(CkType t, float *dwte, const void *dout, const int *order,
				       const int *bucket_start, const int *bucket_tok, int nbuckets, int C,
				       void *stream)
{
	return CK_DISPATCH(t, enc_bwd_wte, dwte, dout, order, bucket_start, bucket_tok, nbuckets, C, stream);
}
