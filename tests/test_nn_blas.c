/* test_nn_blas.c - the nn layer's GEMM (nn/blas.h): results and how the BLAS is loaded. labels: unit full
 *
 * nn_sgemm and the C fallback against a double-precision reference: all four
 * transpose combinations, sizes 1, 3, 17, 129 and larger, row strides wider
 * than the rows (the padding holds NaN, which must not leak in, and C's
 * padding must stay untouched), alpha/beta including beta = 0 over NaN (BLAS
 * ignores C then) and beta = 1 (accumulate). Tolerance: any summation order
 * of K float products, plus the roundings of alpha, beta and the final add,
 * stays within (K + 3) u sum_p |alpha a_ip b_pj| + |beta c_ij| (Higham,
 * Accuracy and Stability, 2nd ed., section 3.1), u = 2^-24; a wrong kernel is
 * off by O(1). How it loads: the environment is the same after loading, an
 * OPENBLAS_CORETYPE set before start is kept and reported (child process),
 * the reload path sets the best kernels and restores the environment (child
 * process pretending OpenBLAS mis-detected the CPU), ETA_BLAS=builtin, and
 * that on an AVX-512 CPU the kernels in use are AVX-512 ones. Tests never set
 * OPENBLAS_CORETYPE for themselves; only the child of one test has it.
 */
#include "harness.h"

#include <stdbool.h>

#include "nn/blas.h"

#ifdef _OPENMP
#include <omp.h>
#endif

extern char **environ;

typedef void (*gemm_fn)(bool, bool, int, int, int, float, const float *, int, const float *, int, float, float *, int);

/* ---- the environment, as it was when main started ---------------------- */

static char *env_saved[4096];
static int env_nsaved = -1;

static void env_save(void)
{
    env_nsaved = 0;
    for (char **e = environ; *e && env_nsaved < 4096; e++)
        env_saved[env_nsaved++] = strdup(*e);
}

/* NULL when the environment is as saved, else the first difference. */
static const char *env_diff(void)
{
    static char msg[256];
    int n = 0;
    for (char **e = environ; *e; e++, n++) {
        if (n >= env_nsaved || strcmp(*e, env_saved[n]) != 0) {
            snprintf(msg, sizeof msg, "entry %d is now <%.100s>, was <%.100s>", n, *e,
                     n < env_nsaved ? env_saved[n] : "(none)");
            return msg;
        }
    }
    if (n != env_nsaved) {
        snprintf(msg, sizeof msg, "%d entries now, %d before", n, env_nsaved);
        return msg;
    }
    return NULL;
}

/* ---- reference and checks ---------------------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static float uniform(void) /* in [-1, 1) */
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(rng >> 40) / (double)(1ull << 23) - 1.0);
}

/* Fills a rows x cols matrix with row stride ld: values, and NaN in the padding. */
static float *matrix(int rows, int cols, int ld)
{
    float *m = malloc(sizeof(float) * (size_t)rows * (size_t)ld + sizeof(float));
    assert_non_null(m);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < ld; j++)
            m[(size_t)i * ld + j] = j < cols ? uniform() : NAN;
    return m;
}

/* Runs gemm once and checks every element of C and C's padding. */
static void check_one(const char *what, gemm_fn gemm, bool ta, bool tb, int M, int N, int K, int pad, float alpha,
                      float beta)
{
    int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
    if (lda < 1)
        lda = 1;
    if (ldb < 1)
        ldb = 1;
    float *A = matrix(ta ? K : M, ta ? M : K, lda);
    float *B = matrix(tb ? N : K, tb ? K : N, ldb);
    float *C = matrix(M, N, ldc), *C0 = malloc(sizeof(float) * (size_t)M * (size_t)ldc);
    assert_non_null(C0);
    const float sentinel = 12345.0f;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            float *c = &C[(size_t)i * ldc + j];
            *c = j >= N ? sentinel : beta == 0.0f ? NAN : *c;
        }
    memcpy(C0, C, sizeof(float) * (size_t)M * (size_t)ldc);
    gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    const double u = 0x1.0p-24;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < ldc; j++) {
            double got = C[(size_t)i * ldc + j];
            if (j >= N) {
                if (got != sentinel)
                    fail_msg("%s ta=%d tb=%d %dx%dx%d: C's padding at (%d, %d) changed to %g", what, ta, tb, M, N, K,
                             i, j, got);
                continue;
            }
            double s = 0, abs_s = 0;
            for (int p = 0; p < K; p++) {
                double a = ta ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                double b = tb ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                s += a * b;
                abs_s += fabs(a * b);
            }
            double c0 = beta == 0.0f ? 0 : C0[(size_t)i * ldc + j];
            double want = alpha * s + beta * c0;
            double bound = (K + 3) * u * (fabs((double)alpha) * abs_s + fabs(beta * c0));
            if (!(fabs(got - want) <= bound))
                fail_msg("%s ta=%d tb=%d M=%d N=%d K=%d pad=%d alpha=%g beta=%g: C(%d, %d) = %.9g, want %.9g "
                         "(error %.3g > bound %.3g)",
                         what, ta, tb, M, N, K, pad, alpha, beta, i, j, got, want, fabs(got - want), bound);
        }
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

