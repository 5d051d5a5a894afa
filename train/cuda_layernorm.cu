/* LayerNorm forward (optionally fused with the residual add before it) and
 * backward, and the bias gradient of the matrix products: the column sums
 * share one deterministic two-stage reduction (partial sums over chunks of
 * CK_ROW_CHUNK rows, then the chunks added in order). */
#include "cuda_common.h"

#include <type_traits>

#define CK_ROW_CHUNK 256
#define LN_EPS 1e-5f

/* one warp per row, 8 rows per block */
template <typename T>
__global__ void layernorm_forward_kernel(T *out, float *mean, float *rstd, T *resid, const T *a, const T *b,
					 const T *w, const T *bias, int N, int C)
{
	int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
	if (row >= N)
		return;
	const T *x = a + (size_t)row * C;
	if (b) {
		/* each lane reads back only what it wrote itself */
		T *r = resid + (size_t)row * C;
		const T *y = b + (size_t)row * C;
		for (int i = lane; i < C; i += 32)
			r[i] = fromf<T>(tof(x[i]) + tof(y[i]));
		x = r;
	}
	float s = 0.0f;
	for (int i = lane; i < C; i += 32)
		s += tof(x[i]);
	float m = warp_sum(s) / C;
	float v = 0.0f;
	for (int i = lane; i < C; i += 32) {
		float d = tof(x[i]) - m;
		v += d * d;
	}
	v = warp_sum(v) / C;
	float rs = 1.0f / sqrtf(v + LN_EPS);
	T *o = out + (size_t)row * C;
	for (int i = lane; i < C; i += 32)
		o[i] = fromf<T>((tof(x[i]) - m) * rs * tof(w[i]) + tof(bias[i]));
	if (lane == 0 && mean) {
		mean[row] = m;
		rstd[row] = rs;
	}
}

/* The same for bf16 rows of C = 256 * NCH with 16-byte accesses: each lane
 * holds 8 consecutive columns of each 256-column chunk, and the row stays
 * in registers from the residual add to the output.  The residual sum is
 * rounded to bf16 before the statistics, as above. */
template <int NCH>
__global__ void layernorm_forward_vec_kernel(bf16 *out, float *mean, float *rstd, bf16 *resid, const bf16 *a,
					     const bf16 *b, const bf16 *w, const bf16 *bias, int N)
{
	constexpr int C = 256 * NCH;
	int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x & 31;
	if (row >= N)
		return;
	const size_t base = (size_t)row * C + lane * 8;
	float x[NCH][8], s = 0.0f;
#pragma unroll
	for (int c = 0; c < NCH; c++) {
		uint4 ra = *(const uint4 *)(a + base + c * 256);
		const bf16 *va = (const bf16 *)&ra;
		if (b) {
			uint4 rb = *(const uint4 *)(b + base + c * 256), rr;
			const bf16 *vb = (const bf16 *)&rb;
			bf16 *vr = (bf16 *)&rr;
#pragma unroll
			for (int j = 0; j < 8; j++) {
				vr[j] = __float2bfloat16_rn(__bfloat162float(va[j]) + __bfloat162float(vb[j]));
				x[c][j] = __bfloat162float(vr[j]);
			}
			*(uint4 *)(resid + base + c * 256) = rr;
		} else {
#pragma unroll
			for (int j = 0; j < 8; j++)
				x[c][j] = __bfloat162float(va[j]);
		}
#pragma unroll
		for (int j = 0; j < 8; j++)
			s += x[c][j];
	}
	const float m = warp_sum(s) / C;
	float v = 0.0f;
#pragma unroll
	for (int c = 0; c < NCH; c++)
#pragma unroll
		for (int j = 0; j < 8; j++) {
			float d = x[c][j] - m;
			v += d * d;
		}
	const float rs = 1.0f / sqrtf(warp_sum(v) / C + LN_EPS);
#pragma unroll
	for (int c = 0; c < NCH; c++) {
		uint4 rw = *(const uint4 *)(w + c * 256 + lane * 8), rbias = *(const uint4 *)(bias + c * 256 + lane * 8), ro;
		const bf16 *vw = (const bf16 *)&rw, *vbias = (const bf16 *)&rbias;
		bf16 *vo = (bf16 *)&ro;
#pragma unroll
		for (int j = 0; j < 8; j++)
			vo[j] = __float2bfloat16_rn((x[c][j] - m) * rs * __bfloat162float(vw[j]) + __bfloat162float(vbias[j]));
		*(uint4 *)(out + base + c * 256) = ro;
	}
	if (lane == 0 && mean) {
		mean[row] = m;
		rstd[row] = rs;
	}
}

