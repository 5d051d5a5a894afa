/* The layers of GPT-2 on the CPU: see layers.h.  Matrix products go through
 * OpenBLAS; the rest are OpenMP loops written so that the compiler vectorises
 * them.  Every reduction runs in a fixed order that does not depend on the
 * number of threads (threads split independent rows or columns, never a sum),
 * so results depend only on the inputs and on OpenBLAS. */
#include "layers.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "vmath.h"

#define GELU_SCALING_FACTOR 0.7978845608028654f /* sqrt(2/pi) */

/* ------------------------------------------------------------------------ */
/* Encoder */

void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
		     int B, int T, int C)
{
	#pragma omp parallel for
	for (int bt = 0; bt < B * T; bt++) {
		float *o = out + (size_t)bt * C;
		const float *te = wte + (size_t)inp[bt] * C;
		const float *pe = wpe + (size_t)(bt % T) * C;
		#pragma omp simd
		for (int i = 0; i < C; i++)
			o[i] = te[i] + pe[i];
	}
}

void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
		      int B, int T, int C)
{
	/* Threads split the channels; every thread walks the positions in order,
	 * so repeated tokens add up in the same order whatever the thread count. */
	#pragma omp parallel
	{
		#pragma omp for schedule(static)
		for (int c0 = 0; c0 < C; c0 += 64) {
			int c1 = c0 + 64 < C ? c0 + 64 : C;
			for (int bt = 0; bt < B * T; bt++) {
				const float *d = dout + (size_t)bt * C;
				float *te = dwte + (size_t)inp[bt] * C;
				float *pe = dwpe + (size_t)(bt % T) * C;
				#pragma omp simd
				for (int i = c0; i < c1; i++) {
					te[i] += d[i];
					pe[i] += d[i];
				}
			}
		}
	}
}

/* ------------------------------------------------------------------------ */
/* LayerNorm */

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
		       const float *weight, const float *bias, int B, int T, int C)
{
	const float eps = 1e-5f;
	#pragma omp parallel for
	for (int bt = 0; bt < B * T; bt++) {
		const float *x = inp + (size_t)bt * C;
		float *o = out + (size_t)bt * C;
		float m = 0.0f;
		#pragma omp simd reduction(+:m)
		for (int i = 0; i < C; i++)
			m += x[i];
		m /= C;
		float v = 0.0f;
		#pragma omp simd reduction(+:v)
		for (int i = 0; i < C; i++)
			v += (x[i] - m) * (x[i] - m);
		v /= C;
		float s = 1.0f / sqrtf(v + eps);
		#pragma omp simd
		for (int i = 0; i < C; i++)
			o[i] = (x[i] - m) * s * weight[i] + bias[i];
		mean[bt] = m;
		rstd[bt] = s;
	}
}