static void check_all(const char *what, gemm_fn gemm)
{
    static const int sizes[] = {1, 3, 17, 129};
    static const float ab[][2] = {{1.0f, 0.0f}, {1.0f, 1.0f}, {-0.5f, 2.5f}};
    int n = 0;
    for (int t = 0; t < 4; t++)
        for (int m = 0; m < 4; m++)
            for (int nn = 0; nn < 4; nn++)
                for (int k = 0; k < 4; k++, n++)
                    check_one(what, gemm, t & 1, t >> 1, sizes[m], sizes[nn], sizes[k], n % 3 == 0 ? 0 : 5,
                              ab[n % 3][0], ab[n % 3][1]);
    /* Large enough for threads and for several blocks of every dimension. */
    for (int t = 0; t < 4; t++)
        for (int i = 0; i < 3; i++)
            check_one(what, gemm, t & 1, t >> 1, 300, 257, 513, 7, ab[i][0], ab[i][1]);
}

static void test_sgemm_against_double(void **state)
{
    (void)state;
    check_all("nn_sgemm", nn_sgemm);
}

static void test_builtin_against_double(void **state)
{
    (void)state;
    check_all("nn_sgemm_builtin", nn_sgemm_builtin);
}

/* Exact cases, and the edges BLAS defines: K = 0 scales C, beta = 0 ignores NaN. */
static void test_exact_and_edges(void **state)
{
    (void)state;
    gemm_fn fns[] = {nn_sgemm, nn_sgemm_builtin};
    for (int f = 0; f < 2; f++) {
        const float A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8};
        float C[] = {NAN, NAN, NAN, NAN};
        fns[f](false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
        assert_true(C[0] == 19 && C[1] == 22 && C[2] == 43 && C[3] == 50);
        fns[f](false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 1.0f, C, 2); /* accumulates */
        assert_true(C[0] == 38 && C[1] == 44 && C[2] == 86 && C[3] == 100);
        fns[f](true, true, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2); /* A^T B^T = (B A)^T */
        assert_true(C[0] == 23 && C[1] == 31 && C[2] == 34 && C[3] == 46);
        fns[f](false, false, 2, 2, 0, 1.0f, A, 1, B, 2, 0.5f, C, 2); /* K = 0: C = beta C */
        assert_true(C[0] == 11.5f && C[1] == 15.5f && C[2] == 17 && C[3] == 23);
        float D[] = {NAN, NAN};
        fns[f](false, false, 1, 2, 0, 1.0f, A, 1, B, 2, 0.0f, D, 2);
        assert_true(D[0] == 0 && D[1] == 0);
        fns[f](false, false, 0, 2, 2, 1.0f, A, 2, B, 2, 0.0f, D, 2); /* M = 0: nothing */
        assert_true(D[0] == 0 && D[1] == 0);
    }
}

/* ---- loading ------------------------------------------------------------ */

static void test_environment_unchanged(void **state)
{
    (void)state;
    const char *config = nn_blas_config();
    print_message("nn_blas_config: %s\n", config);
    const char *d = env_diff();
    if (d)
        fail_msg("the environment changed while the BLAS loaded: %s", d);
}

static bool cpu_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
    return false;
#endif
}