/* The LayerNorm backward in one pass over the rows: a warp per row adds
 * dx += (dn - mean(dn) - norm * mean(dn * norm)) * rstd, dn = w * dout,
 * and keeps its own running column sums of dout * norm (dweight) and dout
 * (dbias) in shared memory, each lane on its own columns (no atomics: the
 * order of additions is fixed).  At the end the block adds its warps' sums
 * in order and writes one partial row [dweight (C), dbias (C)]; the blocks'
 * partials are added in order by colsum_finish_kernel.  Deterministic. */
#define LNB_WARPS 4

template <typename T>
__global__ void __launch_bounds__(LNB_WARPS * 32)
	layernorm_backward_kernel(T *dinp, float *partial, const T *dout, const T *inp, const T *w,
				  const float *mean, const float *rstd, int N, int C)
{
	extern __shared__ float lnb[]; /* [LNB_WARPS][2C] */
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	float *acc = lnb + (size_t)warp * 2 * C;
	for (int i = lane; i < 2 * C; i += 32)
		acc[i] = 0.0f;
	for (int row = blockIdx.x * LNB_WARPS + warp; row < N; row += gridDim.x * LNB_WARPS) {
		const T *x = inp + (size_t)row * C, *d = dout + (size_t)row * C;
		T *dx = dinp + (size_t)row * C;
		float m = mean[row], rs = rstd[row], a = 0.0f, bsum = 0.0f;
		for (int i = lane; i < C; i += 32) {
			float norm = (tof(x[i]) - m) * rs, dv = tof(d[i]), dn = tof(w[i]) * dv;
			a += dn;
			bsum += dn * norm;
			acc[i] += dv * norm;
			acc[C + i] += dv;
		}
		a = warp_sum(a) / C;
		bsum = warp_sum(bsum) / C;
		for (int i = lane; i < C; i += 32) {
			float norm = (tof(x[i]) - m) * rs, dn = tof(w[i]) * tof(d[i]);
			dx[i] = fromf<T>(tof(dx[i]) + (dn - a - norm * bsum) * rs);
		}
	}
	__syncthreads();
	for (int i = threadIdx.x; i < 2 * C; i += blockDim.x) {
		float t = 0.0f;
		for (int k = 0; k < LNB_WARPS; k++)
			t += lnb[(size_t)k * 2 * C + i];
		partial[(size_t)blockIdx.x * 2 * C + i] = t;
	}
}

/* The same for bf16 rows of C = 256 * NCH: each lane holds 8 consecutive
 * columns of each 256-column chunk, so every access is a 16-byte vector,
 * the row stays in registers between the two passes, and the column sums
 * are registers too; the block then adds its warps' sums in warp order. */
#define LNV_WARPS 4

