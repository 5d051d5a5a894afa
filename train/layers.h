/* The layers of GPT-2 on the CPU, one function per layer and direction, in
 * llm.c's style: outputs first, then inputs, then weights, then sizes; the
 * backward twin takes d-prefixed gradients in the same order and ADDS (+=)
 * into dinp and the weight gradients unless it says otherwise.
 * Shapes: B batch, T time, C channels, OC output channels, NH heads,
 * V vocabulary, Vp padded vocabulary.  All fp32, row-major.
 * The *_ref functions are plain loops kept as the readable reference; the
 * others are the fast paths (OpenBLAS sgemm, OpenMP, vectorised loops) and
 * tests/test_gpt2_layers.c checks each against its reference. */
#ifndef GPTKIT_LAYERS_H
#define GPTKIT_LAYERS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* out[b,t,:] = wte[inp[b,t],:] + wpe[t,:] */
void encoder_forward(float *out, const int *inp, const float *wte, const float *wpe,
		     int B, int T, int C);
void encoder_backward(float *dwte, float *dwpe, const float *dout, const int *inp,
		      int B, int T, int C);

/* out = (inp - mean) * rstd * weight + bias over the last axis; eps 1e-5. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
		       const float *weight, const float *bias, int B, int T, int C);
void layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout,
			const float *inp, const float *weight, const float *mean,
			const float *rstd, int B, int T, int C);

/* out (B,T,OC) = inp (B,T,C) @ weight^T + bias; weight is (OC, C), bias (OC) or NULL. */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
		    int B, int T, int C, int OC);
void matmul_forward_ref(float *out, const float *inp, const float *weight, const float *bias,
			int B, int T, int C, int OC);
/* dinp may be NULL (not needed); dbias may be NULL (no bias). */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
		     const float *inp, const float *weight, int B, int T, int C, int OC);
/* The same, but with accumulate == 0 it writes dweight and dbias instead of
 * adding to them (the first micro-batch of a step: nothing to zero first,
 * and sgemm need not read the old gradient). dinp is always added to. */
void matmul_backward_ex(float *dinp, float *dweight, float *dbias, const float *dout,
			const float *inp, const float *weight, int B, int T, int C, int OC,
			int accumulate);
void matmul_backward_ref(float *dinp, float *dweight, float *dbias, const float *dout,
			 const float *inp, const float *weight, int B, int T, int C, int OC);

/* Causal multi-head self-attention.  inp is qkv (B,T,3C) holding q, k, v;
 * out (B,T,C); att (B,NH,T,T) keeps the softmax probabilities (zero above
 * the diagonal) for the backward pass.  Scale 1/sqrt(C/NH). */
void attention_forward(float *out, float *att, const float *inp, int B, int T, int C, int NH);
void attention_forward_ref(float *out, float *att, const float *inp, int B, int T, int C, int NH);
/* One row of causal attention scores to probabilities, in place:
 * a[0..t] softmaxed, a[t+1..T) zeroed.  No thread team (a row is small). */
void causal_softmax_row(float *a, int t, int T);
/* datt (B,NH,T,T) is scratch, overwritten. */
void attention_backward(float *dinp, float *datt, const float *dout, const float *inp,
			const float *att, int B, int T, int C, int NH);
void attention_backward_ref(float *dinp, float *datt, const float *dout, const float *inp,
			    const float *att, int B, int T, int C, int NH);

/* GELU, tanh approximation (GPT-2's). */
void gelu_forward(float *out, const float *inp, size_t N);
void gelu_backward(float *dinp, const float *inp, const float *dout, size_t N);

/* out = inp1 + inp2 */
void residual_forward(float *out, const float *inp1, const float *inp2, size_t N);
/* dinp1 += dout; dinp2 += dout */
void residual_backward(float *dinp1, float *dinp2, const float *dout, size_t N);

/* Softmax over the first V of Vp logits per position; the padded Vp - V
 * entries get probability 0.  probs may be the same buffer as logits.
 * With targets (may be NULL), losses[b,t] = logsumexp - logit[target]. */
void softmax_crossentropy_forward(float *probs, float *losses, const float *logits,
				  const int *targets, int B, int T, int V, int Vp);
/* dlogits = (probs - onehot(target)) * dlosses[b,t], written (not added);
 * padded entries get 0.  dlogits may be the same buffer as probs. */
void crossentropy_softmax_backward(float *dlogits, const float *dlosses, const float *probs,
				   const int *targets, int B, int T, int V, int Vp);

/* AdamW on n parameters, step t (1-based): g = grads * grad_mult;
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr * (mhat / (sqrt(vhat) + eps) + weight_decay * p). */
void adamw_update(float *params, const float *grads, float *m, float *v, size_t n,
		  float lr, float beta1, float beta2, float eps, float weight_decay,
		  float grad_mult, int t);

#ifdef __cplusplus
}
#endif

#endif