static bool cpu_avx2(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

static bool has_avx512_core(const char *config)
{
    return strstr(config, "SkylakeX kernels") || strstr(config, "Cooperlake kernels") ||
           strstr(config, "SapphireRapids kernels");
}

/* With OPENBLAS_CORETYPE unset, the kernels in use are AVX-512 ones on an
 * AVX-512 CPU, from Debian's OpenMP build when it is installed. */
static void test_best_kernels(void **state)
{
    (void)state;
    const char *config = nn_blas_config();
    if (getenv("ETA_BLAS"))
        skip();
    if (!nn_blas_path())
        fail_msg("no BLAS loaded (%s): bootstrap installs libopenblas0-openmp", config);
    if (!nn_blas_path()[0] || getenv("OPENBLAS_CORETYPE"))
        skip(); /* the process's own OpenBLAS, or the user's choice */
    if (cpu_avx512() && !has_avx512_core(config))
        fail_msg("AVX-512 CPU, but: %s", config);
    if (access("/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", R_OK) == 0 &&
        !strstr(config, "(openmp)"))
        fail_msg("Debian's OpenMP build is installed, but: %s", config);
}

/* nn_blas_set_threads shows in the config, and a GEMM leaves the caller's
 * OpenMP width as it was. The fallback gives the same bits at 1 and 2
 * threads, and so does OpenBLAS's OpenMP build through eta's fixed splits
 * (see same_bits_any_threads). */
static void test_threads(void **state)
{
    (void)state;
    int M = 256, N = 256, K = 256;
    float *A = matrix(M, K, K), *B = matrix(K, N, N), *C1 = matrix(M, N, N), *C2 = matrix(M, N, N);
#ifdef _OPENMP
    int width = omp_get_max_threads();
#endif
    nn_blas_set_threads(1);
    if (!strstr(nn_blas_config(), " 1 thread"))
        fail_msg("after nn_blas_set_threads(1): %s", nn_blas_config());
    nn_sgemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
#ifdef _OPENMP
    assert_int_equal(omp_get_max_threads(), width);
#endif
    nn_blas_set_threads(2);
    if (nn_blas_path() && !strstr(nn_blas_config(), " 2 threads"))
        fail_msg("after nn_blas_set_threads(2): %s", nn_blas_config());
    nn_sgemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, C2, N);
#ifdef _OPENMP
    assert_int_equal(omp_get_max_threads(), width);
#endif
    if (strstr(nn_blas_config(), "(openmp)"))
        assert_memory_equal(C1, C2, sizeof(float) * (size_t)M * N);
    else if (memcmp(C1, C2, sizeof(float) * (size_t)M * N) != 0)
        print_message("note: this BLAS gives other bits at 1 and 2 threads\n");
    nn_blas_set_threads(1);
    nn_sgemm_builtin(false, true, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
    nn_blas_set_threads(2);
    nn_sgemm_builtin(false, true, M, N, K, 1.0f, A, K, B, N, 0.0f, C2, N);
    assert_memory_equal(C1, C2, sizeof(float) * (size_t)M * N);
    nn_blas_set_threads(0);
    free(A);
    free(B);
    free(C1);
    free(C2);
}

/* With OpenBLAS's OpenMP build, a GEMM on 2 or 3 threads runs as fixed
 * single-threaded parts of C (blas.c) and gives the bits of 1 thread: the
 * benchmark MLP's products in every transposition, tall and wide shapes
 * split by rows or columns into uneven parts, and products too small to
 * split. (Other BLAS builds thread themselves: only a note.) */
static void test_same_bits_any_threads(void **state)
{
    (void)state;
    static const int shapes[][5] = {/* ta, tb, M, N, K */
                                    {0, 1, 128, 256, 784}, {1, 0, 256, 784, 128}, {0, 0, 128, 784, 256},
                                    {0, 1, 2048, 384, 128}, {1, 0, 384, 128, 2048}, {0, 0, 301, 203, 97},
                                    {1, 1, 7, 1001, 513},   {0, 1, 128, 10, 128},   {0, 0, 33, 17, 5}};
    bool openmp = strstr(nn_blas_config(), "(openmp)") != NULL;
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        int ta = shapes[c][0], tb = shapes[c][1], M = shapes[c][2], N = shapes[c][3], K = shapes[c][4];
        int lda = ta ? M : K, ldb = tb ? K : N;
        float *A = matrix(ta ? K : M, lda, lda), *B = matrix(tb ? N : K, ldb, ldb);
        float *C[3] = {matrix(M, N, N), matrix(M, N, N), matrix(M, N, N)};
        memcpy(C[1], C[0], sizeof(float) * (size_t)M * N); /* the same C to scale by beta */
        memcpy(C[2], C[0], sizeof(float) * (size_t)M * N);
        for (int t = 0; t < 3; t++) {
            nn_blas_set_threads(t + 1);
            nn_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.5f, C[t], N);
        }
        nn_blas_set_threads(0);
        for (int t = 1; t < 3; t++)
            if (memcmp(C[0], C[t], sizeof(float) * (size_t)M * N) != 0) {
                if (openmp)
                    fail_msg("%dx%dx%d (ta %d, tb %d): other bits at %d threads than at 1", M, N, K, ta, tb, t + 1);
                print_message("note: this BLAS gives other bits at 1 and %d threads\n", t + 1);
            }
        for (int t = 0; t < 3; t++)
            free(C[t]);
        free(A);
        free(B);
    }
}

/* Two threads of an OpenMP region each run their own GEMM (OpenBLAS then
 * runs each on its calling thread); both give the bits of the same GEMM in
 * a region of one thread. (At the top level the product is cut into fixed
 * parts instead, blas.c: a call's place in the code, not the thread count,
 * decides which.) */
