/* Matrix products through cuBLASLt (cuda_kernels.h).  Row-major X (N, C) is
 * column-major X^T (C, N), so out (N,OC) = inp (N,C) @ W (OC,C)^T becomes the
 * column-major D (OC, N) = op(W)^T (OC, C) . inp^T (C, N) with A = W
 * transposed: m = OC, n = N, k = C.  The bias (length m) is broadcast along
 * the columns by the BIAS epilogue; GELU_AUX_BIAS also keeps the pre-GELU
 * product in the aux buffer for the backward pass.  Compute is fp32 in both
 * modes (CUBLAS_COMPUTE_32F: no TF32 in the fp32 checking mode). */
#include "cuda_common.h"

#include <cublasLt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK_WORKSPACE (32u << 20)

/* The heuristic's choice per shape: a training step makes ~170 products
 * of a few dozen shapes, and the heuristic query is the slow part of a
 * call (the descriptors themselves are cheap host objects, made per call
 * so that no descriptor is changed while a product that used it may be
 * pending). */
typedef struct {
	int key[15];
	cublasLtMatmulAlgo_t algo;
} AlgoEntry;

#define MAX_ALGOS 128

struct CkBlas {
	cublasLtHandle_t lt;
	void *workspace;
	size_t workspace_size;
	AlgoEntry algos[MAX_ALGOS];
	int nalgos;
	char err[160];
};

extern "C" int ck_blas_create(CkBlas **out, char *why, size_t why_len)
{
	CkBlas *h = (CkBlas *)calloc(1, sizeof *h);
	*out = NULL;
	if (!h) {
		snprintf(why, why_len, "out of memory");
		return -1;
	}
	cublasStatus_t st = cublasLtCreate(&h->lt);
	if (st != CUBLAS_STATUS_SUCCESS) {
		snprintf(why, why_len, "cublasLtCreate: %s", cublasGetStatusString(st));
		free(h);
		return -1;
	}
	cudaError_t ce = cudaMalloc(&h->workspace, CK_WORKSPACE);
	if (ce != cudaSuccess) {
		snprintf(why, why_len, "cuBLASLt workspace: %s", cudaGetErrorString(ce));
		cublasLtDestroy(h->lt);
		free(h);
		return -1;
	}
	h->workspace_size = CK_WORKSPACE;
	*out = h;
	return 0;
}

extern "C" void ck_blas_destroy(CkBlas *h)
{
	if (!h)
		return;
	cudaFree(h->workspace);
	cublasLtDestroy(h->lt);
	free(h);
}

extern "C" const char *ck_blas_error(const CkBlas *h)
{
	return h ? h->err : "";
}

/* Largest power of two (<= 256) that divides the address. */
static uint32_t align_of(const void *p)
{
	uintptr_t a = (uintptr_t)p;
	uint32_t al = 256;
	while (al > 1 && (a & (al - 1)))
		al >>= 1;
	return al;
}

enum { EPI_NONE, EPI_BIAS, EPI_GELU_BIAS, EPI_DGELU };

#define LT(call)                                                                                   \
	do {                                                                                       \
		cublasStatus_t st_ = (call);                                                       \
		if (st_ != CUBLAS_STATUS_SUCCESS) {                                                \
			snprintf(h->err, sizeof h->err, "%s: %s", #call, cublasGetStatusString(st_)); \
			rc = -1;                                                                   \
			goto out;                                                                  \
		}                                                                                  \
	} while (0)

/* D (m,n) = alpha * op(A) op(B) + beta * D, column-major, with an epilogue.
 * ab: type of A and B; cd: type of C and D.  The algorithm comes from the
 * cache when this shape, epilogue and alignment were seen before. */
static int lt_matmul(CkBlas *h, cudaDataType_t ab, cudaDataType_t cd, bool ta, bool tb, int m, int n, int k,
		     const void *A, int lda, const void *B, int ldb, void *D, int ldd, float beta, int epi,
		     const void *bias, void *aux, int ldaux, cudaStream_t stream)
{
	int rc = 0;
	cublasLtMatmulDesc_t desc = NULL;
	cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
	cublasLtMatmulPreference_t pref = NULL;
	cublasLtMatmulHeuristicResult_t heur;
	int found = 0;
	float alpha = 1.0f;
	cublasOperation_t opa = ta ? CUBLAS_OP_T : CUBLAS_OP_N, opb = tb ? CUBLAS_OP_T : CUBLAS_OP_N;
	cublasLtEpilogue_t e = epi == EPI_GELU_BIAS ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS
			       : epi == EPI_BIAS    ? CUBLASLT_EPILOGUE_BIAS
			       : epi == EPI_DGELU   ? CUBLASLT_EPILOGUE_DGELU
						    : CUBLASLT_EPILOGUE_DEFAULT;
	uint32_t alA = align_of(A), alB = align_of(B), alD = align_of(D);
	uint64_t ws = h->workspace_size;
	int key[15] = { (int)ab, (int)cd, ta, tb, m, n, k, lda, ldb, ldd, epi, ldaux, (int)alA, (int)alB, (int)alD };
	const cublasLtMatmulAlgo_t *algo = NULL;

	LT(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
	LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
	LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
	LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &e, sizeof e));
	if (epi == EPI_BIAS || epi == EPI_GELU_BIAS) {
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &cd, sizeof cd));
	}
	if (epi == EPI_GELU_BIAS || epi == EPI_DGELU) {
		int64_t ldx = ldaux;
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ldx, sizeof ldx));
		LT(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &cd, sizeof cd));
	}
	LT(cublasLtMatrixLayoutCreate(&la, ab, ta ? k : m, ta ? m : k, lda));
	LT(cublasLtMatrixLayoutCreate(&lb, ab, tb ? n : k, tb ? k : n, ldb));
	LT(cublasLtMatrixLayoutCreate(&ld, cd, m, n, ldd));
	for (int i = 0; i < h->nalgos; i++)
		if (memcmp(h->algos[i].key, key, sizeof key) == 0) {
			algo = &h->algos[i].algo;
			break;
		}
	if (algo)
		goto run;
	LT(cublasLtMatmulPreferenceCreate(&pref));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &alA, sizeof alA));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &alB, sizeof alB));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &alD, sizeof alD));
	LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &alD, sizeof alD));
	LT(cublasLtMatmulAlgoGetHeuristic(h->lt, desc, la, lb, ld, ld, pref, 1, &heur, &found));
	if (found == 0) {
		snprintf(h->err, sizeof h->err, "cuBLASLt has no algorithm for %c%c m=%d n=%d k=%d epilogue %d",
			 ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, epi);
		rc = -1;
		goto out;
	}
	algo = &heur.algo;
	if (h->nalgos < MAX_ALGOS) {
		memcpy(h->algos[h->nalgos].key, key, sizeof key);
		h->algos[h->nalgos].algo = heur.algo;
		h->nalgos++;
	}
