/* nn/blas.h - internal: single-precision GEMM for the nn layer. It runs the
 * CBLAS sgemm of the machine's OpenBLAS, loaded at run time with the best
 * kernels the CPU can run (blas.c says how and why), or a blocked C sgemm
 * when no BLAS can be loaded.
 *
 * Bits: OpenBLAS's results depend on its version and its kernel set (core
 * type), and, when it threads a GEMM itself, on the thread count. Even a
 * single-threaded call gives an element of C other bits when the call
 * covers another part of C (Haswell and Zen kernels: any part). So with
 * the OpenMP build eta cuts a product into parts fixed by its shape alone
 * (nn_gemm_parts), each a single-threaded call, and threads only choose
 * who runs which part: the same calls at any thread count, so the same
 * bits (blas.c; tests/test_nn_bits.c runs this on every kernel family the
 * CPU can run). A BLAS with its own thread pool (ETA_BLAS=...) keeps its
 * own splits: no such promise there. The C fallback gives the same bits at
 * any thread count.
 */
#ifndef ETA_NN_BLAS_H
#define ETA_NN_BLAS_H

#include <stdbool.h>

/* C = alpha * op(A) op(B) + beta * C, row-major, op = transpose when ta/tb.
 * op(A) is M x K, op(B) is K x N, C is M x N. lda, ldb and ldc are row
 * strides in elements, at least the width of the stored matrix (K or M for
 * A, N or K for B, N for C) and at least 1. As in BLAS, beta == 0 sets C
 * without reading it (NaN or garbage in C is ignored), alpha == 0 or K == 0
 * only scales C. Safe to call from several threads at once; inside an OpenMP
 * parallel region it runs on the calling thread only. Sizes are trusted:
 * callers inside eta check shapes once when a network is prepared. */
void nn_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc);

/* The same in double, through cblas_dgemm and the same parts (so the same
 * bits at any thread count, as above); core's C GEMM when no BLAS, or one
 * without cblas_dgemm, loads. */
void nn_dgemm(bool ta, bool tb, int M, int N, int K, double alpha, const double *A, int lda, const double *B,
              int ldb, double beta, double *C, int ldc);

/* The number of parts nn_sgemm cuts an M x N x K product into outside
 * parallel regions (1: one call): a function of the shape only. */
int nn_gemm_parts(int M, int N, int K);

/* One line saying which GEMM runs and why, for bench output and version
 * reports: "OpenBLAS 0.3.21 (openmp) Cooperlake kernels (OpenBLAS's own
 * choice), 2 threads". Loads the BLAS on first use, like nn_sgemm. The text
 * stays valid until the next call from the same thread. */
const char *nn_blas_config(void);

/* Threads for later GEMMs: n > 0 exactly n, 0 (the default) the width of
 * eta's own OpenMP loops when OpenBLAS shares their thread pool (its OpenMP
 * build), else 1, so that two pools never spin on the same cores. */
void nn_blas_set_threads(int n);

/* The file the BLAS was loaded from; "" for a BLAS the process had already
 * loaded before eta, NULL when the C fallback runs. */
const char *nn_blas_path(void);

/* The C fallback (core/gemm.c), with nn_sgemm's contract; nn_sgemm uses it
 * when no BLAS loads. Exposed for tests and bench/gemm.c. */
void nn_sgemm_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                      int ldb, float beta, float *C, int ldc);

/* Tests only, before first use: act as if OpenBLAS had picked core `name` by
 * itself, so that a test can drive the reload path (blas.c) on a machine
 * where OpenBLAS detects the CPU correctly. */
void nn_blas_test_detected_(const char *name);

#endif