static void test_inside_parallel_region(void **state)
{
    (void)state;
    int M = 200, N = 150, K = 300;
    float *A = matrix(M, K, K), *B = matrix(K, N, N), *want = matrix(M, N, N);
    float *got[2] = {matrix(M, N, N), matrix(M, N, N)};
#ifdef _OPENMP
#pragma omp parallel num_threads(1)
#endif
    nn_sgemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, want, N);
#ifdef _OPENMP
#pragma omp parallel for num_threads(2)
#endif
    for (int t = 0; t < 2; t++)
        nn_sgemm(false, false, M, N, K, 1.0f, A, K, B, N, 0.0f, got[t], N);
    for (int t = 0; t < 2; t++) {
        assert_memory_equal(got[t], want, sizeof(float) * (size_t)M * N);
        free(got[t]);
    }
    free(A);
    free(B);
    free(want);
}

/* Runs this test program as a child: `env -u OPENBLAS_CORETYPE vars self
 * --child args`; returns its output (malloc'd). */
static char *run_child(const char *vars, const char *args)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE -u ETA_BLAS %s '%s' --child %s 2>&1", vars, self, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    while (len + 1 < cap && (n = (ssize_t)fread(out + len, 1, cap - 1 - len, p)) > 0)
        len += (size_t)n;
    out[len] = '\0';
    int st = pclose(p);
    if (st != 0)
        fail_msg("child `%s` exited with status %d:\n%s", cmd, st, out);
    return out;
}

static void expect(const char *out, const char *text)
{
    if (!strstr(out, text))
        fail_msg("child output lacks <%s>:\n%s", text, out);
}

/* What a child reports: its config line, whether its environment is as it
 * was at start, OPENBLAS_CORETYPE, and an exact 2x2 product. */
static int child_main(int argc, char **argv)
{
    if (argc > 3 && !strcmp(argv[2], "pretend"))
        nn_blas_test_detected_(argv[3]);
    const char *config = nn_blas_config();
    const char *d = env_diff();
    const char *ct = getenv("OPENBLAS_CORETYPE");
    const float A[] = {1, 2, 3, 4}, B[] = {5, 6, 7, 8};
    float C[4];
    nn_sgemm(false, false, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    bool ok = C[0] == 19 && C[1] == 22 && C[2] == 43 && C[3] == 50;
    printf("config: %s\nenv: %s\nOPENBLAS_CORETYPE: %s\ngemm: %s\n", config, d ? d : "same", ct ? ct : "(unset)",
           ok ? "ok" : "wrong");
    return ok && !d ? 0 : 1;
}

/* A value set before the process starts is kept, used and reported. */
static void test_preset_coretype_respected(void **state)
{
    (void)state;
    if (!nn_blas_path() || !nn_blas_path()[0] || !cpu_avx2())
        skip();
    char *out = run_child("OPENBLAS_CORETYPE=Haswell", "config");
    expect(out, "Haswell kernels (OPENBLAS_CORETYPE=Haswell, kept");
    expect(out, "env: same");
    expect(out, "OPENBLAS_CORETYPE: Haswell");
    expect(out, "gemm: ok");
    free(out);
}

/* Where OpenBLAS chooses kernels below the CPU's, eta reloads it with the
 * best ones and leaves no trace in the environment. */
static void test_reload_when_misdetected(void **state)
{
    (void)state;
    if (!nn_blas_path() || !nn_blas_path()[0] || !cpu_avx2())
        skip();
    char *out = run_child("", "pretend Prescott");
    expect(out, cpu_avx512() ? "SkylakeX kernels (set by eta: OpenBLAS alone chose Prescott" :
                               " kernels (set by eta: OpenBLAS alone chose Prescott");
    expect(out, "env: same");
    expect(out, "OPENBLAS_CORETYPE: (unset)");
    expect(out, "gemm: ok");
    free(out);
    /* A core eta does not know is trusted. */
    out = run_child("", "pretend FutureCore");
    expect(out, "(OpenBLAS's own choice)");
    free(out);
}

static void test_builtin_by_env(void **state)
{
    (void)state;
    char *out = run_child("ETA_BLAS=builtin", "config");
    expect(out, "config: builtin C sgemm (ETA_BLAS=builtin)");
    expect(out, "gemm: ok");
    free(out);
}

int main(int argc, char **argv)
{
    env_save();
    if (argc > 2 && !strcmp(argv[1], "--child"))
        return child_main(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_environment_unchanged), /* first: it sees the first load */
        cmocka_unit_test(test_best_kernels),
        cmocka_unit_test(test_exact_and_edges),
        cmocka_unit_test(test_sgemm_against_double),
        cmocka_unit_test(test_builtin_against_double),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_same_bits_any_threads),
        cmocka_unit_test(test_inside_parallel_region),
        cmocka_unit_test(test_preset_coretype_respected),
        cmocka_unit_test(test_reload_when_misdetected),
        cmocka_unit_test(test_builtin_by_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
