/* Causal attention on the tensor cores (bf16, head size 64), opt-in
 * (GPTKIT_CUDA_ATTN=tc; cuda_attention.cu stays the default until a device
 * run has checked this one: tests/gpu/check.sh compares both with the CPU).
 *
 * Same algorithm as cuda_attention.cu (online softmax forward keeping only
 * the log-sum-exp, backward recomputing the probabilities, dq over keys and
 * dk/dv over queries, no atomics), but the products run as 16x16x16 WMMA
 * tiles: a block holds 64 rows (4 warps x 16) and walks tiles of 64 keys
 * (or queries) staged in shared memory as bf16; scores and accumulators are
 * fp32 in shared memory, the probabilities and dS are rounded to bf16 for
 * the second product (as flash-attention 2 does).  Shared memory: 72 KB
 * (forward), 97 KB (dq), 123 KB (dk/dv); sm_80 or later. */
#include "cuda_common.h"

#include <mma.h>

using namespace nvcuda;

#define TB 64   /* rows per block and tile width */
#define HD 64   /* head size */
#define LDH 72  /* bf16 row pitch: 144 bytes, keeps 32-byte alignment of 16-row tiles */
#define LDF 68  /* fp32 row pitch */

typedef wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> FragA;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> FragBt;
typedef wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> FragB;
typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> FragC;

/* C (16 x 64 fp32) = A (16 x 64) . B^T, B (64 x 64) row-major: C[i][n] = sum_k A[i][k] B[n][k] */
__device__ __forceinline__ void mm_abt(float *C, const bf16 *A, const bf16 *B)
{
	for (int nt = 0; nt < 4; nt++) {
		FragC c;
		wmma::fill_fragment(c, 0.0f);
		for (int kt = 0; kt < 4; kt++) {
			FragA a;
			FragBt b;
			wmma::load_matrix_sync(a, A + kt * 16, LDH);
			wmma::load_matrix_sync(b, B + nt * 16 * LDH + kt * 16, LDH);
			wmma::mma_sync(c, a, b, c);
		}
		wmma::store_matrix_sync(C + nt * 16, c, LDF, wmma::mem_row_major);
	}
}

/* C (16 x 64 fp32) += A (16 x 64) . B, B (64 x 64) row-major */
__device__ __forceinline__ void mm_ab_acc(float *C, const bf16 *A, const bf16 *B)
{
	for (int nt = 0; nt < 4; nt++) {
		FragC c;
		wmma::load_matrix_sync(c, C + nt * 16, LDF, wmma::mem_row_major);
		for (int kt = 0; kt < 4; kt++) {
			FragA a;
			FragB b;
			wmma::load_matrix_sync(a, A + kt * 16, LDH);
			wmma::load_matrix_sync(b, B + kt * 16 * LDH + nt * 16, LDH);
			wmma::mma_sync(c, a, b, c);
		}
		wmma::store_matrix_sync(C + nt * 16, c, LDF, wmma::mem_row_major);
	}
}

/* dst (64 rows x 64, pitch LDH) = rows r0.. of src (row stride in elements), zero past nrows */
__device__ __forceinline__ void load_tile(bf16 *dst, const bf16 *src, long long stride, int r0, int nrows)
{
	for (int idx = threadIdx.x; idx < TB * HD; idx += blockDim.x) {
		int r = idx >> 6, c = idx & 63, row = r0 + r;
		dst[r * LDH + c] = row < nrows ? src[row * stride + c] : __float2bfloat16_rn(0.0f);
	}
}

#define SZ_H (TB * LDH * 2) /* bytes of a 64 x LDH bf16 tile */
#define SZ_F (TB * LDF * 4) /* bytes of a 64 x LDF fp32 tile */
#define SMEM_FWD (3 * SZ_H + SZ_H + 2 * SZ_F + 2 * TB * 4)
#define SMEM_DQ (4 * SZ_H + 3 * SZ_F + SZ_H + 2 * TB * 4)
#define SMEM_DKV (4 * SZ_H + 4 * SZ_F + 2 * SZ_H + 2 * TB * 4)

