/* Causal self-attention in the flash-attention style (cuda_kernels.h).
 *
 * Forward: a block takes ROWS query rows of one (batch, head), one warp per
 * row, and walks the keys in tiles of KT = 32 held in shared memory (fp32,
 * rows padded to hs + 1 floats so that lane j reading key j hits its own
 * bank).  Lane j scores key j of the tile; the warp keeps the online
 * softmax state (running max m, running sum l, cuda_math.h) and an output
 * accumulator of hs floats spread over the lanes (lane owns dims lane,
 * lane + 32, ...).  Only the per-row log-sum-exp m + log(l) is stored for
 * the backward pass: no T x T matrix exists in any mode.
 *
 * Backward (recomputing the probabilities from lse):
 *   D[t]   = sum_i dout[t,i] * out[t,i]
 *   p[t,s] = exp(scale q_t.k_s - lse[t]),   ds[t,s] = p (dout_t.v_s - D[t])
 *   dq_t = scale sum_s ds k_s,  dk_s = scale sum_t ds q_t,  dv_s = sum_t p dout_t
 * dq by a kernel over query rows (keys in tiles), dk and dv by a kernel over
 * key rows (queries in tiles): every output has one writer, no atomics.
 * All arithmetic is fp32; the bf16 mode only stores bf16. */
#include "cuda_common.h"

#define ROWS 8   /* query (or key) rows per block: one warp each */
#define KT 32    /* keys (or queries) per shared-memory tile */
#define HSMAX 128
#define NR (HSMAX / 32)

template <typename T>
__global__ void __launch_bounds__(ROWS * 32) attention_forward_kernel(CkAttn a, float scale)
{
	extern __shared__ float sm[];
	const int hs = a.hs, hp = hs + 1;
	float *Ks = sm, *Vs = Ks + KT * hp, *Qs = Vs + KT * hp;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, t = blockIdx.x * ROWS + warp;
	const bool valid = t < a.Tq;
	const T *q = (const T *)a.q + b * a.q_bstride + (long long)h * hs;
	const T *k = (const T *)a.k + b * a.kv_bstride + (long long)h * hs;
	const T *v = (const T *)a.v + b * a.kv_bstride + (long long)h * hs;
	const int last_t = min(a.Tq - 1, (int)blockIdx.x * ROWS + ROWS - 1);
	const int nkeys = min(a.Tk, a.q_off + last_t + 1);
	const int pq = a.q_off + t;

	float *qrow = Qs + warp * hs;
	if (valid)
		for (int i = lane; i < hs; i += 32)
			qrow[i] = tof(q[t * a.q_tstride + i]);
	float m = -INFINITY, l = 0.0f, acc[NR];
#pragma unroll
	for (int r = 0; r < NR; r++)
		acc[r] = 0.0f;

	for (int s0 = 0; s0 < nkeys; s0 += KT) {
		__syncthreads(); /* the previous tile is consumed; qrow is visible */
		for (int idx = threadIdx.x; idx < KT * hs; idx += blockDim.x) {
			int j = idx / hs, i = idx - j * hs, s = s0 + j;
			float kv = 0.0f, vv = 0.0f;
			if (s < nkeys) {
				kv = tof(k[s * a.kv_tstride + i]);
				vv = tof(v[s * a.kv_tstride + i]);
			}
			Ks[j * hp + i] = kv;
			Vs[j * hp + i] = vv;
		}
		__syncthreads();
		if (!valid) /* warp-uniform */
			continue;
		int s = s0 + lane;
		float sc = -INFINITY;
		if (s <= pq && s < nkeys) {
			float d = 0.0f;
			const float *kr = Ks + lane * hp;
			for (int i = 0; i < hs; i++)
				d += qrow[i] * kr[i];
			sc = d * scale;
		}
		float cm = warp_max(sc);
		if (cm == -INFINITY) /* every key of the tile is in this row's future */
			continue;
		float mn = fmaxf(m, cm), corr = ck_softmax_rescale(m, mn);
		float p = sc == -INFINITY ? 0.0f : expf(sc - mn);
		l = l * corr + warp_sum(p);
#pragma unroll
		for (int r = 0; r < NR; r++)
			acc[r] *= corr;
		for (int j = 0; j < KT; j++) {
			float pj = __shfl_sync(0xFFFFFFFFu, p, j);
			const float *vr = Vs + j * hp;
#pragma unroll
			for (int r = 0; r < NR; r++) {
				int i = lane + 32 * r;
				if (i < hs)
					acc[r] += pj * vr[i];
			}
		}
		m = mn;
	}
	if (!valid)
		return;
	T *o = (T *)a.out + b * a.o_bstride + t * a.o_tstride + (long long)h * hs;
	float inv = 1.0f / l;
#pragma unroll
	for (int r = 0; r < NR; r++) {
		int i = lane + 32 * r;
		if (i < hs)
			o[i] = fromf<T>(acc[r] * inv);
	}
	if (a.lse && lane == 0)
		a.lse[((long long)b * a.NH + h) * a.Tq + t] = m + logf(l);
}

