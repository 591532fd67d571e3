/* core/gemm.h - internal: eta's own blocked C GEMM, float and double.
 *
 * The matrix products of layers that sit below any BLAS (the optimizer
 * core's Muon) and the fallback of nn/blas.c when no BLAS loads. Row-major,
 * C = alpha op(A) op(B) + beta C with op = transpose when ta/tb; op(A) is
 * M x K, op(B) K x N, C M x N; lda, ldb, ldc are row strides in elements.
 * As in BLAS, beta == 0 sets C without reading it, alpha == 0 or K == 0
 * only scales C. Each element of C sums its K products in ascending order
 * whatever the thread count (OpenMP over blocks of rows of C when the
 * product is large, `threads` of them; 0: OpenMP's default), so the bits do
 * not depend on it. No allocation: the packed panel of op(B) lives on the
 * stack (64 KiB).
 */
#ifndef ETA_CORE_GEMM_H
#define ETA_CORE_GEMM_H

#include <stdbool.h>

void eta_gemm_builtin_float(int threads, bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda,
                            const float *B, int ldb, float beta, float *C, int ldc);
void eta_gemm_builtin_double(int threads, bool ta, bool tb, int M, int N, int K, double alpha, const double *A,
                             int lda, const double *B, int ldb, double beta, double *C, int ldc);

#endif
