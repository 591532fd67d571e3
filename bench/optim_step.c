/* bench/optim_step.c - the speed of eta_optim_step against the memory bound,
 * measured in one run.
 *
 * For SGD(lr=0.01, momentum=0.9), Adam() and AdamW() on one float32
 * parameter array of 1M and 10M elements, at 1 and 2 threads
 * (eta_optim_config.threads), it prints:
 *   - ns per parameter per step: the median of several timed runs after a
 *     warm-up, each run a whole number of steps of at least RUN_NS;
 *   - bytes moved per parameter: SGD-momentum reads p, g, b and writes p, b
 *     (5 x 4 B = 20 B); Adam/AdamW read p, g, m, v and write p, m, v (28 B);
 *   - the bound: an in-place triad over the optimizer's own arrays that
 *     moves the same bytes per element (20 B: p += s*b, b += s*g; 28 B:
 *     p += s*m, m += s*v, v += s*g), on the same number of threads, timed
 *     in runs alternating with the optimizer's; and the fraction of it eta
 *     reaches (bound ns / eta ns);
 *   - the fixed cost of one eta_optim_step call on a tiny optimizer (3
 *     parameters of 10 elements), where the per-call overhead dominates;
 *   - the cost of the gradient finite check (check_finite) on AdamW 10M.
 * Only the public API is used. Times are wall clock (CLOCK_MONOTONIC).
 *
 * usage: optim_step [--csv] [--runs N] [--sizes N,N,...] [--threads T,T,...]
 *                   [--opt SGD-momentum|Adam|AdamW] [--steps-only | --no-steps]
 *   --opt times only that optimizer's rows; --steps-only skips the fixed cost
 *   and the finite check, --no-steps everything else.
 *   --csv prints machine-readable lines (what bench/compare_torch.py reads):
 *     step,<optimizer>,<n>,<threads>,<eta ns/param>,<bytes/param>,<bound ns/param>,<fraction>
 *     fixed,<optimizer>,<ns per step call>
 *     finite,<optimizer>,<n>,<threads>,<ns/param off>,<ns/param on>
 */
#include <eta/eta.h>

#include "bench.h"
#include "proc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#define RUN_NS 20e6    /* a timed run lasts at least 20 ms */
#define WARM_NS 100e6  /* warm-up: at least 100 ms and 3 calls */
#define MAX_RUNS 101

typedef struct bench_opt {
    const char *name;
    const char *spec;
    int bytes;   /* per parameter per step, float32 */
    int written; /* arrays written in place (the triad reads written + 1 arrays) */
    const char *state[2]; /* the state arrays written, by name */
} bench_opt;

static const bench_opt OPTS[] = {
    {"SGD-momentum", "SGD(lr=0.01, momentum=0.9)", 20, 2, {"momentum_buffer", NULL}},
    {"Adam", "Adam()", 28, 3, {"exp_avg", "exp_avg_sq"}},
    {"AdamW", "AdamW()", 28, 3, {"exp_avg", "exp_avg_sq"}},
};
#define NOPTS (int)(sizeof OPTS / sizeof OPTS[0])

static int g_runs = 11;

/* Median times of one call of fa(ca) and of fb(cb), in ns: both are warmed
 * up, a number of calls per run lasting at least RUN_NS is picked for each,
 * then g_runs runs of a and of b are timed alternately, so a drift of the
 * machine (another process, frequency) touches both alike. fb may be NULL. */
typedef int (*bench_fn)(void *ctx);

static long calls_per_run(bench_fn fn, void *ctx)
{
    double t0 = now_ns();
    int calls = 0;
    while (calls < 3 || now_ns() - t0 < WARM_NS) {
        if (fn(ctx))
            exit(1);
        calls++;
    }
    double per = (now_ns() - t0) / calls;
    long k = (long)ceil(RUN_NS / (per > 1 ? per : 1));
    return k < 1 ? 1 : k;
}

static double time_run(bench_fn fn, void *ctx, long k)
{
    double a = now_ns();
    for (long i = 0; i < k; i++)
        fn(ctx);
    return (now_ns() - a) / (double)k;
}

