/* bench/gemm.c - GFLOP/s of nn_sgemm (src/nn/blas.h) at the GEMM shapes of
 * eta's planned benchmarks, against OpenBLAS left to itself, measured in one run.
 *
 * Shapes (row-major, as linear.c and an im2col convolution call them):
 *   - MLP 784-256-128-10 at batch 128: per layer the forward y = x W^T, the
 *     weight gradient dW += dy^T x and the input gradient dx += dy W (not for
 *     the first layer, whose input needs no gradient), and their sum, "MLP step";
 *   - a 1024^3 square;
 *   - im2col at batch 128, one row per output pixel (a convolution as a
 *     Linear over [pixels, C*5*5]): Conv2d(1,32,5,p=2) on 28x28 (forward,
 *     dW), Conv2d(32,64,5,p=2) on 14x14, after the 2x2 pool of the usual
 *     MNIST CNN (forward, dW, dcols), and its forward on 28x28.
 * Columns, each at 1 and 2 threads: eta (nn_sgemm, nn_blas_set_threads),
 * "alone" (the same library file in a child process, OPENBLAS_CORETYPE
 * unset: OpenBLAS's own kernel choice), "SSE3" (a child with
 * OPENBLAS_CORETYPE=Prescott: the generic kernels 0.3.21 falls back to on
 * CPUs it does not know) and the C fallback (nn_sgemm_builtin). Each cell is
 * the fastest of g_runs timed runs of at least RUN_NS after a warm-up
 * (not the median: on a shared 2-core machine another process only ever
 * slows a run down, and a 2-thread GEMM whose second thread is descheduled
 * drops 10-50x, so the fastest run is the steadiest estimate). The
 * columns of one shape are measured one after the other (a child per shape),
 * so that a drift of the shared machine touches them alike. The children's
 * config lines are printed, as data-and-deps.md §2.1 asks of a baseline run
 * that sets OPENBLAS_CORETYPE.
 *
 * usage: gemm [--quick]          (--quick: 3 runs, no C fallback)
 *        gemm --child PATH SHAPE (internal: times PATH's cblas_sgemm, prints
 *                                 "config ..." and "threads GFLOP/s" lines)
 */
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#include "nn/blas.h"

#define RUN_NS 30e6   /* a timed run lasts at least 30 ms */
#define WARM_NS 60e6  /* warm-up */
#define MAX_RUNS 15

typedef struct shape {
    const char *name;
    bool ta, tb;
    int M, N, K;
    bool mlp; /* part of the MLP step */
} shape;

static const shape SHAPES[] = {
    {"fc1 fwd  x W^T", false, true, 128, 256, 784, true},
    {"fc1 dW   dy^T x", true, false, 256, 784, 128, true},
    {"fc2 fwd", false, true, 128, 128, 256, true},
    {"fc2 dW", true, false, 128, 256, 128, true},
    {"fc2 dx   dy W", false, false, 128, 256, 128, true},
    {"fc3 fwd", false, true, 128, 10, 128, true},
    {"fc3 dW", true, false, 10, 128, 128, true},
    {"fc3 dx", false, false, 128, 128, 10, true},
    {"square 1024^3", false, false, 1024, 1024, 1024, false},
    {"conv1 28x28 fwd", false, true, 128 * 784, 32, 25, false},
    {"conv1 28x28 dW", true, false, 32, 25, 128 * 784, false},
    {"conv2 14x14 fwd", false, true, 128 * 196, 64, 800, false},
    {"conv2 14x14 dW", true, false, 64, 800, 128 * 196, false},
    {"conv2 14x14 dcols", false, false, 128 * 196, 800, 64, false},
    {"conv2 28x28 fwd", false, true, 128 * 784, 64, 800, false},
};
#define NSHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

enum { COL_ETA, COL_ALONE, COL_SSE3, COL_C, NCOLS };
static const char *const COL_NAMES[NCOLS] = {"eta", "alone", "SSE3", "C"};
static const int THREADS[] = {1, 2};

static int g_runs = 7;

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);
static sgemm_fn child_sgemm; /* in a child: the library's cblas_sgemm */

typedef struct operands {
    float *A, *B, *C;
} operands;