template <int NCH>
__global__ void __launch_bounds__(LNV_WARPS * 32)
	layernorm_backward_vec_kernel(bf16 *dinp, float *partial, const bf16 *dout, const bf16 *inp, const bf16 *w,
				      const float *mean, const float *rstd, int N)
{
	constexpr int C = 256 * NCH;
	__shared__ float red[2 * C];
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	float wf[NCH][8], dwa[NCH][8], dba[NCH][8];
#pragma unroll
	for (int c = 0; c < NCH; c++) {
		uint4 raw = *(const uint4 *)(w + c * 256 + lane * 8);
		const bf16 *v = (const bf16 *)&raw;
#pragma unroll
		for (int j = 0; j < 8; j++) {
			wf[c][j] = __bfloat162float(v[j]);
			dwa[c][j] = dba[c][j] = 0.0f;
		}
	}
	for (int row = blockIdx.x * LNV_WARPS + warp; row < N; row += gridDim.x * LNV_WARPS) {
		const size_t base = (size_t)row * C + lane * 8;
		const float m = mean[row], rs = rstd[row];
		float xn[NCH][8], dv[NCH][8], a = 0.0f, b = 0.0f;
#pragma unroll
		for (int c = 0; c < NCH; c++) {
			uint4 rx = *(const uint4 *)(inp + base + c * 256), rd = *(const uint4 *)(dout + base + c * 256);
			const bf16 *vx = (const bf16 *)&rx, *vd = (const bf16 *)&rd;
#pragma unroll
			for (int j = 0; j < 8; j++) {
				xn[c][j] = (__bfloat162float(vx[j]) - m) * rs;
				dv[c][j] = __bfloat162float(vd[j]);
				float dn = wf[c][j] * dv[c][j];
				a += dn;
				b += dn * xn[c][j];
				dwa[c][j] += dv[c][j] * xn[c][j];
				dba[c][j] += dv[c][j];
			}
		}
		a = warp_sum(a) / C;
		b = warp_sum(b) / C;
#pragma unroll
		for (int c = 0; c < NCH; c++) {
			uint4 rdx = *(const uint4 *)(dinp + base + c * 256);
			bf16 *vdx = (bf16 *)&rdx;
#pragma unroll
			for (int j = 0; j < 8; j++)
				vdx[j] = __float2bfloat16_rn(__bfloat162float(vdx[j]) +
							     (wf[c][j] * dv[c][j] - a - xn[c][j] * b) * rs);
			*(uint4 *)(dinp + base + c * 256) = rdx;
		}
	}
	for (int k = 0; k < LNV_WARPS; k++) {
		if (warp == k)
#pragma unroll
			for (int c = 0; c < NCH; c++)
#pragma unroll
				for (int j = 0; j < 8; j++) {
					int i = c * 256 + lane * 8 + j;
					red[i] = k ? red[i] + dwa[c][j] : dwa[c][j];
					red[C + i] = k ? red[C + i] + dba[c][j] : dba[c][j];
				}
		__syncthreads();
	}
	for (int i = threadIdx.x; i < 2 * C; i += blockDim.x)
		partial[(size_t)blockIdx.x * 2 * C + i] = red[i];
}

/* The bias gradient's partial column sums of dout over one chunk of rows:
 * block (32, 8), grid (ceil(C / 32), chunks); partial row k holds chunk k. */
template <typename T>
__global__ void colsum_partial_kernel(float *partial, const T *dout, int N, int C)
{
	__shared__ float sb[8][33];
	int tx = threadIdx.x, ty = threadIdx.y, c = blockIdx.x * 32 + tx, chunk = blockIdx.y;
	int r0 = chunk * CK_ROW_CHUNK, r1 = min(N, r0 + CK_ROW_CHUNK);
	float db = 0.0f;
	if (c < C)
		for (int r = r0 + ty; r < r1; r += 8)
			db += tof(dout[(size_t)r * C + c]);
	sb[ty][tx] = db;
	__syncthreads();
	if (ty == 0 && c < C) {
		for (int k = 1; k < 8; k++)
			db += sb[k][tx];
		partial[(size_t)chunk * C + c] = db;
	}
}

/* The bias gradient's partial sums for bf16 with 16-byte loads: block
 * (32, 8), each thread 8 neighbouring columns (a warp reads 512 contiguous
 * bytes of a row), grid (ceil(OC / 256), chunks); same partial layout. */
