/* Causal attention on the tensor cores: bf16, head size 64 (GPT-2's), the
 * flash-attention 2 scheme with every product an mma.sync m16n8k16 whose
 * operands come from shared memory through ldmatrix and whose results stay
 * in registers.  The default for bf16 training with head size 64;
 * GPTKIT_CUDA_ATTN=cuda-core selects cuda_attention.cu, the fp32 CUDA-core
 * kernel (which also serves fp32 and other head sizes).
 *
 * A block is 4 warps; each warp owns 16 rows of a 64-row tile and walks
 * tiles of 64 columns staged in shared memory (rows padded to 72 elements
 * so that the eight rows of an ldmatrix hit distinct banks), copied with
 * cp.async into two buffers so that the next tile arrives during this
 * one's products.  (32 rows a warp in 128-row blocks measured slower on an
 * H100: 27.2 against 23.1 ms a d12 step at B=128, T=1024.)
 *
 * Forward (a block per 64 queries): S = Q K^T, online softmax in registers
 * (running max and sum per row, base 2), P rounded to bf16 and fed back as
 * the A operand of O += P V without leaving registers.  Only the per-row
 * log-sum-exp is stored: no T x T matrix exists.
 *
 * Backward, recomputing P from lse, with D = rowsum(dO o O) precomputed:
 *   dq kernel (a block per 64 queries, keys in tiles):
 *     P = exp(S - lse), dP = dO V^T, dS = P o (dP - D), dQ += dS K
 *   dkv kernel (a block per 64 keys, queries in tiles), transposed:
 *     P^T = exp(K Q^T - lse), dP^T = V dO^T, dS^T = P^T o (dP^T - D),
 *     dV += P^T dO, dK += dS^T Q
 * Every output element has one writer and a fixed order of additions: the
 * results are deterministic (resume is bit-identical), no atomics.
 * Products accumulate in fp32; P and dS are rounded to bf16 as operands of
 * the second product, as flash-attention 2 does. */
#include "cuda_common.h"

#include <stdint.h>

#define HD 64   /* head size */
#define TR 64   /* rows per block (4 warps x 16) and columns per tile */
#define LDS 72  /* shared-memory row pitch in elements: 144 bytes */
#define LOG2E 1.4426950408889634f

/* ------------------------------------------------------------ primitives */

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
	return (uint32_t)__cvta_generic_to_shared(p);
}

/* four 8x8 bf16 matrices; lane i gives the address of row i % 8 of matrix i / 8 */
__device__ __forceinline__ void ldsm4(uint32_t r[4], const bf16 *p)
{
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
		     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
		     : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldsm4_t(uint32_t r[4], const bf16 *p)
{
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
		     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
		     : "r"(smem_addr(p)));
}