run:
	LT(cublasLtMatmul(h->lt, desc, &alpha, A, la, B, lb, &beta, D, ld, D, ld, algo, h->workspace,
			  h->workspace_size, stream));
out:
	if (pref)
		cublasLtMatmulPreferenceDestroy(pref);
	if (ld)
		cublasLtMatrixLayoutDestroy(ld);
	if (lb)
		cublasLtMatrixLayoutDestroy(lb);
	if (la)
		cublasLtMatrixLayoutDestroy(la);
	if (desc)
		cublasLtMatmulDescDestroy(desc);
	return rc;
}

static cudaDataType_t dt(CkType t)
{
	return t == CK_BF16 ? CUDA_R_16BF : CUDA_R_32F;
}

extern "C" int ck_matmul_forward(CkBlas *h, CkType t, void *out, void *pre_gelu, const void *inp,
				 const void *weight, const void *bias, int N, int C, int OC, void *stream)
{
	cudaStream_t s = ck_stream(stream);
	/* the fused GELU epilogue needs a bias and an aux leading dimension that is a multiple of 8 */
	/* (if this cuBLASLt has no fused kernel for the shape, the plain path below runs) */
	if (pre_gelu && t == CK_BF16 && bias && OC % 8 == 0 &&
	    lt_matmul(h, dt(t), dt(t), true, false, OC, N, C, weight, C, inp, C, out, OC, 0.0f, EPI_GELU_BIAS,
		      bias, pre_gelu, OC, s) == 0)
		return 0;
	void *dst = pre_gelu ? pre_gelu : out;
	if (lt_matmul(h, dt(t), dt(t), true, false, OC, N, C, weight, C, inp, C, dst, OC, 0.0f,
		      bias ? EPI_BIAS : EPI_NONE, bias, NULL, 0, s))
		return -1;
	if (pre_gelu)
		return ck_gelu_forward(t, out, pre_gelu, (size_t)N * OC, stream);
	return 0;
}

extern "C" int ck_matmul_backward_input(CkBlas *h, CkType t, void *dinp, const void *dout, const void *weight,
					int N, int C, int OC, void *stream)
{
	/* dinp^T (C, N) = W_cm (C, OC) . dout^T (OC, N) */
	return lt_matmul(h, dt(t), dt(t), false, false, C, N, OC, weight, C, dout, OC, dinp, C, 0.0f, EPI_NONE,
			 NULL, NULL, 0, ck_stream(stream));
}

extern "C" int ck_matmul_backward_weight(CkBlas *h, CkType t, float *dweight, const void *dout, const void *inp,
					 int N, int C, int OC, void *stream)
{
	/* dweight^T (C, OC) += inp^T (C, N) . dout (N, OC) = inp_cm (C,N) . op(dout_cm (OC,N))^T */
	return lt_matmul(h, dt(t), CUDA_R_32F, false, true, C, OC, N, inp, C, dout, OC, dweight, C, 1.0f, EPI_NONE,
			 NULL, NULL, 0, ck_stream(stream));
}

extern "C" int ck_matmul_backward_input_dgelu(CkBlas *h, CkType t, void *dinp, const void *dout, const void *weight,
					      const void *pre_gelu, int N, int C, int OC, void *stream)
{
	cudaStream_t s = ck_stream(stream);
	/* bf16: GELU's backward as the product's DGELU epilogue, reading the
	 * pre-activation the forward's GELU_AUX epilogue kept (same layout) */
	if (t == CK_BF16 && C % 8 == 0 &&
	    lt_matmul(h, dt(t), dt(t), false, false, C, N, OC, weight, C, dout, OC, dinp, C, 0.0f, EPI_DGELU, NULL,
		      (void *)pre_gelu, C, s) == 0)
		return 0;
	if (ck_matmul_backward_input(h, t, dinp, dout, weight, N, C, OC, stream))
		return -1;
	return ck_gelu_backward(t, dinp, pre_gelu, dinp, (size_t)N * C, stream);
}
