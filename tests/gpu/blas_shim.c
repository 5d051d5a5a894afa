/* tests/gpu/blas_shim.c: the libopenblas.so.0 of the GPU kit (make-kit.sh).
 * The kit carries Debian's small reference BLAS instead of OpenBLAS, which
 * is too large for the transfer to the device; gptkit calls two OpenBLAS
 * extensions besides cblas_sgemm, and this library gives them, with the
 * reference BLAS as its dependency for the rest.  Only the small CPU-side
 * references of tests/gpu/check.sh run on it. */
void openblas_set_num_threads(int n);
char *openblas_get_corename(void);

void openblas_set_num_threads(int n)
{
	(void)n; /* the reference BLAS has one thread */
}

char *openblas_get_corename(void)
{
	return "reference"; /* not a core that gpt2_blas_init re-targets */
}
