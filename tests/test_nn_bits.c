/* test_nn_bits.c - the same bits at 1, 2 and 3 threads on every GEMM kernel family. labels: unit full
 *
 * Debian's OpenBLAS 0.3.21 picks one of several kernel families at load
 * time from the CPU (or OPENBLAS_CORETYPE), and the families differ in how
 * a part of C is computed (nn/blas.c): a promise measured on one CPU says
 * nothing of another. So each family this CPU can run is proven here, each
 * in a child process of this program with OPENBLAS_CORETYPE set for that
 * child alone: SkylakeX and Cooperlake (AVX-512; Cooperlake also needs
 * AVX512-BF16), Haswell and Zen (AVX2 + FMA), Sandybridge (AVX), Prescott
 * (SSE3, what 0.3.21 runs on CPUs it does not know), and eta's own C GEMM
 * (ETA_BLAS=builtin). This is the one test that sets OPENBLAS_CORETYPE: to
 * prove each family, never to hide a slow default. A family the CPU cannot
 * run is reported as skipped, naming what the CPU lacks. The child checks
 * that OpenBLAS runs the family asked for, then compares, bit for bit:
 *  - GEMMs at 1, 2 and 3 threads: the benchmark's shapes (the MLP
 *    784-256-128-10 at batch 128, im2col convolutions, 1024^3) and awkward
 *    ones (prime sizes, 1-row and 1-column products, every transposition,
 *    row strides wider than the rows, alpha and beta other than 1 and 0);
 *  - the same products inside OpenMP regions of 1 and 2 threads;
 *  - three AdamW steps of an MLP, a CNN with BatchNorm and a 2-block
 *    causal transformer at 1, 2 and 3 threads: every loss and every
 *    parameter and buffer afterwards.
 * A BLAS given through ETA_BLAS with a thread pool of its own threads
 * GEMMs its own way: no promise there, and test_user_blas says skipped.
 *
 * `test_nn_bits --family NAME [--quick]` is the child, also run by
 * tests/cpu_paths.sh in an emulated CPU: NAME is a family, `builtin`, or
 * `native` (whatever OpenBLAS picks); it prints a digest of its 1-thread
 * results, which with the C GEMM must be the same on every CPU.
 */
#include "harness.h"

#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include <eta/eta.h>

#include "nn/blas.h"

#ifdef _OPENMP
#include <omp.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define HAVE_CPUID 1
#endif

enum { SKIP_CHILD = 77 }; /* the child's exit status for "no promise here" */

/* --quick: products of at most QUICK_MNK multiply-adds only (for runs in an
 * emulator, tests/cpu_paths.sh). */
#define QUICK_MNK 3e7
static bool quick;

/* FNV-1a over every 1-thread result (GEMMs, then parameters and losses):
 * printed by the child, so that runs on other CPUs can be compared. */
static uint64_t digest = 0xcbf29ce484222325ull;

static void digest_add(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        digest = (digest ^ b[i]) * 0x100000001b3ull;
}

/* ---- what the CPU runs ------------------------------------------------- */

/* NULL when the CPU runs the family, else what it lacks. */
static const char *cpu_lacks(const char *family)
{
#ifdef HAVE_CPUID
    unsigned a, b, c, d;
    __cpuid(1, a, b, c, d);
    bool sse3 = c & 1, fma = c >> 12 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1;
    unsigned xcr0 = 0, hi;
    if (osxsave)
        __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(hi) : "c"(0));
    (void)hi;
    bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6;
    __cpuid_count(7, 0, a, b, c, d);
    bool avx2 = b >> 5 & 1, f = b >> 16 & 1, dq = b >> 17 & 1, cd = b >> 28 & 1, bw = b >> 30 & 1, vl = b >> 31 & 1;
    __cpuid_count(7, 1, a, b, c, d);
    bool bf16 = a >> 5 & 1;
    bool avx512 = f && dq && cd && bw && vl && zmm;
    if (!strcmp(family, "SkylakeX"))
        return avx512 ? NULL : "AVX-512 (F, DQ, CD, BW, VL) with ZMM state";
    if (!strcmp(family, "Cooperlake"))
        return avx512 && bf16 ? NULL : "AVX-512 with BF16";
    if (!strcmp(family, "Haswell") || !strcmp(family, "Zen"))
        return avx2 && fma && ymm ? NULL : "AVX2 and FMA";
    if (!strcmp(family, "Sandybridge"))
        return avx && ymm ? NULL : "AVX";
    if (!strcmp(family, "Prescott"))
        return sse3 ? NULL : "SSE3";
    return "a known family";
