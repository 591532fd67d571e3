/* core/parallel.h - internal: chunked loops and deterministic reductions.
 *
 * Element-wise kernels run over [0, n) in fixed chunks, in parallel with
 * OpenMP when the array is large enough to pay for it; their results never
 * depend on the thread count. Sums of squares are taken in double over fixed
 * blocks of ETA_BLOCK elements, each block summed in a fixed order, and the
 * block sums combined in block order: the same bits at any thread count.
 */
#ifndef ETA_CORE_PARALLEL_H
#define ETA_CORE_PARALLEL_H

#include <stddef.h>
#include <stdint.h> /* defines __GLIBC__ where it applies */

/* ETA_SIMD_CLONES, on the element loop of a kernel that vectorises: GCC
 * compiles the function for AVX-512, AVX2 and the baseline x86-64 (SSE2) and
 * picks the widest the CPU has when the library is loaded (function
 * multiversioning through an ifunc, so glibc only). The loop carries
 * `#pragma omp simd` (built with -fopenmp-simd when OpenMP is off), because
 * gcc -O2's "very cheap" cost model refuses any loop that needs a scalar
 * epilogue. Vector add, multiply, divide and sqrt round exactly as the
 * scalar instructions and -ffp-contract=off rules out FMA, so every element
 * gets the same bits on every clone and at every thread count. Not so a
 * `omp simd reduction`: it sums in as many lanes as the ISA has (16 floats
 * with AVX-512, 8 with AVX2, 4 with SSE2), so each CPU got other bits. A sum
 * inside a cloned kernel uses ETA_LANES fixed lanes instead (below). */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 8 && defined(__x86_64__) && defined(__GLIBC__)
#define ETA_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ETA_SIMD_CLONES
#endif

/* Sums whose order does not depend on the vector width: element j goes to
 * lane j % ETA_LANES of an accumulator array, and the lanes are added in a
 * fixed tree. The loop over the lanes of one stretch vectorises on every
 * ISA with each lane summing its elements in order:
 *
 *     float acc[ETA_LANES] = {0};
 *     for (int64_t j0 = 0; j0 < n; j0 += ETA_LANES) {
 *         int64_t m = n - j0 < ETA_LANES ? n - j0 : ETA_LANES;
 *     #pragma omp simd
 *         for (int64_t l = 0; l < m; l++)
 *             acc[l] += x[j0 + l];
 *     }
 *     float sum = eta_lanes_sum_f32(acc);
 */
#define ETA_LANES 16

static inline float eta_lanes_sum_f32(float *acc)
{
    for (int w = ETA_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    return acc[0];
}

static inline double eta_lanes_sum_f64(double *acc)
{
    for (int w = ETA_LANES / 2; w > 0; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    return acc[0];
}

#define ETA_CHUNK 16384   /* elements per parallel chunk */
#define ETA_BLOCK 4096    /* elements per reduction block */

typedef void (*eta_chunk_fn)(void *ctx, size_t lo, size_t hi);

/* Calls fn(ctx, lo, hi) over [0, n) in chunks: serially when n is small or
 * threads == 1, else with `threads` OpenMP threads (0: OpenMP's default). */
void eta_parallel_for(size_t n, int threads, eta_chunk_fn fn, void *ctx);

/* Number of double slots a reduction over n elements needs as scratch. */
size_t eta_reduce_slots(size_t n);

/* Sum of squares of x[0..n) (float or double), accumulated in double with
 * the fixed-block order described above. `scratch` holds eta_reduce_slots(n)
 * doubles. */
double eta_sumsq_f32(const float *x, size_t n, double *scratch, int threads);
double eta_sumsq_f64(const double *x, size_t n, double *scratch, int threads);

/* A fixed-order reduction: block_fn(ctx, lo, hi) returns the partial of one
 * block [lo, hi) of at most ETA_BLOCK elements (blocks start at multiples of
 * ETA_BLOCK); the partials are summed in block order. */
typedef double (*eta_block_fn)(void *ctx, size_t lo, size_t hi);
double eta_reduce(size_t n, int threads, eta_block_fn block_fn, void *ctx, double *scratch);

/* Index of the first non-finite element of x[0..n), or n if all are finite. */
size_t eta_first_nonfinite_f32(const float *x, size_t n, int threads);
size_t eta_first_nonfinite_f64(const double *x, size_t n, int threads);

#endif