void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
			const float *inp, const float *weight, const float *mean,
			const float *rstd, int B, int T, int C)
{
	int N = B * T;
	#pragma omp parallel
	{
		#pragma omp for schedule(static)
		for (int bt = 0; bt < N; bt++) {
			const float *x = inp + (size_t)bt * C, *d = dout + (size_t)bt * C;
			float *dx = dinp + (size_t)bt * C;
			float m = mean[bt], s = rstd[bt];
			float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
			#pragma omp simd reduction(+:dnorm_mean, dnorm_norm_mean)
			for (int i = 0; i < C; i++) {
				float norm = (x[i] - m) * s;
				float dnorm = weight[i] * d[i];
				dnorm_mean += dnorm;
				dnorm_norm_mean += dnorm * norm;
			}
			dnorm_mean /= C;
			dnorm_norm_mean /= C;
			#pragma omp simd
			for (int i = 0; i < C; i++) {
				float norm = (x[i] - m) * s;
				float dnorm = weight[i] * d[i];
				dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
			}
		}
		/* weight and bias gradients: threads split channels, rows in order */
		#pragma omp for schedule(static)
		for (int c0 = 0; c0 < C; c0 += 64) {
			int c1 = c0 + 64 < C ? c0 + 64 : C;
			for (int bt = 0; bt < N; bt++) {
				const float *x = inp + (size_t)bt * C, *d = dout + (size_t)bt * C;
				float m = mean[bt], s = rstd[bt];
				#pragma omp simd
				for (int i = c0; i < c1; i++) {
					dbias[i] += d[i];
					dweight[i] += (x[i] - m) * s * d[i];
				}
			}
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Matrix products */

/* C (M x N, row-major, ldc) = op(A) op(B) + beta C, with the rows or the
 * columns of C split among the OpenMP threads, each calling single-threaded
 * OpenBLAS on its own block.  OpenBLAS's own (pthread) threads stay off: two
 * thread pools that wait for each other on two cores cost more than they
 * gain.  Each thread packs the whole of the operand it does not split, so
 * the larger of M and N is split (the head's dwte: 50304 rows of C, packing
 * the 256-row activation twice rather than the 50304-row gradient).  The K
 * sum is never split: every output element comes whole from one call, so
 * the result does not depend on the number of threads. */
static void sgemm_split(int transa, int transb, int M, int N, int K,
			const float *A, int lda, const float *Bm, int ldb, float beta,
			float *C, int ldc)
{
	CBLAS_TRANSPOSE ta = transa ? CblasTrans : CblasNoTrans, tb = transb ? CblasTrans : CblasNoTrans;
	int split_m = M > N;
	int D = split_m ? M : N;
	#pragma omp parallel
	{
		int nt = omp_get_num_threads(), id = omp_get_thread_num();
		int chunk = ((D + nt - 1) / nt + 15) / 16 * 16;
		int d0 = id * chunk, d1 = d0 + chunk < D ? d0 + chunk : D;
		if (d0 < d1 && split_m) {
			const float *a = transa ? A + d0 : A + (size_t)d0 * lda;
			cblas_sgemm(CblasRowMajor, ta, tb, d1 - d0, N, K, 1.0f, a, lda, Bm, ldb,
				    beta, C + (size_t)d0 * ldc, ldc);
		} else if (d0 < d1) {
			const float *b = transb ? Bm + (size_t)d0 * ldb : Bm + d0;
			cblas_sgemm(CblasRowMajor, ta, tb, M, d1 - d0, K, 1.0f, A, lda, b, ldb,
				    beta, C + d0, ldc);
		}
	}
}

void matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
			int B, int T, int C, int OC)
{
	for (int bt = 0; bt < B * T; bt++)
		for (int o = 0; o < OC; o++) {
			double v = bias ? bias[o] : 0.0;
			for (int i = 0; i < C; i++)
				v += (double)inp[(size_t)bt * C + i] * weight[(size_t)o * C + i];
			out[(size_t)bt * OC + o] = (float)v;
		}
}

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
		    int B, int T, int C, int OC)
{
	int N = B * T;
	/* Start from the bias and let sgemm add the product (beta = 1). */
	if (bias) {
		#pragma omp parallel for
		for (int bt = 0; bt < N; bt++)
			memcpy(out + (size_t)bt * OC, bias, (size_t)OC * sizeof(float));
	}
	sgemm_split(0, 1, N, OC, C, inp, C, weight, C, bias ? 1.0f : 0.0f, out, OC);
}

/* dbias[o] (+)= sum over positions of dout[., o]; threads split the columns. */
static void bias_backward(float *dbias, const float *dout, int N, int OC, int accumulate)
{
	#pragma omp parallel for schedule(static)
	for (int o0 = 0; o0 < OC; o0 += 128) {
		int o1 = o0 + 128 < OC ? o0 + 128 : OC;
		if (!accumulate)
			for (int o = o0; o < o1; o++)
				dbias[o] = 0.0f;
		for (int bt = 0; bt < N; bt++) {
			const float *d = dout + (size_t)bt * OC;
			#pragma omp simd
			for (int o = o0; o < o1; o++)
				dbias[o] += d[o];
		}
	}
}

void matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
			 const float *inp, const float *weight, int B, int T, int C, int OC)
{
	int N = B * T;
	if (dinp)
		for (int bt = 0; bt < N; bt++)
			for (int i = 0; i < C; i++) {
				double v = 0;
				for (int o = 0; o < OC; o++)
					v += (double)dout[(size_t)bt * OC + o] * weight[(size_t)o * C + i];
				dinp[(size_t)bt * C + i] += (float)v;
			}
	for (int o = 0; o < OC; o++) {
		for (int i = 0; i < C; i++) {
			double v = 0;
			for (int bt = 0; bt < N; bt++)
				v += (double)dout[(size_t)bt * OC + o] * inp[(size_t)bt * C + i];
			dweight[(size_t)o * C + i] += (float)v;
		}
		if (dbias) {
			double v = 0;
			for (int bt = 0; bt < N; bt++)
				v += dout[(size_t)bt * OC + o];
			dbias[o] += (float)v;
		}
	}
}