#else
    (void)family;
    return "an x86-64 CPU";
#endif
}

/* ---- data -------------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static float uniform(void) /* in [-1, 1) */
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 23) - 1.0);
}

static float *filled(size_t n)
{
    float *m = malloc(sizeof(float) * (n ? n : 1));
    assert_non_null(m);
    for (size_t i = 0; i < n; i++)
        m[i] = uniform();
    return m;
}

static void set_threads(int t)
{
#ifdef _OPENMP
    omp_set_num_threads(t);
#else
    (void)t;
#endif
}

static int width(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---- GEMMs ------------------------------------------------------------- */

typedef struct gemm_case {
    const char *name;
    int ta, tb, M, N, K, pad;
    float alpha, beta;
} gemm_case;

static const gemm_case GEMMS[] = {
    /* the benchmark MLP at batch 128 (forward, weight and input gradients) */
    {"fc1 fwd", 0, 1, 128, 256, 784, 0, 1.0f, 0.0f},
    {"fc1 dW", 1, 0, 256, 784, 128, 0, 1.0f, 1.0f},
    {"fc2 fwd", 0, 1, 128, 128, 256, 0, 1.0f, 0.0f},
    {"fc2 dW", 1, 0, 128, 256, 128, 0, 1.0f, 1.0f},
    {"fc2 dx", 0, 0, 128, 256, 128, 0, 1.0f, 0.0f},
    {"fc3 fwd", 0, 1, 128, 10, 128, 0, 1.0f, 0.0f},
    /* im2col convolutions and a square */
    {"conv1 fwd", 0, 1, 25088, 32, 25, 0, 1.0f, 0.0f},
    {"conv2 fwd", 0, 1, 6272, 64, 800, 0, 1.0f, 0.0f},
    {"conv2 dW", 1, 0, 64, 800, 6272, 0, 1.0f, 0.0f},
    {"conv2 dcols", 0, 0, 6272, 800, 64, 0, 1.0f, 0.0f},
    {"square", 0, 0, 1024, 1024, 1024, 0, 1.0f, 0.0f},
    /* awkward: primes, one row, one column, every transposition, strides */
    {"primes nn", 0, 0, 509, 521, 1013, 3, -1.5f, 0.5f},
    {"primes nt", 0, 1, 521, 509, 1013, 0, 1.0f, 1.0f},
    {"primes tn", 1, 0, 1013, 257, 509, 5, 0.75f, -2.0f},
    {"primes tt", 1, 1, 257, 1013, 509, 1, 1.0f, 0.0f},
    {"one row", 0, 0, 1, 8191, 1031, 0, 1.0f, 0.0f},
    {"one row tt", 1, 1, 1, 4099, 2053, 2, 1.0f, 0.5f},
    {"one column", 0, 1, 8191, 1, 1031, 0, 1.0f, 0.0f},
    {"one column tn", 1, 0, 4099, 1, 2053, 7, -1.0f, 1.0f},
    {"tall thin", 1, 1, 65537, 3, 67, 0, 1.0f, 0.0f},
    {"wide", 0, 0, 7, 100003, 17, 1, 1.0f, 1.0f},
};
#define NGEMMS (int)(sizeof GEMMS / sizeof GEMMS[0])

/* C for one case at t threads; inside an OpenMP region of `region` threads
 * (each thread its own C) when region > 0. Returns the first thread's C. */
static float *gemm_at(const gemm_case *g, const float *A, const float *B, const float *C0, int t, int region)
{
    int lda = (g->ta ? g->M : g->K) + g->pad, ldb = (g->tb ? g->K : g->N) + g->pad, ldc = g->N + g->pad;
    size_t nc = (size_t)g->M * (size_t)ldc;
    float *C[2] = {malloc(sizeof(float) * nc), malloc(sizeof(float) * nc)};
    assert_true(C[0] && C[1]);
    memcpy(C[0], C0, sizeof(float) * nc);
    memcpy(C[1], C0, sizeof(float) * nc);
    set_threads(t);
    if (region == 0) {
        nn_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C[0], ldc);
    } else {
#ifdef _OPENMP
#pragma omp parallel for num_threads(region)
#endif
        for (int r = 0; r < region; r++)
            nn_sgemm(g->ta, g->tb, g->M, g->N, g->K, g->alpha, A, lda, B, ldb, g->beta, C[r], ldc);
        if (region == 2 && memcmp(C[0], C[1], sizeof(float) * nc) != 0)
            fail_msg("%s: two threads of one region give other bits", g->name);
    }
    free(C[1]);
    return C[0];
}

