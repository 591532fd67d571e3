/* core/gemm.c - eta's blocked C GEMM (core/gemm.h), compiled for float and
 * double from one source: the part under ETA_GEMM_T is read once per type.
 *
 * C is cut into blocks of MC rows, one per OpenMP task; for each NC-column,
 * KC-deep slice, op(B) is packed into a contiguous buffer on the stack and
 * every row of C gets C[i, :] += (alpha op(A)[i, p]) op(B)[p, :] with p
 * ascending, a loop over j that vectorises. Each element sums its K
 * products in the same order whatever the thread count. KC halves for
 * double so that the panel stays 64 KiB.
 */
#ifndef ETA_GEMM_T
#include "core/gemm.h"

#include <string.h>

#include "core/parallel.h"

#ifdef ETA_HAVE_OPENMP
#include <omp.h>
#endif

enum { MC = 32, NC = 128, PANEL_BYTES = 128 * NC * 4 };

#define GEMM_CAT_(a, b) a##_##b
#define GEMM_CAT(a, b) GEMM_CAT_(a, b)
#define GF(name) GEMM_CAT(name, ETA_GEMM_T)

#define ETA_GEMM_T float
#include "core/gemm.c"
#undef ETA_GEMM_T
#define ETA_GEMM_T double
#include "core/gemm.c"
#undef ETA_GEMM_T

#else /* ETA_GEMM_T: the typed part */

ETA_SIMD_CLONES
static void GF(gemm_rows)(bool ta, bool tb, int i0, int i1, int N, int K, ETA_GEMM_T alpha, const ETA_GEMM_T *A,
                          int lda, const ETA_GEMM_T *B, int ldb, ETA_GEMM_T beta, ETA_GEMM_T *C, int ldc)
{
    enum { KC = PANEL_BYTES / NC / (int)sizeof(ETA_GEMM_T) };
    ETA_GEMM_T bp[KC * NC];
    for (int i = i0; i < i1; i++) {
        ETA_GEMM_T *c = C + (size_t)i * ldc;
        if (beta == 0)
            memset(c, 0, (size_t)N * sizeof *c);
        else if (beta != 1)
            for (int j = 0; j < N; j++)
                c[j] *= beta;
    }
    if (alpha == 0)
        return;
    for (int jc = 0; jc < N; jc += NC) {
        int nc = N - jc < NC ? N - jc : NC;
        for (int pc = 0; pc < K; pc += KC) {
            int kc = K - pc < KC ? K - pc : KC;
            for (int p = 0; p < kc; p++)
                for (int j = 0; j < nc; j++)
                    bp[p * nc + j] = tb ? B[(size_t)(jc + j) * ldb + pc + p] : B[(size_t)(pc + p) * ldb + jc + j];
            for (int i = i0; i < i1; i++) {
                ETA_GEMM_T *c = C + (size_t)i * ldc + jc;
                for (int p = 0; p < kc; p++) {
                    ETA_GEMM_T a = alpha * (ta ? A[(size_t)(pc + p) * lda + i] : A[(size_t)i * lda + pc + p]);
                    const ETA_GEMM_T *b = bp + p * nc;
#pragma omp simd
                    for (int j = 0; j < nc; j++)
                        c[j] += a * b[j];
                }
            }
        }
    }
}

void GF(eta_gemm_builtin)(int threads, bool ta, bool tb, int M, int N, int K, ETA_GEMM_T alpha, const ETA_GEMM_T *A,
                          int lda, const ETA_GEMM_T *B, int ldb, ETA_GEMM_T beta, ETA_GEMM_T *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0)
        alpha = 0;
    int blocks = (M + MC - 1) / MC;
#ifdef ETA_HAVE_OPENMP
    int t = threads > 0 ? threads : omp_get_max_threads();
    bool par = blocks > 1 && t > 1 && (double)M * N * (K > 0 ? K : 1) >= 1e6;
#pragma omp parallel for schedule(static) num_threads(t) if (par)
#else
    (void)threads;
#endif
    for (int b = 0; b < blocks; b++) {
        int i1 = (b + 1) * MC < M ? (b + 1) * MC : M;
        GF(gemm_rows)(ta, tb, b * MC, i1, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    }
}

#endif
