/* tests/harness.h - small helpers on top of cmocka for eta's tests: reading
 * files under tests/ref, comparing arrays with the worst element reported,
 * and running the eta command. */
#ifndef ETA_TEST_HARNESS_H
#define ETA_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <eta/core.h>

/* The path of a file in tests/ref (ETA_REF_DIR, set by CTest). */
static inline const char *ref_path(const char *name)
{
    static char buf[4096];
    const char *dir = getenv("ETA_REF_DIR");
    snprintf(buf, sizeof buf, "%s/%s", dir ? dir : "tests/ref", name);
    return buf;
}

/* Reads a whole file into a NUL-terminated malloc'd buffer, or NULL. */
static inline char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

/* Reads whitespace-separated numbers from s into out, stopping after cap;
 * *rest (if not NULL) gets what follows the last number read. */
static inline size_t read_doubles_rest(const char *s, double *out, size_t cap, const char **rest)
{
    size_t n = 0;
    char *end;
    while (n < cap) {
        double v = strtod(s, &end);
        if (end == s)
            break;
        out[n++] = v;
        s = end;
    }
    if (rest)
        *rest = s;
    return n;
}

/* Reads whitespace-separated numbers from s into out (at most cap). */
static inline size_t read_doubles(char *s, double *out, size_t cap)
{
    const char *rest;
    size_t n = read_doubles_rest(s, out, cap, &rest);
    char *end;
    (void)strtod(rest, &end);
    assert_true(end == rest); /* no more than cap numbers */
    return n;
}

/* Elementwise relative error |a-b|/max(|a|,|b|) (0 when both are equal,
 * including both zero; 1 when exactly one is NaN). */
static inline double rel_err(double a, double b)
{
    if (a == b || (isnan(a) && isnan(b)))
        return 0;
    if (isnan(a) || isnan(b))
        return 1;
    return fabs(a - b) / fmax(fabs(a), fabs(b));
}

/* The largest rel_err over n elements; *worst gets its index. */
static inline double max_rel_err(const double *got, const double *want, size_t n, size_t *worst)
{
    double m = 0;
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = rel_err(got[i], want[i]);
        if (e > m) {
            m = e;
            w = i;
        }
    }
    if (worst)
        *worst = w;
    return m;
}

/* Fails the test (with both values and the index) when an array differs by
 * more than `tol` relative error. */
#define CHECK_CLOSE_ARRAY(what, got, want, n, tol)                                                    \
    do {                                                                                             \
        size_t w_;                                                                                   \
        double e_ = max_rel_err((got), (want), (n), &w_);                                            \
        if (!(e_ <= (tol)))                                                                          \
            fail_msg("%s: element %zu: got %.17g, want %.17g (rel err %.3g > %.3g)", (what), w_,     \
                     (got)[w_], (want)[w_], e_, (double)(tol));                                      \
    } while (0)

/* An eta_allocator's functions that count allocations and fail from the
 * fail_at-th on (-1: never), for the tests of "no allocation in a step" and
 * of every out-of-memory path: eta_allocator a = {c_alloc, c_free, &counter}. */
typedef struct counting {
    long allocs;
    long fail_at; /* the allocation number that fails; -1 never */
} counting;

static inline void *c_alloc(void *ud, size_t n)
{
    counting *c = ud;
    if (c->fail_at >= 0 && c->allocs >= c->fail_at)
        return NULL;
    c->allocs++;
    return malloc(n);
}

static inline void c_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

/* Doubles into a float32 or float64 array, and back. */
static inline void to_typed(eta_dtype t, void *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t == ETA_F32)
            ((float *)dst)[i] = (float)src[i];
        else
            ((double *)dst)[i] = src[i];
    }
}

static inline void from_typed(eta_dtype t, double *dst, const void *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = t == ETA_F32 ? (double)((const float *)src)[i] : ((const double *)src)[i];
}

/* Runs `eta ARGS` (ETA_BIN) with the shell, stdout to *out (malloc'd),
 * stderr to *err; returns the exit status. */
static inline int run_eta(const char *args, char **out, char **err)
{
    const char *bin = getenv("ETA_BIN");
    char cmd[8192], ofile[] = "/tmp/eta_test_out_XXXXXX", efile[] = "/tmp/eta_test_err_XXXXXX";
    int fo = mkstemp(ofile), fe = mkstemp(efile);
    if (fo < 0 || fe < 0)
        return -1;
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", bin ? bin : "eta", args, ofile, efile);
    int st = system(cmd);
    *out = read_file(ofile, NULL);
    *err = read_file(efile, NULL);
    remove(ofile);
    remove(efile);
    close(fo);
    close(fe);
    return st == -1 ? -1 : (st >> 8) & 0xff;
}

#endif