__global__ void __launch_bounds__(128) attention_forward_tc_kernel(CkAttn a, float scale)
{
	extern __shared__ __align__(128) unsigned char smem[];
	bf16 *Qs = (bf16 *)smem, *Ks = Qs + TB * LDH, *Vs = Ks + TB * LDH, *Pall = Vs + TB * LDH;
	float *Sall = (float *)(Pall + TB * LDH), *Oall = Sall + TB * LDF, *ms = Oall + TB * LDF, *ls = ms + TB;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * TB;
	const bf16 *q = (const bf16 *)a.q + b * a.q_bstride + (long long)h * HD;
	const bf16 *k = (const bf16 *)a.k + b * a.kv_bstride + (long long)h * HD;
	const bf16 *v = (const bf16 *)a.v + b * a.kv_bstride + (long long)h * HD;
	float *Sw = Sall + warp * 16 * LDF, *Ow = Oall + warp * 16 * LDF;
	bf16 *Pw = Pall + warp * 16 * LDH;
	const int last_t = min(a.Tq - 1, q0 + TB - 1);
	const int nkeys = min(a.Tk, a.q_off + last_t + 1);
	const int wfirst = q0 + warp * 16; /* this warp's first query row */

	load_tile(Qs, q, a.q_tstride, q0, a.Tq);
	for (int idx = threadIdx.x; idx < TB * LDF; idx += blockDim.x)
		Oall[idx] = 0.0f;
	if (threadIdx.x < TB) {
		ms[threadIdx.x] = -INFINITY;
		ls[threadIdx.x] = 0.0f;
	}
	for (int s0 = 0; s0 < nkeys; s0 += TB) {
		__syncthreads(); /* the previous tile is consumed; Q and the state are set */
		load_tile(Ks, k, a.kv_tstride, s0, nkeys);
		load_tile(Vs, v, a.kv_tstride, s0, nkeys);
		__syncthreads();
		if (wfirst >= a.Tq || s0 > a.q_off + wfirst + 15) /* no row of this warp sees the tile */
			continue;
		mm_abt(Sw, Qs + warp * 16 * LDH, Ks);
		__syncwarp();
		for (int r = 0; r < 16; r++) {
			int row = warp * 16 + r, t = q0 + row, pq = a.q_off + t;
			float x[2], p[2] = { 0.0f, 0.0f };
			for (int e = 0; e < 2; e++) {
				int c = lane + 32 * e, s = s0 + c;
				x[e] = t < a.Tq && s <= pq && s < nkeys ? Sw[r * LDF + c] * scale : -INFINITY;
			}
			float mo = ms[row], mn = fmaxf(mo, warp_max(fmaxf(x[0], x[1]))), corr = 1.0f;
			if (mn != -INFINITY) {
				corr = ck_softmax_rescale(mo, mn);
				for (int e = 0; e < 2; e++)
					p[e] = x[e] == -INFINITY ? 0.0f : expf(x[e] - mn);
			}
			float ps = warp_sum(p[0] + p[1]);
			for (int e = 0; e < 2; e++) {
				int c = lane + 32 * e;
				Pw[r * LDH + c] = __float2bfloat16_rn(p[e]);
				Ow[r * LDF + c] *= corr;
			}
			__syncwarp(); /* every lane has read ms[row] */
			if (lane == 0) {
				ms[row] = mn;
				ls[row] = ls[row] * corr + ps;
			}
		}
		__syncwarp();
		mm_ab_acc(Ow, Pw, Vs);
		__syncwarp();
	}
	__syncwarp();
	for (int r = 0; r < 16; r++) {
		int row = warp * 16 + r, t = q0 + row;
		if (t >= a.Tq)
			break;
		float inv = 1.0f / ls[row];
		bf16 *o = (bf16 *)a.out + b * a.o_bstride + t * a.o_tstride + (long long)h * HD;
		for (int e = 0; e < 2; e++) {
			int c = lane + 32 * e;
			o[c] = __float2bfloat16_rn(Ow[r * LDF + c] * inv);
		}
		if (a.lse && lane == 0)
			a.lse[((long long)b * a.NH + h) * a.Tq + t] = ms[row] + logf(ls[row]);
	}
}