void matmul_backward_ex(float *dinp, float *dweight, float *dbias, const float *dout,
			const float *inp, const float *weight, int B, int T, int C, int OC,
			int accumulate)
{
	int N = B * T;
	if (dinp) /* dinp (N,C) += dout (N,OC) @ weight (OC,C) */
		sgemm_split(0, 0, N, C, OC, dout, OC, weight, C, 1.0f, dinp, C);
	/* dweight (OC,C) (+)= dout^T (OC,N) @ inp (N,C) */
	sgemm_split(1, 0, OC, C, N, dout, OC, inp, C, accumulate ? 1.0f : 0.0f, dweight, C);
	if (dbias)
		bias_backward(dbias, dout, N, OC, accumulate);
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
		     const float *inp, const float *weight, int B, int T, int C, int OC)
{
	matmul_backward_ex(dinp, dweight, dbias, dout, inp, weight, B, T, C, OC, 1);
}

/* ------------------------------------------------------------------------ */
/* Attention */

void attention_forward_ref(float *out, float *att, const float *inp, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
				float *a = att + (((size_t)b * NH + h) * T + t) * T;
				double maxv = -INFINITY;
				for (int s = 0; s <= t; s++) {
					const float *k = inp + ((size_t)b * T + s) * C3 + C + h * hs;
					double v = 0;
					for (int i = 0; i < hs; i++)
						v += (double)q[i] * k[i];
					a[s] = (float)(v * scale);
					if (a[s] > maxv)
						maxv = a[s];
				}
				double sum = 0;
				for (int s = 0; s <= t; s++)
					sum += exp(a[s] - maxv);
				for (int s = 0; s < T; s++)
					a[s] = s <= t ? (float)(exp(a[s] - maxv) / sum) : 0.0f;
				float *o = out + ((size_t)b * T + t) * C + h * hs;
				for (int i = 0; i < hs; i++) {
					double v = 0;
					for (int s = 0; s <= t; s++)
						v += (double)a[s] * inp[((size_t)b * T + s) * C3 + 2 * C + h * hs + i];
					o[i] = (float)v;
				}
			}
}

void causal_softmax_row(float *a, int t, int T)
{
	float maxv = -INFINITY;
	#pragma omp simd reduction(max:maxv)
	for (int s = 0; s <= t; s++)
		maxv = a[s] > maxv ? a[s] : maxv;
	float sum = 0.0f;
	#pragma omp simd reduction(+:sum)
	for (int s = 0; s <= t; s++) {
		a[s] = vexp(a[s] - maxv);
		sum += a[s];
	}
	float inv = 1.0f / sum;
	#pragma omp simd
	for (int s = 0; s <= t; s++)
		a[s] *= inv;
	if (t + 1 < T)
		memset(a + t + 1, 0, (size_t)(T - 1 - t) * sizeof(float));
}

/* Rows of queries per task: a (b, h) pair's rows are cut into blocks so
 * that both threads have work at B = 1, and each block multiplies only the
 * keys it can see (the rows before its last) instead of all T. */
#define ATT_ROWS 128

/* Per (b, h, block of rows): scores = scale Q K^T and out = att V as two
 * BLAS products over the visible keys, the causal softmax between them.  A
 * loop per (t, s) pair ran at a tenth of the speed: at T = 1024 it took
 * half of gpt-eval's time. */
void attention_forward(float *out, float *att, const float *inp, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C, nblk = (T + ATT_ROWS - 1) / ATT_ROWS;
	float scale = 1.0f / sqrtf((float)hs);
	/* the largest blocks (the last rows see the most keys) first */
	#pragma omp parallel for schedule(dynamic, 1)
	for (int task = 0; task < B * NH * nblk; task++) {
		int blk = nblk - 1 - task % nblk, bh = task / nblk, b = bh / NH, h = bh % NH;
		int r0 = blk * ATT_ROWS, r1 = r0 + ATT_ROWS < T ? r0 + ATT_ROWS : T, n = r1 - r0;
		const float *q = inp + ((size_t)b * T + r0) * C3 + h * hs;
		const float *k = inp + (size_t)b * T * C3 + C + h * hs;
		const float *v = inp + (size_t)b * T * C3 + 2 * C + h * hs;
		float *a = att + (((size_t)b * NH + h) * T + r0) * T;
		/* rows r0..r1-1 see keys 0..r1-1 */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r1, hs, scale, q, C3, k, C3, 0.0f, a, T);
		for (int i = 0; i < n; i++)
			causal_softmax_row(a + (size_t)i * T, r0 + i, T);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, r1, 1.0f, a, T, v, C3, 0.0f,
			    out + ((size_t)b * T + r0) * C + h * hs, C);
	}
}

