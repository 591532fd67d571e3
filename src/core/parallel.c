/* core/parallel.c - chunked parallel loops and fixed-order reductions.
 *
 * See parallel.h. OpenMP is optional (ETA_HAVE_OPENMP); without it every
 * loop runs serially with the same results.
 */
#include "core/parallel.h"

#include <stdint.h>
#include <string.h>

#ifdef ETA_HAVE_OPENMP
#include <omp.h>
#endif

void eta_parallel_for(size_t n, int threads, eta_chunk_fn fn, void *ctx)
{
    if (n == 0)
        return;
#ifdef ETA_HAVE_OPENMP
    size_t chunks = (n + ETA_CHUNK - 1) / ETA_CHUNK;
    if (chunks >= 2 && threads != 1) {
        int nt = threads > 0 ? threads : omp_get_max_threads();
        if ((size_t)nt > chunks)
            nt = (int)chunks;
        if (nt > 1) {
            /* Static chunks of the loop index: each element's arithmetic is the
             * same whichever thread does it. */
#pragma omp parallel for schedule(static) num_threads(nt)
            for (size_t c = 0; c < chunks; c++) {
                size_t lo = c * ETA_CHUNK, hi = lo + ETA_CHUNK < n ? lo + ETA_CHUNK : n;
                fn(ctx, lo, hi);
            }
            return;
        }
    }
#else
    (void)threads;
#endif
    fn(ctx, 0, n);
}

size_t eta_reduce_slots(size_t n)
{
    return (n + ETA_BLOCK - 1) / ETA_BLOCK;
}

/* One block: eight running sums in a fixed pattern (element i goes to sum
 * i % 8, each sum taking its elements in order), then combined in a fixed
 * tree. The order never changes, so the bits never change. The eight sums
 * are one vector (ETA_SIMD_CLONES) kept in registers: the tail of n % 8
 * elements goes to sums 0 .. n % 8 - 1 after the loop, as it would inside. */
#define DEFINE_BLOCK_SUMSQ(T, NAME)                                            \
    ETA_SIMD_CLONES static double NAME(const T *x, size_t n)                   \
    {                                                                          \
        double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                \
        const size_t m = n & ~(size_t)7;                                       \
        for (size_t i = 0; i < m; i += 8) {                                    \
            _Pragma("omp simd")                                                \
            for (int k = 0; k < 8; k++)                                        \
                s[k] += (double)x[i + k] * (double)x[i + k];                   \
        }                                                                      \
        for (size_t k = 0; k < n - m; k++)                                     \
            s[k] += (double)x[m + k] * (double)x[m + k];                       \
        return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7])); \
    }
DEFINE_BLOCK_SUMSQ(float, block_sumsq_f32)
DEFINE_BLOCK_SUMSQ(double, block_sumsq_f64)

typedef struct reduce_ctx {
    eta_block_fn fn;
    void *ctx;
    size_t n;
    double *slots;
} reduce_ctx;

static void reduce_chunk(void *vctx, size_t lo, size_t hi)
{
    reduce_ctx *c = vctx;
    /* lo and hi are multiples of ETA_CHUNK, itself a multiple of ETA_BLOCK. */
    for (size_t b = lo; b < hi; b += ETA_BLOCK)
        c->slots[b / ETA_BLOCK] = c->fn(c->ctx, b, b + ETA_BLOCK < c->n ? b + ETA_BLOCK : c->n);
}

double eta_reduce(size_t n, int threads, eta_block_fn block_fn, void *ctx, double *scratch)
{
    reduce_ctx c = {block_fn, ctx, n, scratch};
    eta_parallel_for(n, threads, reduce_chunk, &c);
    double total = 0;
    for (size_t b = 0, nb = eta_reduce_slots(n); b < nb; b++)
        total += scratch[b];
    return total;
}

static double sumsq_block_f32(void *x, size_t lo, size_t hi)
{
    return block_sumsq_f32((const float *)x + lo, hi - lo);
}

static double sumsq_block_f64(void *x, size_t lo, size_t hi)
{
    return block_sumsq_f64((const double *)x + lo, hi - lo);
}

double eta_sumsq_f32(const float *x, size_t n, double *scratch, int threads)
{
    return eta_reduce(n, threads, sumsq_block_f32, (void *)(uintptr_t)x, scratch);
}

double eta_sumsq_f64(const double *x, size_t n, double *scratch, int threads)
{
    return eta_reduce(n, threads, sumsq_block_f64, (void *)(uintptr_t)x, scratch);
}

/* Non-finite test on the exponent bits, so the loop vectorises and no
 * floating-point flag is raised. The OR reduction is exact in any order, so
 * `omp simd` and the per-ISA clones (ETA_SIMD_CLONES, parallel.h) are safe:
 * without them gcc -O2 left the loop scalar, and check_finite cost about 60%
 * of an AdamW step instead of the 4 B per element it reads. */
ETA_SIMD_CLONES
static int any_nonfinite_f32(const float *x, size_t n)
{
    uint32_t bad = 0;
#pragma omp simd reduction(|:bad)
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

ETA_SIMD_CLONES
static int any_nonfinite_f64(const double *x, size_t n)
{
    uint64_t bad = 0;
#pragma omp simd reduction(|:bad)
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &x[i], sizeof u);
        bad |= (uint64_t)((u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull);
    }
    return bad != 0;
}

typedef struct scan_ctx {
    const void *x;
    int f64;
    int bad;
} scan_ctx;

static void scan_chunk(void *vctx, size_t lo, size_t hi)
{
    scan_ctx *c = vctx;
    int bad = c->f64 ? any_nonfinite_f64((const double *)c->x + lo, hi - lo)
                     : any_nonfinite_f32((const float *)c->x + lo, hi - lo);
    if (bad) {
#ifdef ETA_HAVE_OPENMP
#pragma omp atomic write
#endif
        c->bad = 1;
    }
}

static size_t first_nonfinite(const void *x, size_t n, int threads, int f64)
{
    scan_ctx c = {x, f64, 0};
    eta_parallel_for(n, threads, scan_chunk, &c);
    if (!c.bad)
        return n;
    for (size_t i = 0; i < n; i++) /* rare path: find the first one for the message */
        if (f64 ? any_nonfinite_f64((const double *)x + i, 1) : any_nonfinite_f32((const float *)x + i, 1))
            return i;
    return n;
}

size_t eta_first_nonfinite_f32(const float *x, size_t n, int threads)
{
    return first_nonfinite(x, n, threads, 0);
}

size_t eta_first_nonfinite_f64(const double *x, size_t n, int threads)
{
    return first_nonfinite(x, n, threads, 1);
}