/* D[(b*NH + h)*T + t] = dout[b,t,h,:] . out[b,t,h,:]; one warp per (b, t, h). */
template <typename T>
__global__ void attention_d_kernel(float *D, const T *dout, const T *out, int B, int T_, int C, int NH)
{
	long long row = (long long)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
	int lane = threadIdx.x & 31, hs = C / NH;
	if (row >= (long long)B * T_ * NH)
		return;
	int h = (int)(row % NH);
	long long bt = row / NH;
	int t = (int)(bt % T_), b = (int)(bt / T_);
	const T *d = dout + bt * C + h * hs, *o = out + bt * C + h * hs;
	float s = 0.0f;
	for (int i = lane; i < hs; i += 32)
		s += tof(d[i]) * tof(o[i]);
	s = warp_sum(s);
	if (lane == 0)
		D[((long long)b * NH + h) * T_ + t] = s;
}

/* dq: one warp per query row, keys in tiles (like the forward). */
template <typename T>
__global__ void __launch_bounds__(ROWS * 32)
	attention_dq_kernel(T *dqkv, const T *dout, const T *qkv, const float *lse, const float *D, int T_, int C,
			    int NH, float scale)
{
	extern __shared__ float sm[];
	const int hs = C / NH, hp = hs + 1, C3 = 3 * C;
	float *Ks = sm, *Vs = Ks + KT * hp, *Qs = Vs + KT * hp, *Ds = Qs + ROWS * hs;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, t = blockIdx.x * ROWS + warp;
	const bool valid = t < T_;
	const long long base = (long long)b * T_ * C3 + (long long)h * hs;
	const int nkeys = min(T_, (int)blockIdx.x * ROWS + ROWS);
	const long long bh = ((long long)b * NH + h) * T_;
	float *qrow = Qs + warp * hs, *drow = Ds + warp * hs;
	float lse_t = 0.0f, D_t = 0.0f;
	if (valid) {
		for (int i = lane; i < hs; i += 32) {
			qrow[i] = tof(qkv[base + (long long)t * C3 + i]);
			drow[i] = tof(dout[((long long)b * T_ + t) * C + h * hs + i]);
		}
		lse_t = lse[bh + t];
		D_t = D[bh + t];
	}
	float acc[NR];
#pragma unroll
	for (int r = 0; r < NR; r++)
		acc[r] = 0.0f;
	for (int s0 = 0; s0 < nkeys; s0 += KT) {
		__syncthreads();
		for (int idx = threadIdx.x; idx < KT * hs; idx += blockDim.x) {
			int j = idx / hs, i = idx - j * hs, s = s0 + j;
			float kv = 0.0f, vv = 0.0f;
			if (s < nkeys) {
				kv = tof(qkv[base + (long long)s * C3 + C + i]);
				vv = tof(qkv[base + (long long)s * C3 + 2 * C + i]);
			}
			Ks[j * hp + i] = kv;
			Vs[j * hp + i] = vv;
		}
		__syncthreads();
		if (!valid || s0 > t)
			continue;
		int s = s0 + lane;
		float ds = 0.0f;
		if (s <= t) {
			const float *kr = Ks + lane * hp, *vr = Vs + lane * hp;
			float d = 0.0f, dp = 0.0f;
			for (int i = 0; i < hs; i++) {
				d += qrow[i] * kr[i];
				dp += drow[i] * vr[i];
			}
			float p = expf(d * scale - lse_t);
			ds = p * (dp - D_t);
		}
		for (int j = 0; j < KT; j++) {
			float dsj = __shfl_sync(0xFFFFFFFFu, ds, j);
			const float *kr = Ks + j * hp;
#pragma unroll
			for (int r = 0; r < NR; r++) {
				int i = lane + 32 * r;
				if (i < hs)
					acc[r] += dsj * kr[i];
			}
		}
	}
	if (!valid)
		return;
	T *dq = dqkv + base + (long long)t * C3;
#pragma unroll
	for (int r = 0; r < NR; r++) {
		int i = lane + 32 * r;
		if (i < hs)
			dq[i] = fromf<T>(acc[r] * scale);
	}
}