static void call(int col, const shape *s, operands *o)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    if (col == COL_ETA)
        nn_sgemm(s->ta, s->tb, s->M, s->N, s->K, 1.0f, o->A, lda, o->B, ldb, 0.0f, o->C, s->N);
    else if (col == COL_C)
        nn_sgemm_builtin(s->ta, s->tb, s->M, s->N, s->K, 1.0f, o->A, lda, o->B, ldb, 0.0f, o->C, s->N);
    else
        child_sgemm(101, s->ta ? 112 : 111, s->tb ? 112 : 111, s->M, s->N, s->K, 1.0f, o->A, lda, o->B, ldb, 0.0f,
                    o->C, s->N);
}

static int alloc_operands(const shape *s, operands *o)
{
    size_t na = (size_t)s->M * s->K, nb = (size_t)s->K * s->N, nc = (size_t)s->M * s->N;
    o->A = malloc(na * sizeof(float));
    o->B = malloc(nb * sizeof(float));
    o->C = malloc(nc * sizeof(float));
    if (!o->A || !o->B || !o->C)
        return -1;
    uint64_t r = 1;
    for (size_t i = 0; i < na; i++)
        o->A[i] = (float)((r = r * 6364136223846793005ull + 1) >> 40) * 0x1.0p-24f - 0.5f;
    for (size_t i = 0; i < nb; i++)
        o->B[i] = (float)((r = r * 6364136223846793005ull + 1) >> 40) * 0x1.0p-24f - 0.5f;
    memset(o->C, 0, nc * sizeof(float));
    return 0;
}

static void free_operands(operands *o)
{
    free(o->A);
    free(o->B);
    free(o->C);
}

/* The fastest run's ns per call. */
static double time_call(int col, const shape *s, operands *o)
{
    double t0 = now_ns();
    int warm = 0;
    while (warm < 2 || now_ns() - t0 < WARM_NS) {
        call(col, s, o);
        warm++;
    }
    double per = (now_ns() - t0) / warm;
    int reps = per >= RUN_NS ? 1 : (int)(RUN_NS / per) + 1;
    double t[MAX_RUNS];
    for (int r = 0; r < g_runs; r++) {
        double a = now_ns();
        for (int i = 0; i < reps; i++)
            call(col, s, o);
        t[r] = (now_ns() - a) / reps;
    }
    qsort(t, (size_t)g_runs, sizeof *t, cmp_double);
    return t[0];
}

static double flops(const shape *s)
{
    return 2.0 * s->M * s->N * s->K;
}

/* --- child: OpenBLAS as it loads without eta ---------------------------- */

static int child_main(const char *path, int i)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "gemm --child: %s\n", dlerror());
        return 1;
    }
    void *p = dlsym(h, "cblas_sgemm"), *q = dlsym(h, "openblas_set_num_threads"), *c = dlsym(h, "openblas_get_config");
    if (!p || !q || !c) {
        fprintf(stderr, "gemm --child: %s is not an OpenBLAS\n", path);
        return 1;
    }
    void (*set_threads)(int);
    char *(*config)(void);
    memcpy(&child_sgemm, &p, sizeof p);
    memcpy(&set_threads, &q, sizeof q);
    memcpy(&config, &c, sizeof c);
    const char *ct = getenv("OPENBLAS_CORETYPE");
    printf("config %s (OPENBLAS_CORETYPE %s%s)\n", config(), ct ? "=" : "unset", ct ? ct : "");
    if (i < 0 || i >= NSHAPES)
        return 0;
    operands o;
    if (alloc_operands(&SHAPES[i], &o) != 0)
        return 1;
    for (int t = 0; t < 2; t++) {
        set_threads(THREADS[t]);
        printf("%d %.6g\n", THREADS[t], flops(&SHAPES[i]) / time_call(COL_ALONE, &SHAPES[i], &o));
    }
    free_operands(&o);
    return 0;
}

/* Runs `self --child path shape` with OPENBLAS_CORETYPE as given (NULL:
 * unset), into config (its config line) and gf[thread index] (GFLOP/s);
 * shape `which` -1 only reports the config. Returns 0 or -1. */