__global__ void __launch_bounds__(256) colsum_partial_vec_kernel(float *partial, const bf16 *dout, int N, int C)
{
	__shared__ float sh[8][257];
	int tx = threadIdx.x, ty = threadIdx.y, c0 = (blockIdx.x * 32 + tx) * 8, chunk = blockIdx.y;
	int r0 = chunk * CK_ROW_CHUNK, r1 = min(N, r0 + CK_ROW_CHUNK);
	float acc[8] = { 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f };
	if (c0 < C)
		for (int r = r0 + ty; r < r1; r += 8) {
			uint4 raw = *(const uint4 *)(dout + (size_t)r * C + c0);
			const bf16 *v = (const bf16 *)&raw;
#pragma unroll
			for (int j = 0; j < 8; j++)
				acc[j] += __bfloat162float(v[j]);
		}
#pragma unroll
	for (int j = 0; j < 8; j++)
		sh[ty][tx * 8 + j] = acc[j];
	__syncthreads();
	/* 256 threads, 256 columns: thread i adds column i over the 8 groups in order */
	int i = ty * 32 + tx, c = blockIdx.x * 256 + i;
	if (c < C) {
		float t = 0.0f;
		for (int k = 0; k < 8; k++)
			t += sh[k][i];
		partial[(size_t)chunk * C + c] = t;
	}
}

/* out1[j] += sum over chunks of partial[k][j] for j < M1, out2[j - M1] for
 * the rest.  A block of 32 columns x 8 row groups: group g adds chunks
 * g, g + 8, ... in order, then the 8 groups are added in order. */
__global__ void __launch_bounds__(256) colsum_finish_kernel(float *out1, float *out2, const float *partial, int chunks,
							    int M, int M1)
{
	__shared__ float sh[8][33];
	int tx = threadIdx.x & 31, ty = threadIdx.x >> 5, j = blockIdx.x * 32 + tx;
	float s = 0.0f;
	if (j < M)
		for (int k = ty; k < chunks; k += 8)
			s += partial[(size_t)k * M + j];
	sh[ty][tx] = s;
	__syncthreads();
	if (ty != 0 || j >= M)
		return;
	for (int k = 1; k < 8; k++)
		s += sh[k][tx];
	if (j < M1)
		out1[j] += s;
	else
		out2[j - M1] += s;
}

static unsigned finish_blocks(int M)
{
	return (unsigned)((M + 31) / 32);
}

static int chunks_of(int N)
{
	return (N + CK_ROW_CHUNK - 1) / CK_ROW_CHUNK;
}

extern "C" size_t ck_colsum_scratch(int N, int M)
{
	return (size_t)chunks_of(N) * M;
}

/* The vector kernels take bf16 rows of 256 * NCH columns, NCH 1 to 6
 * (GPT-2 124M to 774M), 16-byte aligned; 0 when they do not apply. */
static int vec_chunks(int C, uintptr_t ptrs)
{
	return C % 256 == 0 && C / 256 >= 1 && C / 256 <= 6 && ptrs % 16 == 0 ? C / 256 : 0;
}

/* f(std::integral_constant<int, nch>()) for nch 1 to 6: one launch site per
 * kernel for every instantiation. */
template <class F>
static void with_chunks(int nch, F &&f)
{
	switch (nch) {
	case 1: f(std::integral_constant<int, 1>()); break;
	case 2: f(std::integral_constant<int, 2>()); break;
	case 3: f(std::integral_constant<int, 3>()); break;
	case 4: f(std::integral_constant<int, 4>()); break;
	case 5: f(std::integral_constant<int, 5>()); break;
	default: f(std::integral_constant<int, 6>()); break;
	}
}

template <typename T>
static int ln_fwd(void *out, float *mean, float *rstd, void *resid, const void *a, const void *b, const void *w,
		  const void *bias, int N, int C, void *stream)
{
	cudaStream_t s = ck_stream(stream);
	int nch = sizeof(T) == 2 ? vec_chunks(C, (uintptr_t)out | (uintptr_t)resid | (uintptr_t)a | (uintptr_t)b |
							 (uintptr_t)w | (uintptr_t)bias)
				 : 0;
	if (nch)
		with_chunks(nch, [&](auto k) {
			layernorm_forward_vec_kernel<decltype(k)::value><<<ck_blocks((size_t)N, 8), 256, 0, s>>>(
				(bf16 *)out, mean, rstd, (bf16 *)resid, (const bf16 *)a, (const bf16 *)b, (const bf16 *)w,
				(const bf16 *)bias, N);
		});
	else
		layernorm_forward_kernel<T><<<ck_blocks((size_t)N, 8), 256, 0, s>>>(
			(T *)out, mean, rstd, (T *)resid, (const T *)a, (const T *)b, (const T *)w, (const T *)bias, N, C);
	return ck_status();
}