/* c (16x8 fp32) += a (16x16 bf16, row) . b (16x8 bf16, col) */
__device__ __forceinline__ void mma(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1)
{
	asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
		     "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
		     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
		     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* 2^x in one instruction (MUFU.EX2, about 2^-22 relative error: far below
 * the bf16 rounding the probabilities get next); 2^-inf = 0. */
__device__ __forceinline__ float ex2(float x)
{
	float y;
	asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
	return y;
}

__device__ __forceinline__ uint32_t pack2(float lo, float hi)
{
	__nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
	return *(uint32_t *)&v;
}

/* The A operands (16 rows x 64, four k-steps) of a warp's rows in a tile. */
__device__ __forceinline__ void load_a(uint32_t a[4][4], const bf16 *rows, int lane)
{
#pragma unroll
	for (int kk = 0; kk < 4; kk++)
		ldsm4(a[kk], rows + (lane & 15) * LDS + kk * 16 + (lane >> 4) * 8);
}

/* acc (16 x 64) = a (16 x 64) . B^T, B a 64 x 64 tile stored by rows (B[n][k]) */
__device__ __forceinline__ void mm_abt(float acc[8][4], const uint32_t a[4][4], const bf16 *B, int lane)
{
#pragma unroll
	for (int nt = 0; nt < 8; nt++)
#pragma unroll
		for (int e = 0; e < 4; e++)
			acc[nt][e] = 0.0f;
#pragma unroll
	for (int np = 0; np < 4; np++)
#pragma unroll
		for (int kk = 0; kk < 4; kk++) {
			uint32_t b[4];
			ldsm4(b, B + (np * 16 + (lane & 7) + (lane >> 4) * 8) * LDS + kk * 16 + ((lane >> 3) & 1) * 8);
			mma(acc[2 * np], a[kk], b[0], b[1]);
			mma(acc[2 * np + 1], a[kk], b[2], b[3]);
		}
}

/* acc (16 x 64) += p (16 x 64, A operands) . B, B a 64 x 64 tile stored by rows (B[k][n]) */
__device__ __forceinline__ void mm_ab(float acc[8][4], const uint32_t p[4][4], const bf16 *B, int lane)
{
#pragma unroll
	for (int kk = 0; kk < 4; kk++)
#pragma unroll
		for (int np = 0; np < 4; np++) {
			uint32_t b[4];
			ldsm4_t(b, B + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LDS + np * 16 + (lane >> 4) * 8);
			mma(acc[2 * np], p[kk], b[0], b[1]);
			mma(acc[2 * np + 1], p[kk], b[2], b[3]);
		}
}

/* The accumulator layout of a 16 x 64 result is the A operand layout of two
 * neighbouring 8-column tiles: round to bf16 and repack, in registers. */
__device__ __forceinline__ void to_a(uint32_t a[4][4], const float c[8][4])
{
#pragma unroll
	for (int kk = 0; kk < 4; kk++) {
		a[kk][0] = pack2(c[2 * kk][0], c[2 * kk][1]);
		a[kk][1] = pack2(c[2 * kk][2], c[2 * kk][3]);
		a[kk][2] = pack2(c[2 * kk + 1][0], c[2 * kk + 1][1]);
		a[kk][3] = pack2(c[2 * kk + 1][2], c[2 * kk + 1][3]);
	}
}

/* dst (64 x 64, pitch LDS) = rows r0.. of src (row stride in elements),
 * 16-byte copies through cp.async (no registers, and the copy overlaps the
 * products of the tile before it); rows at and past nrows are zero-filled.
 * Completion: cp_commit() after a tile's copies, cp_wait<n>() until at most
 * n groups are in flight, then __syncthreads(). */
__device__ __forceinline__ void load_tile_async(bf16 *dst, const bf16 *src, long long stride, int r0, int nrows)
{
	for (int i = threadIdx.x; i < TR * 8; i += blockDim.x) {
		int r = i >> 3, c = (i & 7) * 8, row = r0 + r;
		bool ok = row < nrows;
		const bf16 *g = src + (ok ? row : 0) * stride + c;
		asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst + r * LDS + c)),
			     "l"(g), "r"(ok ? 16 : 0));
	}
}

__device__ __forceinline__ void cp_commit(void)
{
	asm volatile("cp.async.commit_group;\n" ::);
}