/* dq = scale * sum over keys of dS K, dS = P o (dO V^T - D); one block per 64 queries */
__global__ void __launch_bounds__(128) attention_dq_tc_kernel(bf16 *dqkv, const bf16 *dout, const bf16 *qkv,
							       const float *lse, const float *D, int T_, int C, int NH,
							       float scale)
{
	extern __shared__ __align__(128) unsigned char smem[];
	bf16 *Qs = (bf16 *)smem, *Os = Qs + TB * LDH, *Ks = Os + TB * LDH, *Vs = Ks + TB * LDH, *DSall = Vs + TB * LDH;
	float *Sall = (float *)(DSall + TB * LDH), *DPall = Sall + TB * LDF, *dQall = DPall + TB * LDF;
	float *Ls = dQall + TB * LDF, *Ds = Ls + TB;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, q0 = blockIdx.x * TB, C3 = 3 * C;
	const long long base = (long long)b * T_ * C3 + (long long)h * HD, bh = ((long long)b * NH + h) * T_;
	float *Sw = Sall + warp * 16 * LDF, *DPw = DPall + warp * 16 * LDF, *dQw = dQall + warp * 16 * LDF;
	bf16 *DSw = DSall + warp * 16 * LDH;
	const int nkeys = min(T_, q0 + TB), wfirst = q0 + warp * 16;

	load_tile(Qs, qkv + base, C3, q0, T_);
	load_tile(Os, dout + (long long)b * T_ * C + (long long)h * HD, C, q0, T_);
	for (int idx = threadIdx.x; idx < TB * LDF; idx += blockDim.x)
		dQall[idx] = 0.0f;
	if (threadIdx.x < TB) {
		int t = q0 + threadIdx.x;
		Ls[threadIdx.x] = t < T_ ? lse[bh + t] : 0.0f;
		Ds[threadIdx.x] = t < T_ ? D[bh + t] : 0.0f;
	}
	for (int s0 = 0; s0 < nkeys; s0 += TB) {
		__syncthreads();
		load_tile(Ks, qkv + base + C, C3, s0, nkeys);
		load_tile(Vs, qkv + base + 2 * C, C3, s0, nkeys);
		__syncthreads();
		if (wfirst >= T_ || s0 > wfirst + 15)
			continue;
		mm_abt(Sw, Qs + warp * 16 * LDH, Ks);
		mm_abt(DPw, Os + warp * 16 * LDH, Vs);
		__syncwarp();
		for (int r = 0; r < 16; r++) {
			int row = warp * 16 + r, t = q0 + row;
			for (int e = 0; e < 2; e++) {
				int c = lane + 32 * e, s = s0 + c;
				float ds = 0.0f;
				if (t < T_ && s <= t) {
					float p = expf(Sw[r * LDF + c] * scale - Ls[row]);
					ds = p * (DPw[r * LDF + c] - Ds[row]);
				}
				DSw[r * LDH + c] = __float2bfloat16_rn(ds);
			}
		}
		__syncwarp();
		mm_ab_acc(dQw, DSw, Ks);
		__syncwarp();
	}
	__syncwarp();
	for (int r = 0; r < 16; r++) {
		int t = q0 + warp * 16 + r;
		if (t >= T_)
			break;
		bf16 *dq = dqkv + base + (long long)t * C3;
		for (int e = 0; e < 2; e++) {
			int c = lane + 32 * e;
			dq[c] = __float2bfloat16_rn(dQw[r * LDF + c] * scale);
		}
	}
}

