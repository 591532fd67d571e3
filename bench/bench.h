/* bench/bench.h - what every benchmark shares: a monotonic clock and the
 * comparison that qsort needs to take medians. */
#ifndef ETA_BENCH_H
#define ETA_BENCH_H

#include <time.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* qsort's comparison of doubles (for medians). */
static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#endif