template <int N> __device__ __forceinline__ void cp_wait(void)
{
	asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* Accumulator element e of column tile nt sits at row (lane >> 2) + 8 * (e >> 1)
 * and column nt * 8 + 2 * (lane & 3) + (e & 1) of the warp's 16 x 64 block. */
#define ROW_OF(lane, e) (((lane) >> 2) + 8 * ((e) >> 1))
#define COL_OF(lane, nt, e) ((nt) * 8 + 2 * ((lane) & 3) + ((e) & 1))

/* ---------------------------------------------------------------- forward */

__global__ void __launch_bounds__(128) attention_forward_tc_kernel(CkAttn a, float scale2)
{
	/* K and V tiles twice: the next tile's copy runs during this one's products */
	__shared__ __align__(16) bf16 Qs[TR * LDS], Ks[2][TR * LDS], Vs[2][TR * LDS];
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	/* the longest rows (last query blocks) first: a better tail under causality */
	const int qb = gridDim.x - 1 - blockIdx.x, b = blockIdx.z, h = blockIdx.y, q0 = qb * TR;
	const bf16 *q = (const bf16 *)a.q + b * a.q_bstride + (long long)h * HD;
	const bf16 *k = (const bf16 *)a.k + b * a.kv_bstride + (long long)h * HD;
	const bf16 *v = (const bf16 *)a.v + b * a.kv_bstride + (long long)h * HD;
	const int last_t = min(a.Tq - 1, q0 + TR - 1);
	const int nkeys = min(a.Tk, a.q_off + last_t + 1);
	const int w0 = q0 + warp * 16; /* this warp's first query row */
	const int ntiles = (nkeys + TR - 1) / TR;

	load_tile_async(Qs, q, a.q_tstride, q0, a.Tq);
	load_tile_async(Ks[0], k, a.kv_tstride, 0, nkeys);
	load_tile_async(Vs[0], v, a.kv_tstride, 0, nkeys);
	cp_commit();
	uint32_t qa[4][4];

	float m[2] = { -INFINITY, -INFINITY }, l[2] = { 0.0f, 0.0f }, o[8][4];
#pragma unroll
	for (int nt = 0; nt < 8; nt++)
#pragma unroll
		for (int e = 0; e < 4; e++)
			o[nt][e] = 0.0f;

	for (int it = 0; it < ntiles; it++) {
		const int s0 = it * TR, buf = it & 1;
		if (it + 1 < ntiles) {
			load_tile_async(Ks[buf ^ 1], k, a.kv_tstride, s0 + TR, nkeys);
			load_tile_async(Vs[buf ^ 1], v, a.kv_tstride, s0 + TR, nkeys);
			cp_commit();
			cp_wait<1>();
		} else {
			cp_wait<0>();
		}
		__syncthreads(); /* this tile (and Q) has landed */
		if (it == 0)
			load_a(qa, Qs + warp * 16 * LDS, lane);
		if (w0 < a.Tq && s0 <= a.q_off + w0 + 15) { /* warp-uniform: a row of this warp sees the tile */
			float s[8][4];
			mm_abt(s, qa, Ks[buf], lane);
			const bool edge = s0 + TR - 1 > a.q_off + w0 || s0 + TR > nkeys;
			/* the maximum of the raw scores (scale2 > 0), and the scaling
			 * folded into the exponent's multiply-add: p = 2^(s scale2 - m) */
			float mx[2] = { -INFINITY, -INFINITY };
#pragma unroll
			for (int nt = 0; nt < 8; nt++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					if (edge) {
						int col = s0 + COL_OF(lane, nt, e), t = w0 + ROW_OF(lane, e);
						if (col > a.q_off + t || col >= nkeys)
							s[nt][e] = -INFINITY;
					}
					mx[e >> 1] = fmaxf(mx[e >> 1], s[nt][e]);
				}
			float corr[2], mn[2];
#pragma unroll
			for (int r = 0; r < 2; r++) {
				mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xFFFFFFFFu, mx[r], 1));
				mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xFFFFFFFFu, mx[r], 2));
				/* finite: the first tile a warp takes is tile 0, where every
				 * row sees key 0; before it m = -inf and corr = 0 over l = o = 0 */
				mn[r] = fmaxf(m[r], mx[r] * scale2);
				corr[r] = ex2(m[r] - mn[r]);
				m[r] = mn[r];
				l[r] *= corr[r];
			}
#pragma unroll
			for (int nt = 0; nt < 8; nt++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int r = e >> 1;
					float p = ex2(fmaf(s[nt][e], scale2, -mn[r]));
					s[nt][e] = p;
					l[r] += p; /* this thread's share; the quad's shares are added at the end */
					o[nt][e] *= corr[r];
				}
			uint32_t pa[4][4];
			to_a(pa, s);
			mm_ab(o, pa, Vs[buf], lane);
		}
		__syncthreads(); /* the tile is consumed before its buffer is refilled */
	}

	float inv[2];
#pragma unroll
	for (int r = 0; r < 2; r++) {
		l[r] += __shfl_xor_sync(0xFFFFFFFFu, l[r], 1);
		l[r] += __shfl_xor_sync(0xFFFFFFFFu, l[r], 2);
		inv[r] = 1.0f / l[r];
	}