/* dk = scale * dS^T Q, dv = P^T dO; one block per 64 keys, queries in tiles */
__global__ void __launch_bounds__(128) attention_dkv_tc_kernel(bf16 *dqkv, const bf16 *dout, const bf16 *qkv,
								const float *lse, const float *D, int T_, int C, int NH,
								float scale)
{
	extern __shared__ __align__(128) unsigned char smem[];
	bf16 *Ks = (bf16 *)smem, *Vs = Ks + TB * LDH, *Qs = Vs + TB * LDH, *Os = Qs + TB * LDH, *Pall = Os + TB * LDH,
	     *DSall = Pall + TB * LDH;
	float *Sall = (float *)(DSall + TB * LDH), *DPall = Sall + TB * LDF, *dKall = DPall + TB * LDF,
	      *dVall = dKall + TB * LDF, *Ls = dVall + TB * LDF, *Ds = Ls + TB;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, k0 = blockIdx.x * TB, C3 = 3 * C;
	const long long base = (long long)b * T_ * C3 + (long long)h * HD, bh = ((long long)b * NH + h) * T_;
	float *Sw = Sall + warp * 16 * LDF, *DPw = DPall + warp * 16 * LDF;
	float *dKw = dKall + warp * 16 * LDF, *dVw = dVall + warp * 16 * LDF;
	bf16 *Pw = Pall + warp * 16 * LDH, *DSw = DSall + warp * 16 * LDH;
	const int wfirst = k0 + warp * 16; /* this warp's first key */

	load_tile(Ks, qkv + base + C, C3, k0, T_);
	load_tile(Vs, qkv + base + 2 * C, C3, k0, T_);
	for (int idx = threadIdx.x; idx < TB * LDF; idx += blockDim.x)
		dKall[idx] = dVall[idx] = 0.0f;
	for (int t0 = k0; t0 < T_; t0 += TB) {
		__syncthreads();
		load_tile(Qs, qkv + base, C3, t0, T_);
		load_tile(Os, dout + (long long)b * T_ * C + (long long)h * HD, C, t0, T_);
		if (threadIdx.x < TB) {
			int t = t0 + threadIdx.x;
			Ls[threadIdx.x] = t < T_ ? lse[bh + t] : 0.0f;
			Ds[threadIdx.x] = t < T_ ? D[bh + t] : 0.0f;
		}
		__syncthreads();
		if (wfirst >= T_ || t0 + TB - 1 < wfirst)
			continue;
		mm_abt(Sw, Ks + warp * 16 * LDH, Qs);  /* S^T: keys x queries */
		mm_abt(DPw, Vs + warp * 16 * LDH, Os); /* dP^T */
		__syncwarp();
		for (int r = 0; r < 16; r++) {
			int s = wfirst + r;
			for (int e = 0; e < 2; e++) {
				int c = lane + 32 * e, t = t0 + c;
				float p = 0.0f, ds = 0.0f;
				if (s < T_ && t < T_ && t >= s) {
					p = expf(Sw[r * LDF + c] * scale - Ls[c]);
					ds = p * (DPw[r * LDF + c] - Ds[c]);
				}
				Pw[r * LDH + c] = __float2bfloat16_rn(p);
				DSw[r * LDH + c] = __float2bfloat16_rn(ds);
			}
		}
		__syncwarp();
		mm_ab_acc(dVw, Pw, Os);
		mm_ab_acc(dKw, DSw, Qs);
		__syncwarp();
	}
	__syncwarp();
	for (int r = 0; r < 16; r++) {
		int s = wfirst + r;
		if (s >= T_)
			break;
		bf16 *dk = dqkv + base + (long long)s * C3 + C, *dv = dk + C;
		for (int e = 0; e < 2; e++) {
			int c = lane + 32 * e;
			dk[c] = __float2bfloat16_rn(dKw[r * LDF + c] * scale);
			dv[c] = __float2bfloat16_rn(dVw[r * LDF + c]);
		}
	}
}

extern "C" int ck_attention_tc_supported(CkType t, int hs)
{
	return t == CK_BF16 && hs == HD;
}

extern "C" int ck_attention_forward_tc(const CkAttn *a, void *stream)
{
	if (a->hs != HD)
		return -1;
	if (a->Tq <= 0 || a->B <= 0)
		return 0;
	if (cudaFuncSetAttribute(attention_forward_tc_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_FWD) !=
	    cudaSuccess)
		return -1;
	dim3 grid(ck_blocks((size_t)a->Tq, TB), (unsigned)a->NH, (unsigned)a->B);
	attention_forward_tc_kernel<<<grid, 128, SMEM_FWD, ck_stream(stream)>>>(*a, 1.0f / sqrtf((float)HD));
	return ck_status();
}

extern "C" int ck_attention_backward_tc(void *dqkv, float *dscratch, const void *dout, const void *qkv,
					const void *out, const float *lse, int B, int T_, int C, int NH, void *stream)
{
	if (C / NH != HD)
		return -1;
	cudaStream_t s = ck_stream(stream);
	float scale = 1.0f / sqrtf((float)HD);
	/* D = rowsum(dout * out): the CUDA-core kernel's first step */
	if (ck_attention_d(CK_BF16, dscratch, dout, out, B, T_, C, NH, stream))
		return -1;
	if (cudaFuncSetAttribute(attention_dq_tc_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_DQ) !=
		    cudaSuccess ||
	    cudaFuncSetAttribute(attention_dkv_tc_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_DKV) !=
		    cudaSuccess)
		return -1;
	dim3 grid(ck_blocks((size_t)T_, TB), (unsigned)NH, (unsigned)B);
	attention_dq_tc_kernel<<<grid, 128, SMEM_DQ, s>>>((bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv, lse,
							   dscratch, T_, C, NH, scale);
	attention_dkv_tc_kernel<<<grid, 128, SMEM_DKV, s>>>((bf16 *)dqkv, (const bf16 *)dout, (const bf16 *)qkv, lse,
							     dscratch, T_, C, NH, scale);
	return ck_status();
}