void attention_backward_ref(float *dinp, float *datt, const float *dout, const float *inp,
			    const float *att, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	for (int b = 0; b < B; b++)
		for (int h = 0; h < NH; h++)
			for (int t = 0; t < T; t++) {
				const float *a = att + (((size_t)b * NH + h) * T + t) * T;
				float *da = datt + (((size_t)b * NH + h) * T + t) * T;
				const float *d = dout + ((size_t)b * T + t) * C + h * hs;
				const float *q = inp + ((size_t)b * T + t) * C3 + h * hs;
				float *dq = dinp + ((size_t)b * T + t) * C3 + h * hs;
				double dot = 0;
				for (int s = 0; s <= t; s++) {
					const float *v = inp + ((size_t)b * T + s) * C3 + 2 * C + h * hs;
					float *dv = dinp + ((size_t)b * T + s) * C3 + 2 * C + h * hs;
					double g = 0;
					for (int i = 0; i < hs; i++) {
						g += (double)d[i] * v[i];
						dv[i] += a[s] * d[i];
					}
					da[s] = (float)g;
					dot += g * a[s];
				}
				for (int s = 0; s <= t; s++) {
					const float *k = inp + ((size_t)b * T + s) * C3 + C + h * hs;
					float *dk = dinp + ((size_t)b * T + s) * C3 + C + h * hs;
					float dpre = (float)(a[s] * (da[s] - dot)) * scale;
					for (int i = 0; i < hs; i++) {
						dq[i] += dpre * k[i];
						dk[i] += dpre * q[i];
					}
				}
			}
}

/* Per (b, h), blocks of rows in order, each over the keys it sees, as BLAS
 * products (dO: the head's slice of dout; P: att):
 *   dP = dO V^T;  dS = P * (dP - rowsum(P * dP)) * scale  (into datt);
 *   dV += P^T dO;  dQ += dS K;  dK += dS^T Q.
 * Threads split (b, h) pairs, so each writes only its own head's slices of
 * dq, dk, dv, in a fixed order.  A loop per (t, s) pair took 30% of a
 * T = 1024 training step. */
void attention_backward(float *dinp, float *datt, const float *dout, const float *inp,
			const float *att, int B, int T, int C, int NH)
{
	int hs = C / NH, C3 = 3 * C;
	float scale = 1.0f / sqrtf((float)hs);
	#pragma omp parallel for schedule(dynamic, 1)
	for (int bh = 0; bh < B * NH; bh++) {
		int b = bh / NH, h = bh % NH;
		const float *q = inp + (size_t)b * T * C3 + h * hs, *k = q + C, *v = q + 2 * C;
		float *dq = dinp + (size_t)b * T * C3 + h * hs, *dk = dq + C, *dv = dq + 2 * C;
		const float *d = dout + (size_t)b * T * C + h * hs;
		const float *P = att + (size_t)bh * T * T;
		float *dS = datt + (size_t)bh * T * T;
		for (int r0 = 0; r0 < T; r0 += ATT_ROWS) {
			int r1 = r0 + ATT_ROWS < T ? r0 + ATT_ROWS : T, n = r1 - r0;
			const float *Pb = P + (size_t)r0 * T, *db = d + (size_t)r0 * C;
			float *dSb = dS + (size_t)r0 * T;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, r1, hs, 1.0f, db, C, v, C3, 0.0f, dSb, T);
			for (int i = 0; i < n; i++) {
				const float *a = Pb + (size_t)i * T;
				float *g = dSb + (size_t)i * T, dot = 0.0f;
				int t = r0 + i;
				#pragma omp simd reduction(+:dot)
				for (int s2 = 0; s2 <= t; s2++)
					dot += a[s2] * g[s2];
				#pragma omp simd
				for (int s2 = 0; s2 <= t; s2++)
					g[s2] = a[s2] * (g[s2] - dot) * scale;
				for (int s2 = t + 1; s2 < r1; s2++)
					g[s2] = 0.0f;
			}
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hs, n, 1.0f, Pb, T, db, C, 1.0f, dv, C3);
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, r1, 1.0f, dSb, T, k, C3, 1.0f,
				    dq + (size_t)r0 * C3, C3);
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hs, n, 1.0f, dSb, T, q + (size_t)r0 * C3, C3,
				    1.0f, dk, C3);
		}
	}
}