/* dk, dv: one warp per key row, queries in tiles. */
template <typename T>
__global__ void __launch_bounds__(ROWS * 32)
	attention_dkv_kernel(T *dqkv, const T *dout, const T *qkv, const float *lse, const float *D, int T_, int C,
			     int NH, float scale)
{
	extern __shared__ float sm[];
	const int hs = C / NH, hp = hs + 1, C3 = 3 * C;
	float *Qs = sm, *Os = Qs + KT * hp, *Kr = Os + KT * hp, *Vr = Kr + ROWS * hs, *Ls = Vr + ROWS * hs,
	      *Dts = Ls + KT;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	const int b = blockIdx.z, h = blockIdx.y, s = blockIdx.x * ROWS + warp;
	const bool valid = s < T_;
	const long long base = (long long)b * T_ * C3 + (long long)h * hs;
	const long long bh = ((long long)b * NH + h) * T_;
	float *krow = Kr + warp * hs, *vrow = Vr + warp * hs;
	if (valid)
		for (int i = lane; i < hs; i += 32) {
			krow[i] = tof(qkv[base + (long long)s * C3 + C + i]);
			vrow[i] = tof(qkv[base + (long long)s * C3 + 2 * C + i]);
		}
	float dk[NR], dv[NR];
#pragma unroll
	for (int r = 0; r < NR; r++)
		dk[r] = dv[r] = 0.0f;
	for (int t0 = blockIdx.x * ROWS; t0 < T_; t0 += KT) {
		__syncthreads();
		for (int idx = threadIdx.x; idx < KT * hs; idx += blockDim.x) {
			int j = idx / hs, i = idx - j * hs, t = t0 + j;
			float qv = 0.0f, dv_ = 0.0f;
			if (t < T_) {
				qv = tof(qkv[base + (long long)t * C3 + i]);
				dv_ = tof(dout[((long long)b * T_ + t) * C + h * hs + i]);
			}
			Qs[j * hp + i] = qv;
			Os[j * hp + i] = dv_;
		}
		if (threadIdx.x < KT) {
			int t = t0 + threadIdx.x;
			Ls[threadIdx.x] = t < T_ ? lse[bh + t] : 0.0f;
			Dts[threadIdx.x] = t < T_ ? D[bh + t] : 0.0f;
		}
		__syncthreads();
		if (!valid)
			continue;
		int t = t0 + lane;
		float p = 0.0f, ds = 0.0f;
		if (t < T_ && t >= s) {
			const float *qr = Qs + lane * hp, *orow = Os + lane * hp;
			float d = 0.0f, dp = 0.0f;
			for (int i = 0; i < hs; i++) {
				d += qr[i] * krow[i];
				dp += orow[i] * vrow[i];
			}
			p = expf(d * scale - Ls[lane]);
			ds = p * (dp - Dts[lane]);
		}
		for (int j = 0; j < KT; j++) {
			float pj = __shfl_sync(0xFFFFFFFFu, p, j), dsj = __shfl_sync(0xFFFFFFFFu, ds, j);
			const float *qr = Qs + j * hp, *orow = Os + j * hp;
#pragma unroll
			for (int r = 0; r < NR; r++) {
				int i = lane + 32 * r;
				if (i < hs) {
					dv[r] += pj * orow[i];
					dk[r] += dsj * qr[i];
				}
			}
		}
	}
	if (!valid)
		return;
	T *dkp = dqkv + base + (long long)s * C3 + C, *dvp = dkp + C;
#pragma unroll
	for (int r = 0; r < NR; r++) {
		int i = lane + 32 * r;
		if (i < hs) {
			dkp[i] = fromf<T>(dk[r] * scale);
			dvp[i] = fromf<T>(dv[r]);
		}
	}
}