#pragma unroll
	for (int r = 0; r < 2; r++) {
		int t = w0 + (lane >> 2) + 8 * r;
		if (t >= a.Tq)
			continue;
		bf16 *out = (bf16 *)a.out + b * a.o_bstride + t * a.o_tstride + (long long)h * HD;
#pragma unroll
		for (int nt = 0; nt < 8; nt++)
			*(uint32_t *)(out + COL_OF(lane, nt, 0)) = pack2(o[nt][2 * r] * inv[r], o[nt][2 * r + 1] * inv[r]);
		if (a.lse && (lane & 3) == 0)
			a.lse[((long long)b * a.NH + h) * a.Tq + t] = (m[r] + log2f(l[r])) / LOG2E;
	}
}

/* ------------------------------------------------------------- backward */

/* dq = scale * sum over keys of dS K; a block per 64 queries.  The Q and
 * dO tiles, once in registers, become the second buffer of K and V. */
/* 4 blocks per SM: the registers are capped at 128 (a few spill), which
 * measured faster on an H100 than 3 blocks without spills (with dk/dv at
 * 2): 50.1 against 52.1 ms of attention backward a d12 step at B=128. */
__global__ void __launch_bounds__(128, 4) attention_dq_tc_kernel(bf16 *dqkv, const bf16 *dout, const bf16 *qkv,
							       const float *lse, const float *D, int T_, int C, int NH,
							       float scale)
{
	__shared__ __align__(16) bf16 Ks[2][TR * LDS], Vs[2][TR * LDS];
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int qb = gridDim.x - 1 - blockIdx.x, b = blockIdx.z, h = blockIdx.y, q0 = qb * TR;
	const long long C3 = 3LL * C;
	const bf16 *q = qkv + b * T_ * C3 + (long long)h * HD, *k = q + C, *v = q + 2 * C;
	const bf16 *dO = dout + (long long)b * T_ * C + (long long)h * HD;
	const float *lse_bh = lse + ((long long)b * NH + h) * T_, *D_bh = D + ((long long)b * NH + h) * T_;
	const int w0 = q0 + warp * 16, nkeys = min(T_, q0 + TR), ntiles = (nkeys + TR - 1) / TR;
	const float scale2 = scale * LOG2E;

	load_tile_async(Ks[1], q, C3, q0, T_);
	load_tile_async(Vs[1], dO, C, q0, T_);
	load_tile_async(Ks[0], k, C3, 0, nkeys);
	load_tile_async(Vs[0], v, C3, 0, nkeys);
	cp_commit();
	cp_wait<0>();
	__syncthreads();
	uint32_t qa[4][4], da[4][4];
	load_a(qa, Ks[1] + warp * 16 * LDS, lane);
	load_a(da, Vs[1] + warp * 16 * LDS, lane);
	float lse2[2], Dr[2];
#pragma unroll
	for (int r = 0; r < 2; r++) {
		int t = min(w0 + (lane >> 2) + 8 * r, T_ - 1);
		lse2[r] = lse_bh[t] * LOG2E;
		Dr[r] = D_bh[t];
	}
	float dq[8][4];
#pragma unroll
	for (int nt = 0; nt < 8; nt++)
#pragma unroll
		for (int e = 0; e < 4; e++)
			dq[nt][e] = 0.0f;
	__syncthreads(); /* Q and dO are in registers: buffer 1 is free */

	for (int it = 0; it < ntiles; it++) {
		const int s0 = it * TR, buf = it & 1;
		if (it + 1 < ntiles) {
			load_tile_async(Ks[buf ^ 1], k, C3, s0 + TR, nkeys);
			load_tile_async(Vs[buf ^ 1], v, C3, s0 + TR, nkeys);
			cp_commit();
			cp_wait<1>();
		} else {
			cp_wait<0>();
		}
		__syncthreads();
		if (w0 < T_ && s0 <= w0 + 15) {
			float p[8][4], dp[8][4];
			mm_abt(p, qa, Ks[buf], lane);
			mm_abt(dp, da, Vs[buf], lane);
			const bool edge = s0 + TR - 1 > w0 || s0 + TR > nkeys;
#pragma unroll
			for (int nt = 0; nt < 8; nt++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int r = e >> 1;
					float pr = ex2(fmaf(p[nt][e], scale2, -lse2[r]));
					if (edge) {
						int col = s0 + COL_OF(lane, nt, e), t = w0 + ROW_OF(lane, e);
						if (col > t || col >= nkeys)
							pr = 0.0f;
					}
					dp[nt][e] = pr * (dp[nt][e] - Dr[r]); /* dS */
				}
			uint32_t dsa[4][4];
			to_a(dsa, dp);
			mm_ab(dq, dsa, Ks[buf], lane);
		}
		__syncthreads();
	}
#pragma unroll
	for (int r = 0; r < 2; r++) {
		int t = w0 + (lane >> 2) + 8 * r;
		if (t >= T_)
			continue;
		bf16 *dst = dqkv + b * T_ * C3 + t * C3 + (long long)h * HD;
#pragma unroll
		for (int nt = 0; nt < 8; nt++)
			*(uint32_t *)(dst + COL_OF(lane, nt, 0)) = pack2(dq[nt][2 * r] * scale, dq[nt][2 * r + 1] * scale);
	}
}