static void time_pair(bench_fn fa, void *ca, bench_fn fb, void *cb, double *ta, double *tb)
{
    long ka = calls_per_run(fa, ca), kb = fb ? calls_per_run(fb, cb) : 0;
    double a[MAX_RUNS], b[MAX_RUNS];
    for (int r = 0; r < g_runs; r++) {
        a[r] = time_run(fa, ca, ka);
        if (fb)
            b[r] = time_run(fb, cb, kb);
    }
    qsort(a, (size_t)g_runs, sizeof a[0], cmp_double);
    *ta = a[g_runs / 2];
    if (fb) {
        qsort(b, (size_t)g_runs, sizeof b[0], cmp_double);
        *tb = b[g_runs / 2];
    }
}

/* ---- the bound: in-place triads ---------------------------------------- */

/* The triad runs on the optimizer's own arrays (parameters, state, and the
 * gradient as the read-only one), so both touch the same physical pages:
 * on a virtual machine, two allocations of the same size can differ in
 * bandwidth by 10-20%. The triad's tiny changes leave the values sane. */
typedef struct triad {
    float *x[4];
    size_t n;
    int written; /* 2: 20 B per element, 3: 28 B */
    int threads;
} triad;

/* target_clones: the triad gets the widest vectors the CPU has, so the bound
 * is not a compute bound of a narrow build. */
#if defined(__GNUC__) && defined(__x86_64__) && !defined(__clang__) && defined(__GLIBC__)
#define BENCH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define BENCH_CLONES
#endif

BENCH_CLONES
static void triad2(float *restrict a, float *restrict b, const float *restrict c, float s, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        a[i] = a[i] + s * b[i];
        b[i] = b[i] + s * c[i];
    }
}

BENCH_CLONES
static void triad3(float *restrict a, float *restrict b, float *restrict c, const float *restrict d, float s,
                   size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        a[i] = a[i] + s * b[i];
        b[i] = b[i] + s * c[i];
        c[i] = c[i] + s * d[i];
    }
}

static void triad_part(const triad *t, size_t lo, size_t hi)
{
    const float s = 1e-7f; /* keeps the values near their start over any number of runs */
    if (t->written == 2)
        triad2(t->x[0] + lo, t->x[1] + lo, t->x[2] + lo, s, hi - lo);
    else
        triad3(t->x[0] + lo, t->x[1] + lo, t->x[2] + lo, t->x[3] + lo, s, hi - lo);
}

/* Contiguous equal parts, one per thread: the best case for bandwidth. */
static int triad_run(void *vt)
{
    const triad *t = vt;
#ifdef _OPENMP
    if (t->threads > 1) {
#pragma omp parallel num_threads(t->threads)
        {
            size_t nt = (size_t)omp_get_num_threads(), id = (size_t)omp_get_thread_num();
            triad_part(t, t->n * id / nt, t->n * (id + 1) / nt);
        }
        return 0;
    }
#endif
    triad_part(t, 0, t->n);
    return 0;
}