/* Every case at 1, 2 and 3 threads, and in regions of 1 and 2 threads. */
static int check_gemms(void)
{
    int bad = 0, saved = width();
    for (int i = 0; i < NGEMMS; i++) {
        const gemm_case *g = &GEMMS[i];
        if (quick && (double)g->M * g->N * g->K > QUICK_MNK)
            continue;
        int lda = (g->ta ? g->M : g->K) + g->pad, ldb = (g->tb ? g->K : g->N) + g->pad, ldc = g->N + g->pad;
        float *A = filled((size_t)(g->ta ? g->K : g->M) * (size_t)lda);
        float *B = filled((size_t)(g->tb ? g->N : g->K) * (size_t)ldb);
        float *C0 = filled((size_t)g->M * (size_t)ldc);
        size_t bytes = sizeof(float) * (size_t)g->M * (size_t)ldc;
        float *one = gemm_at(g, A, B, C0, 1, 0);
        digest_add(one, bytes);
        for (int t = 2; t <= 3; t++) {
            float *got = gemm_at(g, A, B, C0, t, 0);
            if (memcmp(one, got, bytes) != 0) {
                printf("DIFF gemm %s %dx%dx%d (ta %d, tb %d): other bits at %d threads than at 1 (%d parts)\n",
                       g->name, g->M, g->N, g->K, g->ta, g->tb, t, nn_gemm_parts(g->M, g->N, g->K));
                bad++;
            }
            free(got);
        }
        float *r1 = gemm_at(g, A, B, C0, 1, 1), *r2 = gemm_at(g, A, B, C0, 2, 2);
        if (memcmp(r1, r2, bytes) != 0) {
            printf("DIFF gemm %s: other bits in a region of 2 threads than of 1\n", g->name);
            bad++;
        }
        free(r1);
        free(r2);
        free(one);
        free(A);
        free(B);
        free(C0);
    }
    set_threads(saved);
    printf("gemm: %d cases at 1, 2 and 3 threads, %d differ; digest %016llx\n", NGEMMS, bad,
           (unsigned long long)digest);
    return bad;
}

/* ---- networks ---------------------------------------------------------- */

typedef struct net_case {
    const char *name, *spec;
    int B, ndim;
    int64_t shape[3];
    int targets_per_item; /* class indices per batch item */
    int classes;
} net_case;

static const net_case NETS[] = {
    {"MLP", "Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))", 128, 1, {784}, 1, 10},
    {"CNN",
     "Sequential(Conv2d(1, 16, 5, padding=2), BatchNorm2d(16), ReLU(), MaxPool2d(2), Conv2d(16, 32, 3, padding=1), "
     "ReLU(), MaxPool2d(2), Flatten(), Linear(1568, 64), ReLU(), Linear(64, 10))",
     16, 3, {1, 28, 28}, 1, 10},
    {"transformer",
     "Sequential(Embedding(50, 64), PositionalEmbedding(32, 64), TransformerBlock(64, 4, causal=True), "
     "TransformerBlock(64, 2), LayerNorm(64), Linear(64, 50))",
     16, 1, {32}, 32, 50},
};
enum { NET_STEPS = 3 };