template <typename T>
static int ln_bwd(void *dinp, float *dw, float *db, float *scratch, const void *dout, const void *inp,
		  const void *w, const float *mean, const float *rstd, int N, int C, void *stream)
{
	cudaStream_t s = ck_stream(stream);
	int nch = sizeof(T) == 2 ? vec_chunks(C, (uintptr_t)dinp | (uintptr_t)dout | (uintptr_t)inp | (uintptr_t)w) : 0;
	/* a fixed number of blocks for a given N (the sums' order does not
	 * change), within the scratch (chunks_of(N) rows of 4C) */
	int blocks;
	if (nch) {
		/* enough warps in flight to hide the loads */
		blocks = min(min((N + LNV_WARPS - 1) / LNV_WARPS, 2 * chunks_of(N)), 132 * 8);
		with_chunks(nch, [&](auto k) {
			layernorm_backward_vec_kernel<decltype(k)::value><<<blocks, LNV_WARPS * 32, 0, s>>>(
				(bf16 *)dinp, scratch, (const bf16 *)dout, (const bf16 *)inp, (const bf16 *)w, mean, rstd,
				N);
		});
	} else {
		blocks = min(chunks_of(N), 528);
		size_t smem = (size_t)LNB_WARPS * 2 * C * sizeof(float);
		if (smem > 48 * 1024 && cudaFuncSetAttribute(layernorm_backward_kernel<T>,
							     cudaFuncAttributeMaxDynamicSharedMemorySize,
							     (int)smem) != cudaSuccess)
			return -1;
		layernorm_backward_kernel<T><<<blocks, LNB_WARPS * 32, smem, s>>>(
			(T *)dinp, scratch, (const T *)dout, (const T *)inp, (const T *)w, mean, rstd, N, C);
	}
	colsum_finish_kernel<<<finish_blocks(2 * C), 256, 0, s>>>(dw, db, scratch, blocks, 2 * C, C);
	return ck_status();
}

template <typename T>
static int bias_bwd(float *dbias, float *scratch, const void *dout, int N, int OC, void *stream)
{
	cudaStream_t s = ck_stream(stream);
	if (sizeof(T) == 2 && OC % 8 == 0 && (uintptr_t)dout % 16 == 0) {
		dim3 grid((unsigned)((OC + 255) / 256), (unsigned)chunks_of(N));
		colsum_partial_vec_kernel<<<grid, dim3(32, 8), 0, s>>>(scratch, (const bf16 *)dout, N, OC);
	} else {
		dim3 grid(ck_blocks((size_t)OC, 32), (unsigned)chunks_of(N));
		colsum_partial_kernel<T><<<grid, dim3(32, 8), 0, s>>>(scratch, (const T *)dout, N, OC);
	}
	colsum_finish_kernel<<<finish_blocks(OC), 256, 0, s>>>(dbias, NULL, scratch, chunks_of(N), OC, OC);
	return ck_status();
}

extern "C" int ck_layernorm_forward(CkType t, void *out, float *mean, float *rstd, void *resid_out, const void *a,
				    const void *b, const void *weight, const void *bias, int N, int C, void *stream)
{
	return CK_DISPATCH(t, ln_fwd, out, mean, rstd, resid_out, a, b, weight, bias, N, C, stream);
}

extern "C" int ck_layernorm_backward(CkType t, void *dinp, float *dweight, float *dbias, float *scratch,
				     const void *dout, const void *inp, const void *weight, const float *mean,
				     const float *rstd, int N, int C, void *stream)
{
	return CK_DISPATCH(t, ln_bwd, dinp, dweight, dbias, scratch, dout, inp, weight, mean, rstd, N, C, stream);
}

extern "C" int ck_bias_backward(CkType t, float *dbias, float *scratch, const void *dout, int N, int OC,
				void *stream)
{
	return CK_DISPATCH(t, bias_bwd, dbias, scratch, dout, N, OC, stream);
}