static float *alloc_floats(size_t n, float v)
{
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *x = aligned_alloc(64, bytes);
    if (!x) {
        fprintf(stderr, "optim_step: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = v;
    return x;
}

/* ---- the optimizer --------------------------------------------------- */

static int step_run(void *opt)
{
    int rc = eta_optim_step(opt);
    if (rc)
        fprintf(stderr, "optim_step: step failed: %s\n", eta_optim_error(opt));
    return rc;
}

/* A fixed pseudo-random sequence (xorshift), so every run sees the same data. */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Parameters in [-1, 1]; gradients of magnitude [0.1, 1) with random sign,
 * so no moment or square goes subnormal. */
static void fill(float *p, float *g, size_t n)
{
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) {
        p[i] = (float)(rng_next(&s) >> 8) / 8388608.0f - 1.0f;
        float mag = 0.1f + 0.9f * (float)(rng_next(&s) >> 8) / 16777216.0f;
        g[i] = (rng_next(&s) & 1) ? mag : -mag;
    }
}

static eta_optim *make_opt(const bench_opt *b, int threads, bool check_finite, float **p, float **g,
                           int nparams, size_t n)
{
    eta_optim_config cfg;
    eta_err err;
    if (eta_optim_config_from_spec(&cfg, b->spec, &err)) {
        fprintf(stderr, "optim_step: %s: %s\n", b->spec, err.msg);
        exit(1);
    }
    cfg.dtype = ETA_F32;
    cfg.threads = threads;
    cfg.check_finite = check_finite;
    eta_optim *opt;
    if (eta_optim_new(&opt, &cfg, &err)) {
        fprintf(stderr, "optim_step: %s: %s\n", b->spec, err.msg);
        exit(1);
    }
    for (int i = 0; i < nparams; i++) {
        int64_t shape[1] = {(int64_t)n};
        if (eta_optim_add_param(opt, 0, p[i], g[i], 1, shape) < 0) {
            fprintf(stderr, "optim_step: %s\n", eta_optim_error(opt));
            exit(1);
        }
    }
    return opt;
}

/* An optimizer over one parameter array of n elements, with its arrays. */
typedef struct bench_case {
    eta_optim *opt;
    float *p, *g;
} bench_case;

static void case_init(bench_case *c, const bench_opt *b, size_t n, int threads, bool check_finite)
{
    c->p = alloc_floats(n, 0);
    c->g = alloc_floats(n, 0);
    fill(c->p, c->g, n);
    c->opt = make_opt(b, threads, check_finite, &c->p, &c->g, 1, n);
}

static void case_free(bench_case *c)
{
    eta_optim_free(c->opt);
    free(c->p);
    free(c->g);
}

/* ns per parameter: the optimizer and the bound (its triad), timed alternately. */
static void step_and_bound(const bench_opt *b, size_t n, int threads, double *eta, double *bound)
{
    bench_case c;
    case_init(&c, b, n, threads, false);
    /* a = p, then the written state arrays, then g (read only). */
    triad t = {{c.p, NULL, NULL, NULL}, n, b->written, threads};
    for (int i = 1; i < b->written; i++) {
        void *data;
        size_t len;
        if (eta_optim_state(c.opt, 0, b->state[i - 1], &data, &len) || len != n) {
            fprintf(stderr, "optim_step: %s: no state '%s'\n", b->name, b->state[i - 1]);
            exit(1);
        }
        t.x[i] = data;
    }
    t.x[b->written] = c.g;
    time_pair(step_run, c.opt, triad_run, &t, eta, bound);
    *eta /= (double)n;
    *bound /= (double)n;
    case_free(&c);
}

/* ns per parameter with check_finite off and on, timed alternately. */
static void finite_cost(const bench_opt *b, size_t n, int threads, double *off, double *on)
{
    bench_case c0, c1;
    case_init(&c0, b, n, threads, false);
    case_init(&c1, b, n, threads, true);
    time_pair(step_run, c0.opt, step_run, c1.opt, off, on);
    *off /= (double)n;
    *on /= (double)n;
    case_free(&c0);
    case_free(&c1);
}

/* ns per eta_optim_step call on 3 parameters of 10 elements. */
static double fixed_ns(const bench_opt *b)
{
    float *p[3], *g[3];
    for (int i = 0; i < 3; i++) {
        p[i] = alloc_floats(10, 0);
        g[i] = alloc_floats(10, 0);
        fill(p[i], g[i], 10);
    }
    eta_optim *opt = make_opt(b, 0, false, p, g, 3, 10);
    double ns;
    time_pair(step_run, opt, NULL, NULL, &ns, NULL);
    eta_optim_free(opt);
    for (int i = 0; i < 3; i++) {
        free(p[i]);
        free(g[i]);
    }
    return ns;
}

/* ---- main ------------------------------------------------------------ */

static void usage(void)
{
    fprintf(stderr, "usage: optim_step [--csv] [--runs N] [--sizes N,N,...] [--threads T,T,...]\n"
                    "                  [--opt SGD-momentum|Adam|AdamW] [--steps-only | --no-steps]\n");
    exit(2);
}

static const char *human(size_t n, char *buf, size_t cap)
{
    if (n % 1000000 == 0)
        snprintf(buf, cap, "%zuM", n / 1000000);
    else if (n % 1000 == 0)
        snprintf(buf, cap, "%zuk", n / 1000);
    else
        snprintf(buf, cap, "%zu", n);
    return buf;
}

int main(int argc, char **argv)
{
    bool csv = false, steps_only = false, no_steps = false;
    const char *only = NULL;
    long sizes[8] = {1000000, 10000000}, threads[8] = {1, 2};
    int nsizes = 2, nthreads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv"))
            csv = true;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) {
            g_runs = atoi(argv[++i]);
            if (g_runs < 1 || g_runs > MAX_RUNS)
                usage();
        } else if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
            if ((nsizes = bench_parse_list(argv[++i], sizes, 8)) <= 0)
                usage();
        } else if (!strcmp(argv[i], "--opt") && i + 1 < argc) {
            only = argv[++i];
            int o = 0;
            while (o < NOPTS && strcmp(only, OPTS[o].name))
                o++;
            if (o == NOPTS)
                usage();
        } else if (!strcmp(argv[i], "--steps-only")) {
            steps_only = true;
        } else if (!strcmp(argv[i], "--no-steps")) {
            no_steps = true;
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((nthreads = bench_parse_list(argv[++i], threads, 8)) <= 0)
                usage();
        } else
            usage();
    }
    char hb[32];

    if (!csv) {
        printf("eta %s optim_step: float32, one parameter array; ns per parameter per step, median of %d runs\n"
               "after warm-up. bound: in-place triad over the optimizer's own arrays moving the same bytes\n"
               "per element (20 B: read 3 write 2; 28 B: read 4 write 3), same threads, runs alternating.\n"
               "fraction = bound / eta (1.0 = at the memory bound).\n\n",
               ETA_VERSION_STRING, g_runs);
        printf("%-13s %6s %3s %10s %7s %10s %9s %9s %8s\n", "optimizer", "params", "thr", "ns/param", "B/param",
               "bound ns", "bound GB/s", "eta GB/s", "fraction");
    }
    for (int o = 0; o < NOPTS; o++)
        for (int s = 0; s < nsizes && !no_steps && (!only || !strcmp(only, OPTS[o].name)); s++)
            for (int t = 0; t < nthreads; t++) {
                const bench_opt *b = &OPTS[o];
                size_t n = (size_t)sizes[s];
                int th = (int)threads[t];
                double eta, bound;
                step_and_bound(b, n, th, &eta, &bound);
                if (csv)
                    printf("step,%s,%zu,%d,%.5f,%d,%.5f,%.4f\n", b->name, n, th, eta, b->bytes, bound,
                           bound / eta);
                else
                    printf("%-13s %6s %3d %10.4f %7d %10.4f %9.1f %9.1f %8.2f\n", b->name, human(n, hb, sizeof hb),
                           th, eta, b->bytes, bound, b->bytes / bound, b->bytes / eta, bound / eta);
                fflush(stdout);
            }

    if (steps_only)
        return 0;
    if (!csv)
        printf("\nfixed cost per eta_optim_step call (3 parameters of 10 elements, default threads):\n");
    for (int o = 0; o < NOPTS; o++) {
        double ns = fixed_ns(&OPTS[o]);
        if (csv)
            printf("fixed,%s,%.2f\n", OPTS[o].name, ns);
        else
            printf("  %-13s %8.1f ns\n", OPTS[o].name, ns);
        fflush(stdout);
    }

    const bench_opt *aw = &OPTS[2];
    size_t nf = (size_t)sizes[nsizes - 1];
    if (!csv)
        printf("\ngradient finite check (check_finite), %s %s: ns/param per step\n%3s %10s %10s %10s %8s\n",
               aw->name, human(nf, hb, sizeof hb), "thr", "off", "on", "cost", "cost %");
    for (int t = 0; t < nthreads; t++) {
        int th = (int)threads[t];
        double off, on;
        finite_cost(aw, nf, th, &off, &on);
        if (csv)
            printf("finite,%s,%zu,%d,%.5f,%.5f\n", aw->name, nf, th, off, on);
        else
            printf("%3d %10.4f %10.4f %10.4f %7.1f%%\n", th, off, on, on - off, 100 * (on - off) / off);
        fflush(stdout);
    }
    return 0;
}