/* dk = scale * sum over queries of dS^T Q, dv = sum of P^T dO; a block per 64 keys. */
/* 3 blocks per SM (registers capped at 168); see the dq kernel. */
__global__ void __launch_bounds__(128, 3) attention_dkv_tc_kernel(bf16 *dqkv, const bf16 *dout, const bf16 *qkv,
								const float *lse, const float *D, int T_, int C, int NH,
								float scale)
{
	__shared__ __align__(16) bf16 Qs[2][TR * LDS], Os[2][TR * LDS];
	__shared__ float lse_s[2][TR], D_s[2][TR];
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, k0 = blockIdx.x * TR; /* the first key blocks do the most work */
	const long long C3 = 3LL * C;
	const bf16 *q = qkv + b * T_ * C3 + (long long)h * HD, *k = q + C, *v = q + 2 * C;
	const bf16 *dO = dout + (long long)b * T_ * C + (long long)h * HD;
	const float *lse_bh = lse + ((long long)b * NH + h) * T_, *D_bh = D + ((long long)b * NH + h) * T_;
	const int w0 = k0 + warp * 16; /* this warp's first key row */
	const int ntiles = (T_ - k0 + TR - 1) / TR;
	const float scale2 = scale * LOG2E;

	/* K and V rows of this block as A operands, staged through buffer 1 */
	load_tile_async(Qs[1], k, C3, k0, T_);
	load_tile_async(Os[1], v, C3, k0, T_);
	cp_commit();
	cp_wait<0>();
	__syncthreads();
	uint32_t ka[4][4], va[4][4];
	load_a(ka, Qs[1] + warp * 16 * LDS, lane);
	load_a(va, Os[1] + warp * 16 * LDS, lane);
	float dk[8][4], dv[8][4];
#pragma unroll
	for (int nt = 0; nt < 8; nt++)
#pragma unroll
		for (int e = 0; e < 4; e++)
			dk[nt][e] = dv[nt][e] = 0.0f;
	__syncthreads(); /* K and V are in registers: buffer 1 is free */

	/* the tile starting at query t0 into buffer bf */
	auto stage = [&](int t0, int bf) {
		load_tile_async(Qs[bf], q, C3, t0, T_);
		load_tile_async(Os[bf], dO, C, t0, T_);
		if (threadIdx.x < TR) {
			int t = t0 + threadIdx.x;
			lse_s[bf][threadIdx.x] = t < T_ ? lse_bh[t] * LOG2E : INFINITY; /* exp2(x - inf) = 0 */
			D_s[bf][threadIdx.x] = t < T_ ? D_bh[t] : 0.0f;
		}
		cp_commit();
	};
	stage(k0, 0);
	for (int it = 0; it < ntiles; it++) {
		const int t0 = k0 + it * TR, buf = it & 1;
		if (it + 1 < ntiles) {
			stage(t0 + TR, buf ^ 1);
			cp_wait<1>();
		} else {
			cp_wait<0>();
		}
		__syncthreads();
		if (w0 < T_) {
			float p[8][4], dp[8][4];
			mm_abt(p, ka, Qs[buf], lane); /* S^T: 16 keys x 64 queries */
			mm_abt(dp, va, Os[buf], lane); /* dP^T = V dO^T */
			const bool edge = t0 < w0 + 15 || t0 + TR > T_;
#pragma unroll
			for (int nt = 0; nt < 8; nt++)
#pragma unroll
				for (int e = 0; e < 4; e++) {
					int c = COL_OF(lane, nt, e);
					float pr = ex2(fmaf(p[nt][e], scale2, -lse_s[buf][c]));
					if (edge) {
						int t = t0 + c, s = w0 + ROW_OF(lane, e);
						if (t < s || t >= T_)
							pr = 0.0f;
					}
					p[nt][e] = pr;
					dp[nt][e] = pr * (dp[nt][e] - D_s[buf][c]); /* dS^T */
				}
			uint32_t pa[4][4], dsa[4][4];
			to_a(pa, p);
			to_a(dsa, dp);
			mm_ab(dv, pa, Os[buf], lane);
			mm_ab(dk, dsa, Qs[buf], lane);
		}
		__syncthreads();
	}
#pragma unroll
	for (int r = 0; r < 2; r++) {
		int s = w0 + (lane >> 2) + 8 * r;
		if (s >= T_)
			continue;
		bf16 *dkp = dqkv + b * T_ * C3 + s * C3 + C + (long long)h * HD, *dvp = dkp + C;
#pragma unroll
		for (int nt = 0; nt < 8; nt++) {
			int c = COL_OF(lane, nt, 0);
			*(uint32_t *)(dkp + c) = pack2(dk[nt][2 * r] * scale, dk[nt][2 * r + 1] * scale);
			*(uint32_t *)(dvp + c) = pack2(dv[nt][2 * r], dv[nt][2 * r + 1]);
		}
	}
}