template <typename T>
static int attn_fwd(const CkAttn *a, void *stream)
{
	if (a->hs > HSMAX || a->hs <= 0)
		return -1;
	if (a->Tq <= 0 || a->B <= 0)
		return 0;
	size_t smem = (size_t)(2 * KT * (a->hs + 1) + ROWS * a->hs) * sizeof(float);
	dim3 grid(ck_blocks((size_t)a->Tq, ROWS), (unsigned)a->NH, (unsigned)a->B);
	attention_forward_kernel<T><<<grid, ROWS * 32, smem, ck_stream(stream)>>>(*a, 1.0f / sqrtf((float)a->hs));
	return ck_status();
}

template <typename T>
static int attn_bwd(void *dqkv, float *D, const void *dout, const void *qkv, const void *out, const float *lse,
		    int B, int T_, int C, int NH, void *stream)
{
	int hs = C / NH;
	if (hs > HSMAX || hs <= 0)
		return -1;
	cudaStream_t s = ck_stream(stream);
	float scale = 1.0f / sqrtf((float)hs);
	size_t rows = (size_t)B * T_ * NH;
	attention_d_kernel<T><<<ck_blocks(rows, 8), 256, 0, s>>>(D, (const T *)dout, (const T *)out, B, T_, C, NH);
	dim3 grid(ck_blocks((size_t)T_, ROWS), (unsigned)NH, (unsigned)B);
	size_t smem_q = (size_t)(2 * KT * (hs + 1) + 2 * ROWS * hs) * sizeof(float);
	attention_dq_kernel<T><<<grid, ROWS * 32, smem_q, s>>>((T *)dqkv, (const T *)dout, (const T *)qkv, lse, D,
							      T_, C, NH, scale);
	size_t smem_kv = (size_t)(2 * KT * (hs + 1) + 2 * ROWS * hs + 2 * KT) * sizeof(float);
	attention_dkv_kernel<T><<<grid, ROWS * 32, smem_kv, s>>>((T *)dqkv, (const T *)dout, (const T *)qkv, lse,
								D, T_, C, NH, scale);
	return ck_status();
}

template <typename T>
static int attn_d(float *D, const void *dout, const void *out, int B, int T_, int C, int NH, void *stream)
{
	size_t rows = (size_t)B * T_ * NH;
	attention_d_kernel<T><<<ck_blocks(rows, 8), 256, 0, ck_stream(stream)>>>(D, (const T *)dout, (const T *)out, B,
										  T_, C, NH);
	return ck_status();
}

extern "C" int ck_attention_d(CkType t, float *D, const void *dout, const void *out, int B, int T_, int C, int NH,
			      void *stream)
{
	return CK_DISPATCH(t, attn_d, D, dout, out, B, T_, C, NH, stream);
}

extern "C" int ck_attention_forward(CkType t, const CkAttn *a, void *stream)
{
	return CK_DISPATCH(t, attn_fwd, a, stream);
}

extern "C" void ck_attention_qkv_args(CkAttn *a, CkType t, void *out, float *lse, const void *qkv, int B, int T_,
				      int C, int NH)
{
	size_t es = ck_sizeof(t);
	a->q = qkv;
	a->k = (const char *)qkv + (size_t)C * es;
	a->v = (const char *)qkv + (size_t)2 * C * es;
	a->out = out;
	a->lse = lse;
	a->q_bstride = a->kv_bstride = (long long)T_ * 3 * C;
	a->q_tstride = a->kv_tstride = 3 * C;
	a->o_bstride = (long long)T_ * C;
	a->o_tstride = C;
	a->B = B;
	a->NH = NH;
	a->hs = C / NH;
	a->Tq = a->Tk = T_;
	a->q_off = 0;
}

extern "C" int ck_attention_forward_qkv(CkType t, void *out, float *lse, const void *qkv, int B, int T_, int C,
					int NH, void *stream)
{
	CkAttn a;
	ck_attention_qkv_args(&a, t, out, lse, qkv, B, T_, C, NH);
	return ck_attention_forward(t, &a, stream);
}

extern "C" int ck_attention_backward(CkType t, void *dqkv, float *dscratch, const void *dout, const void *qkv,
				     const void *out, const float *lse, int B, int T_, int C, int NH, void *stream)
{
	return CK_DISPATCH(t, attn_bwd, dqkv, dscratch, dout, qkv, out, lse, B, T_, C, NH, stream);
}