/* NET_STEPS AdamW steps at t threads from the same start; returns the
 * parameters (and buffers) afterwards and the losses. */
static float *train_at(const net_case *c, int t, double *loss, size_t *np)
{
    set_threads(t);
    eta_net *net;
    eta_err err;
    if (eta_net_new(&net, c->spec, &err) || eta_net_prepare(net, c->B, c->ndim, c->shape, &err) ||
        eta_net_set_loss(net, "CrossEntropyLoss()", &err))
        fail_msg("%s: %s", c->name, err.msg);
    assert_int_equal(eta_net_init(net, 11), 0);
    eta_net_set_input_grad(net, false);
    eta_optim_config cfg;
    eta_optim *opt;
    if (eta_optim_config_from_spec(&cfg, "AdamW(lr=1e-3, weight_decay=0.1)", &err) || eta_optim_new(&opt, &cfg, &err) ||
        eta_net_attach(net, opt, "*.bias", &err))
        fail_msg("%s: %s", c->name, err.msg);
    size_t n_in = (size_t)c->B;
    for (int d = 0; d < c->ndim; d++)
        n_in *= (size_t)c->shape[d];
    size_t n_tgt = (size_t)c->B * (size_t)c->targets_per_item;
    bool ids = eta_net_input_type(net) == ETA_NN_INT32;
    void *x = malloc((ids ? sizeof(int32_t) : sizeof(float)) * n_in);
    int32_t *y = malloc(sizeof(int32_t) * n_tgt);
    assert_true(x && y);
    rng = 0x853c49e6748fea9bull; /* the same batches at every thread count */
    for (int s = 0; s < NET_STEPS; s++) {
        for (size_t i = 0; i < n_in; i++) {
            float u = uniform();
            if (ids)
                ((int32_t *)x)[i] = (int32_t)((u + 1.0f) * 0.5f * (float)(c->classes - 1));
            else
                ((float *)x)[i] = u;
        }
        for (size_t i = 0; i < n_tgt; i++)
            y[i] = (int32_t)((uniform() + 1.0f) * 0.5f * (float)(c->classes - 1));
        if (eta_net_forward(net, x, y, &loss[s]) || eta_net_backward(net) || eta_optim_step(opt))
            fail_msg("%s step %d: %s", c->name, s, eta_net_error(net));
    }
    const float *p = eta_net_params(net, np);
    float *copy = malloc(sizeof(float) * *np);
    assert_non_null(copy);
    memcpy(copy, p, sizeof(float) * *np);
    eta_optim_free(opt);
    eta_net_free(net);
    free(x);
    free(y);
    return copy;
}

static int check_nets(void)
{
    int bad = 0, saved = width();
    for (size_t i = 0; i < sizeof NETS / sizeof NETS[0]; i++) {
        const net_case *c = &NETS[i];
        double loss1[NET_STEPS], loss[NET_STEPS];
        size_t n1, n;
        float *p1 = train_at(c, 1, loss1, &n1);
        digest_add(p1, sizeof(float) * n1);
        digest_add(loss1, sizeof loss1);
        printf("net %s: digest %016llx\n", c->name, (unsigned long long)digest);
        for (int t = 2; t <= 3; t++) {
            float *p = train_at(c, t, loss, &n);
            if (n != n1 || memcmp(p, p1, sizeof(float) * n) != 0 || memcmp(loss, loss1, sizeof loss) != 0) {
                printf("DIFF net %s: other bits after %d AdamW steps at %d threads than at 1\n", c->name, NET_STEPS,
                       t);
                bad++;
            }
            free(p);
        }
        free(p1);
    }
    set_threads(saved);
    printf("nets: MLP, CNN, transformer at 1, 2 and 3 threads, %d differ\n", bad);
    return bad;
}

/* ---- the child: one family --------------------------------------------- */