/* ------------------------------------------------------------------ host */

extern "C" int ck_attention_tc_supported(CkType t, int hs)
{
	return t == CK_BF16 && hs == HD;
}

/* The 16-byte loads need 8-element alignment of every row and head. */
static int aligned8(long long x)
{
	return x % 8 == 0;
}

extern "C" int ck_attention_forward_tc(const CkAttn *a, void *stream)
{
	if (a->hs != HD || !aligned8(a->q_tstride) || !aligned8(a->kv_tstride) || !aligned8(a->q_bstride) ||
	    !aligned8(a->kv_bstride) || !aligned8(a->o_tstride) || !aligned8(a->o_bstride))
		return -1;
	if (a->Tq <= 0 || a->B <= 0)
		return 0;
	dim3 grid(ck_blocks((size_t)a->Tq, TR), (unsigned)a->NH, (unsigned)a->B);
	attention_forward_tc_kernel<<<grid, 128, 0, ck_stream(stream)>>>(*a, LOG2E / sqrtf((float)HD));
	return ck_status();
}

extern "C" int ck_attention_backward_tc(void *dqkv, float *dscratch, const void *dout, const void *qkv,
					const void *out, const float *lse, int B, int T_, int C, int NH, void *stream)
{
	if (C / NH != HD || C % 8 != 0)
		return -1;
	if (T_ <= 0 || B <= 0)
		return 0;
	cudaStream_t s = ck_stream(stream);
	float scale = 1.0f / sqrtf((float)HD);
	/* D = rowsum(dout * out): the CUDA-core kernel's first step */
	if (ck_attention_d(CK_BF16, dscratch, dout, out, B, T_, C, NH, stream))
		return -1;
	dim3 grid(ck_blocks((size_t)T_, TR), (unsigned)NH, (unsigned)B);
	const bf16 *d = (const bf16 *)dout, *x = (const bf16 *)qkv;
	bf16 *dx = (bf16 *)dqkv;
	attention_dq_tc_kernel<<<grid, 128, 0, s>>>(dx, d, x, lse, dscratch, T_, C, NH, scale);
	attention_dkv_tc_kernel<<<grid, 128, 0, s>>>(dx, d, x, lse, dscratch, T_, C, NH, scale);
	return ck_status();
}