/* ------------------------------------------------------------------------ */
/* GELU, residual */

void gelu_forward(float *out, const float *inp, size_t N)
{
	#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < N; i++) {
		float x = inp[i];
		float cube = 0.044715f * x * x * x;
		out[i] = 0.5f * x * (1.0f + vtanh(GELU_SCALING_FACTOR * (x + cube)));
	}
}

void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N)
{
	#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < N; i++) {
		float x = inp[i];
		float cube = 0.044715f * x * x * x;
		float th = vtanh(GELU_SCALING_FACTOR * (x + cube));
		float sech2 = 1.0f - th * th;
		float g = 0.5f * (1.0f + th) +
			  x * 0.5f * sech2 * GELU_SCALING_FACTOR * (1.0f + 3.0f * 0.044715f * x * x);
		dinp[i] += g * dout[i];
	}
}

void residual_forward(float *out, const float *inp1, const float *inp2, size_t N)
{
	#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < N; i++)
		out[i] = inp1[i] + inp2[i];
}

void residual_backward(float *dinp1, float *dinp2, const float *dout, size_t N)
{
	#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < N; i++) {
		dinp1[i] += dout[i];
		dinp2[i] += dout[i];
	}
}

/* ------------------------------------------------------------------------ */
/* Softmax and cross-entropy */

void softmax_crossentropy_forward(float *probs, float *losses, const float *logits,
				  const int *targets, int B, int T, int V, int Vp)
{
	#pragma omp parallel for schedule(static)
	for (int bt = 0; bt < B * T; bt++) {
		const float *x = logits + (size_t)bt * Vp;
		float *p = probs + (size_t)bt * Vp;
		float maxv = -INFINITY;
		#pragma omp simd reduction(max:maxv)
		for (int i = 0; i < V; i++)
			maxv = x[i] > maxv ? x[i] : maxv;
		float xt = targets ? x[targets[bt]] : 0.0f;
		float sum = 0.0f;
		#pragma omp simd reduction(+:sum)
		for (int i = 0; i < V; i++) {
			float ev = vexp(x[i] - maxv);
			p[i] = ev;
			sum += ev;
		}
		float inv = 1.0f / sum;
		#pragma omp simd
		for (int i = 0; i < V; i++)
			p[i] *= inv;
		for (int i = V; i < Vp; i++)
			p[i] = 0.0f;
		if (targets)
			losses[bt] = logf(sum) + maxv - xt;
	}
}

void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
				   const int *targets, int B, int T, int V, int Vp)
{
	#pragma omp parallel for schedule(static)
	for (int bt = 0; bt < B * T; bt++) {
		const float *p = probs + (size_t)bt * Vp;
		float *d = dlogits + (size_t)bt * Vp;
		float dl = dlosses[bt];
		int ix = targets[bt];
		#pragma omp simd
		for (int i = 0; i < V; i++)
			d[i] = (p[i] - (i == ix ? 1.0f : 0.0f)) * dl;
		for (int i = V; i < Vp; i++)
			d[i] = 0.0f;
	}
}

/* ------------------------------------------------------------------------ */
/* AdamW */

void adamw_update(float *params, const float *grads, float *m, float *v, size_t n,
		  float lr, float beta1, float beta2, float eps, float weight_decay,
		  float grad_mult, int t)
{
	float bc1 = 1.0f - powf(beta1, (float)t);
	float bc2 = 1.0f - powf(beta2, (float)t);
	float inv_bc1 = 1.0f / bc1, inv_bc2 = 1.0f / bc2;
	#pragma omp parallel for simd schedule(static)
	for (size_t i = 0; i < n; i++) {
		float g = grads[i] * grad_mult;
		float mi = beta1 * m[i] + (1.0f - beta1) * g;
		float vi = beta2 * v[i] + (1.0f - beta2) * g * g;
		m[i] = mi;
		v[i] = vi;
		float mhat = mi * inv_bc1, vhat = vi * inv_bc2;
		params[i] -= lr * (mhat / (sqrtf(vhat) + eps) + weight_decay * params[i]);
	}
}