static int child_main(const char *family)
{
    /* "native": whatever OpenBLAS picks for this CPU (tests/cpu_paths.sh) */
    const char *config = nn_blas_config();
    printf("config: %s\n", config);
    if (!strcmp(family, "builtin")) {
        if (nn_blas_path()) {
            printf("WRONG: the C GEMM was asked for\n");
            return 1;
        }
    } else if (!strcmp(family, "user")) {
        if (!strstr(config, "(openmp)") || strstr(config, "own pool")) {
            printf("no promise: this BLAS threads with its own pool\n");
            return SKIP_CHILD;
        }
    } else if (strcmp(family, "native") != 0) {
        /* "... Haswell kernels (...": the family OpenBLAS runs */
        char want[64];
        snprintf(want, sizeof want, " %s kernels", family);
        if (!strstr(config, want)) {
            printf("WRONG: OpenBLAS does not run the %s kernels\n", family);
            return 1;
        }
    }
    int bad = check_gemms() + check_nets();
    printf("digest: %016llx\n", (unsigned long long)digest);
    return bad ? 1 : 0;
}

/* ---- the parent: a child per family ------------------------------------ */

static char self[4096];

/* Runs `env -u ... vars self --family family`; prints its output. Returns
 * its exit status. OMP_WAIT_POLICY=passive: 3 threads on a 2-core machine
 * would otherwise spin against each other (no effect on the bits). */
static int run_family(const char *vars, const char *family)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE -u ETA_BLAS OMP_WAIT_POLICY=passive %s '%s' --family %s 2>&1", vars, self, family);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[1024];
    while (fgets(line, sizeof line, p))
        print_message("  [%s] %s", family, line);
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* One family, named by the test's state. */
static void test_family(void **state)
{
    const char *name = *state;
    const char *lacks = cpu_lacks(name);
    if (lacks) {
        print_message("%s: skipped, this CPU lacks %s\n", name, lacks);
        skip();
    }
    if (access("/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", R_OK) != 0)
        fail_msg("Debian's OpenBLAS (libopenblas0-openmp) is missing: ./bootstrap installs it");
    char vars[128];
    snprintf(vars, sizeof vars, "OPENBLAS_CORETYPE=%s", name);
    int st = run_family(vars, name);
    if (st != 0)
        fail_msg("%s kernels: exit status %d (see above)", name, st);
}

static void test_builtin(void **state)
{
    (void)state;
    int st = run_family("ETA_BLAS=builtin", "builtin");
    if (st != 0)
        fail_msg("C GEMM: exit status %d (see above)", st);
}

/* A BLAS the user names with ETA_BLAS: proven when it shares eta's OpenMP
 * pool, else skipped (no promise), never passed silently. */
static void test_user_blas(void **state)
{
    (void)state;
    const char *lib = getenv("ETA_BLAS");
    if (!lib || !*lib || !strcmp(lib, "builtin")) {
        print_message("no ETA_BLAS library named: nothing to prove\n");
        skip();
    }
    char vars[4200];
    snprintf(vars, sizeof vars, "'ETA_BLAS=%s'", lib);
    int st = run_family(vars, "user");
    if (st == SKIP_CHILD) {
        print_message("ETA_BLAS=%s threads GEMMs with its own pool: no same-bits promise\n", lib);
        skip();
    }
    if (st != 0)
        fail_msg("ETA_BLAS=%s: exit status %d (see above)", lib, st);
}

int main(int argc, char **argv)
{
    if (argc > 2 && !strcmp(argv[1], "--family")) {
        quick = argc > 3 && !strcmp(argv[3], "--quick");
        return child_main(argv[2]);
    }
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return 1;
    self[n] = '\0';
    static const char *const families[] = {"SkylakeX", "Cooperlake", "Haswell", "Zen", "Sandybridge", "Prescott"};
    struct CMUnitTest tests[8];
    for (int i = 0; i < 6; i++)
        tests[i] = (struct CMUnitTest){families[i], test_family, NULL, NULL, (void *)families[i]};
    tests[6] = (struct CMUnitTest)cmocka_unit_test(test_builtin);
    tests[7] = (struct CMUnitTest)cmocka_unit_test(test_user_blas);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