static int run_child(const char *self, const char *path, const char *coretype, int which, char *config, size_t cap,
                     double gf[2])
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE %s%s '%s' --child '%s' %d",
             coretype ? "OPENBLAS_CORETYPE=" : "", coretype ? coretype : "", self, path, which);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    char line[1024];
    config[0] = '\0';
    while (fgets(line, sizeof line, f)) {
        int t;
        double g;
        if (!strncmp(line, "config ", 7)) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(config, cap, "%s", line + 7);
        } else if (gf && sscanf(line, "%d %lf", &t, &g) == 2) {
            gf[t == 1 ? 0 : 1] = g; /* flops per ns = GFLOP/s */
        }
    }
    return pclose(f) == 0 && config[0] ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "--child"))
        return child_main(argv[2], atoi(argv[3]));
    bool quick = argc > 1 && !strcmp(argv[1], "--quick");
    if (argc > 1 && !quick) {
        fprintf(stderr, "usage: gemm [--quick]\n");
        return 2;
    }
    if (quick)
        g_runs = 3;

    static double gf[NCOLS][NSHAPES][2]; /* GFLOP/s; 0: not measured */
    printf("nn_sgemm: %s\n", nn_blas_config());
    const char *path = nn_blas_path();
    char self[4096], config[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    bool children = path && path[0] && n > 0;
    if (children) {
        self[n] = '\0';
        static const char *const coretypes[2] = {NULL, "Prescott"};
        for (int c = 0; c < 2; c++) {
            int rc = run_child(self, path, coretypes[c], -1, config, sizeof config, NULL);
            printf("%-9s %s\n", c ? "SSE3:" : "alone:", rc == 0 ? config : "(child failed)");
            children = children && rc == 0;
        }
    } else {
        printf("alone, SSE3: not measured (no OpenBLAS file of eta's own)\n");
    }

    for (int i = 0; i < NSHAPES; i++) {
        operands o;
        if (alloc_operands(&SHAPES[i], &o) != 0) {
            fprintf(stderr, "gemm: out of memory at %s\n", SHAPES[i].name);
            return 1;
        }
        for (int t = 0; t < 2; t++) {
            nn_blas_set_threads(THREADS[t]);
            gf[COL_ETA][i][t] = flops(&SHAPES[i]) / time_call(COL_ETA, &SHAPES[i], &o);
        }
        if (children) {
            run_child(self, path, NULL, i, config, sizeof config, gf[COL_ALONE][i]);
            run_child(self, path, "Prescott", i, config, sizeof config, gf[COL_SSE3][i]);
        }
        for (int t = 0; t < 2 && !quick; t++) {
            nn_blas_set_threads(THREADS[t]);
            gf[COL_C][i][t] = flops(&SHAPES[i]) / time_call(COL_C, &SHAPES[i], &o);
        }
        free_operands(&o);
    }
    nn_blas_set_threads(0);

    printf("\nGFLOP/s, fastest of %d runs; eta/alone and eta/SSE3 at 2 threads\n", g_runs);
    printf("%-18s %2s %2s %6s %4s %6s ", "shape", "ta", "tb", "M", "N", "K");
    for (int c = 0; c < NCOLS; c++)
        printf(" %5s 1t %5s 2t", COL_NAMES[c], COL_NAMES[c]);
    printf("   eta/alone eta/SSE3\n");
    double mlp_ns[NCOLS][2] = {{0}}, mlp_flops = 0;
    for (int i = 0; i <= NSHAPES; i++) {
        double row[NCOLS][2];
        if (i < NSHAPES) {
            const shape *s = &SHAPES[i];
            printf("%-18s %2d %2d %6d %4d %6d ", s->name, s->ta, s->tb, s->M, s->N, s->K);
            for (int c = 0; c < NCOLS; c++)
                for (int t = 0; t < 2; t++) {
                    row[c][t] = gf[c][i][t];
                    if (s->mlp)
                        mlp_ns[c][t] += row[c][t] > 0 ? flops(s) / row[c][t] : NAN;
                }
            if (s->mlp)
                mlp_flops += flops(s);
        } else {
            printf("%-18s %-24s ", "MLP step", "(the 8 fc GEMMs)");
            for (int c = 0; c < NCOLS; c++)
                for (int t = 0; t < 2; t++)
                    row[c][t] = mlp_flops / mlp_ns[c][t];
        }
        for (int c = 0; c < NCOLS; c++)
            for (int t = 0; t < 2; t++)
                if (row[c][t] > 0)
                    printf(" %8.1f", row[c][t]);
                else
                    printf(" %8s", "-");
        printf("  ");
        if (row[COL_ALONE][1] > 0)
            printf(" %9.2f", row[COL_ETA][1] / row[COL_ALONE][1]);
        else
            printf(" %9s", "-");
        if (row[COL_SSE3][1] > 0)
            printf(" %8.2f", row[COL_ETA][1] / row[COL_SSE3][1]);
        else
            printf(" %8s", "-");
        printf("\n");
    }
    return 0;
}
