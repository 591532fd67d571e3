/* nn/blas.c - GEMM for the nn layer: OpenBLAS's cblas_sgemm, loaded at run
 * time with kernels that match the CPU, and core's blocked C GEMM
 * (core/gemm.c) as fallback. cblas_dgemm, through the same parts, serves
 * the float64 matrix products eta_nn_gemm hands to the optimizer (Muon).
 *
 * Why at run time. OpenBLAS's DYNAMIC_ARCH builds (Debian's) pick their
 * kernels once, in the library's constructor, from cpuid or from the
 * environment variable OPENBLAS_CORETYPE. On CPUs newer than the build,
 * 0.3.21 falls back to its generic kernels: on a 2-core AVX-512 Xeon it ran
 * Prescott (SSE3) kernels at 32 GFLOP/s per core instead of 150 with
 * SkylakeX. A library linked at build time is loaded, and has chosen, before
 * any eta code runs. So eta does not link it: the first GEMM (or
 * nn_blas_config) dlopens it, once (pthread_once):
 *
 *  1. a BLAS the process already has (libopenblas.so.0 loaded by the
 *     application, or OpenBLAS in the global scope) is used as it is: its
 *     kernels were chosen before eta ran, and loading a second OpenBLAS would
 *     add a second thread pool. eta's GEMMs set its thread count for their
 *     own duration only. The config line says so, and names the kernels the
 *     CPU could run when its choice falls short.
 *  2. else eta loads Debian's OpenMP build (libopenblas0-openmp), then any
 *     libopenblas.so.0, and asks it which kernels it chose
 *     (openblas_get_corename). Only when that is below what the CPU runs
 *     (cpuid and XGETBV: AVX-512 F+DQ+BW+VL with the OS saving ZMM state, or
 *     AVX2+FMA) and OPENBLAS_CORETYPE is unset, eta unloads it, sets
 *     OPENBLAS_CORETYPE (SkylakeX, or Haswell / Zen), loads it again and
 *     unsets the variable at once: the environment afterwards is the one
 *     before. Where OpenBLAS gets it right (this machine's AMD EPYC, Zen 4:
 *     Cooperlake), eta changes nothing and loads it once. Core names eta does
 *     not know (a newer OpenBLAS) are trusted. Setting the variable from
 *     cpuid before a single load would be simpler, but would overrule
 *     choices OpenBLAS gets right and tunes better (Zen on AMD CPUs without
 *     AVX-512, newer cores of newer versions).
 *  3. a preset OPENBLAS_CORETYPE is never changed: on some machines it is set
 *     because old OpenBLAS builds compute wrong results on some CPUs. The
 *     config line reports it.
 *  4. ETA_BLAS=builtin runs the C fallback, ETA_BLAS=/path/lib.so loads that
 *     library instead (any CBLAS; openblas_* calls are used when present).
 *
 * setenv/unsetenv are not safe against another thread reading the
 * environment at the same moment; the window is the reload only, which
 * happens on mis-detecting machines only. A program with threads of its own
 * that read the environment calls nn_blas_config() before starting them.
 *
 * Threads. OpenBLAS's OpenMP build runs on eta's OpenMP pool (both libgomp),
 * follows omp_get_max_threads() and runs single-threaded inside a parallel
 * region, so eta's loops and the BLAS never run two pools at full width
 * (measured with PyTorch's pthread BLAS + OpenMP: 3x slower). With a separate
 * pool (the pthreads build, or another OpenMP runtime) GEMMs get 1 thread
 * unless nn_blas_set_threads says otherwise. How a product is cut into
 * parts for eta's threads, and why that keeps the bits at any thread
 * count: at nn_gemm_parts below.
 *
 * What does not live here: convolution lowering (conv.c), the kernels that
 * call it (linear.c, ...).
 */
#include "nn/blas.h"

#include <eta/nn.h>

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/gemm.h"
#include "core/parallel.h"

#ifdef ETA_HAVE_OPENMP
#include <omp.h>
#endif
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#define HAVE_CPUID 1
#endif

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 }; /* CBLAS enum values */
typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float, float *,
                         int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int, double,
                         double *, int);
typedef void (*any_fn)(void);

/* CPU levels and the OpenBLAS core types that use them. */
enum { LEVEL_OTHER = 1, LEVEL_AVX2 = 2, LEVEL_AVX512 = 3, LEVEL_UNKNOWN_CORE = 99 };

static struct {
    bool loaded;            /* a BLAS runs; else the fallback */
    bool before_eta;        /* the process had it before eta: its settings are put back after each GEMM */
    sgemm_fn sgemm;
    dgemm_fn dgemm;         /* NULL in a CBLAS without it: nn_dgemm runs the fallback */
    void (*set_threads)(int);
    int (*get_threads)(void);
    int parallel;           /* openblas_get_parallel(): 0 serial, 1 pthreads, 2 OpenMP; -1 unknown */
    bool shares_pool;       /* its threads are eta's OpenMP threads */
    int default_threads;    /* openblas_get_num_threads() at load */
    char path[512];         /* "" when the process had it before eta */
    char name[64];          /* "OpenBLAS 0.3.21" */
    char core[32];          /* "Cooperlake"; "" when unknown */
    char why[256];          /* how the kernels were chosen */
} blas;

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static atomic_int want_threads;    /* nn_blas_set_threads */
static atomic_int applied_threads; /* last value given to openblas_set_num_threads; 0: none */
static const char *test_detected;  /* nn_blas_test_detected_ */

/* ---- the CPU ---------------------------------------------------------- */

static int cpu_level(bool *amd)
{
    *amd = false;
#ifdef HAVE_CPUID
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d))
        return LEVEL_OTHER;
    unsigned max = a;
    *amd = b == 0x68747541u /* "AuthenticAMD" */ || b == 0x6f677948u /* "HygonGenuine" */;
    if (max < 7 || !__get_cpuid(1, &a, &b, &c, &d))
        return LEVEL_OTHER;
    bool fma = c >> 12 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1;
    if (!osxsave || !avx)
        return LEVEL_OTHER;
    unsigned xcr0, xcr0_hi;
    __asm__ volatile("xgetbv" : "=a"(xcr0), "=d"(xcr0_hi) : "c"(0));
    (void)xcr0_hi;
    __cpuid_count(7, 0, a, b, c, d);
    bool avx2 = b >> 5 & 1, f = b >> 16 & 1, dq = b >> 17 & 1, bw = b >> 30 & 1, vl = b >> 31 & 1;
    /* XCR0: SSE and AVX state (bits 1, 2), opmask and ZMM state (5, 6, 7). */
    if (f && dq && bw && vl && (xcr0 & 0xe6) == 0xe6)
        return LEVEL_AVX512;
    if (avx2 && fma && (xcr0 & 0x6) == 0x6)
        return LEVEL_AVX2;
#endif
    return LEVEL_OTHER;
}

/* The ISA level of an OpenBLAS core type (openblas_get_corename's names);
 * names eta does not know are trusted. */
static int core_level(const char *core)
{
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const avx2[] = {"Haswell", "Zen", "Excavator"};
    static const char *const older[] = {"Unknown",    "Katmai",    "Coppermine", "Northwood",  "Prescott",
                                        "Banias",     "Atom",      "Core2",      "Penryn",     "Dunnington",
                                        "Nehalem",    "Athlon",    "Opteron",    "Opteron_SSE3", "Barcelona",
                                        "Nano",       "Sandybridge", "Bobcat",   "Bulldozer",  "Piledriver",
                                        "Steamroller"};
    for (size_t i = 0; i < sizeof avx512 / sizeof *avx512; i++)
        if (!strcasecmp(core, avx512[i]))
            return LEVEL_AVX512;
    for (size_t i = 0; i < sizeof avx2 / sizeof *avx2; i++)
        if (!strcasecmp(core, avx2[i]))
            return LEVEL_AVX2;
    for (size_t i = 0; i < sizeof older / sizeof *older; i++)
        if (!strcasecmp(core, older[i]))
            return LEVEL_OTHER;
    return LEVEL_UNKNOWN_CORE;
}

/* The core type to ask for on a CPU of `level`. SkylakeX exists in every
 * OpenBLAS with AVX-512 kernels; Cooperlake and SapphireRapids add only
 * bfloat16 routines, so sgemm loses nothing. */
static const char *core_for(int level, bool amd)
{
    return level == LEVEL_AVX512 ? "SkylakeX" : level == LEVEL_AVX2 ? (amd ? "Zen" : "Haswell") : NULL;
}

/* ---- loading ---------------------------------------------------------- */

static any_fn sym(void *h, const char *name)
{
    void *p = dlsym(h, name);
    any_fn f = NULL;
    if (p)
        memcpy(&f, &p, sizeof f); /* POSIX: object and function pointers convert */
    return f;
}

static const char *call_str(void *h, const char *name)
{
    const char *(*f)(void) = (const char *(*)(void))sym(h, name);
    const char *s = f ? f() : NULL;
    return s ? s : "";
}

/* Reads what eta needs from an opened library; false without cblas_sgemm. */
static bool bind(void *h)
{
    blas.sgemm = (sgemm_fn)sym(h, "cblas_sgemm");
    if (!blas.sgemm)
        return false;
    blas.dgemm = (dgemm_fn)sym(h, "cblas_dgemm");
    blas.set_threads = (void (*)(int))sym(h, "openblas_set_num_threads");
    int (*get_parallel)(void) = (int (*)(void))sym(h, "openblas_get_parallel");
    blas.get_threads = (int (*)(void))sym(h, "openblas_get_num_threads");
    blas.parallel = get_parallel ? get_parallel() : -1;
    blas.default_threads = blas.get_threads ? blas.get_threads() : 0;
    /* "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..." -> "OpenBLAS 0.3.21" */
    const char *cfg = call_str(h, "openblas_get_config");
    int words = 0;
    size_t n = 0;
    while (cfg[n] && n + 1 < sizeof blas.name && !(cfg[n] == ' ' && ++words == 2))
        n++;
    if (n) {
        memcpy(blas.name, cfg, n);
        blas.name[n] = '\0';
    } else {
        snprintf(blas.name, sizeof blas.name, "CBLAS");
    }
    snprintf(blas.core, sizeof blas.core, "%s", call_str(h, "openblas_get_corename"));
    return true;
}

static bool is_loaded(const char *soname)
{
#ifdef RTLD_NOLOAD
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (h) {
        dlclose(h);
        return true;
    }
#else
    (void)soname;
#endif
    return false;
}

/* The OpenBLAS the process already has, if any. */
static void *already_loaded(void)
{
#ifdef RTLD_NOLOAD
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (h && bind(h))
        return h;
    if (h)
        dlclose(h);
#endif
    void *self = dlopen(NULL, RTLD_NOW);
    if (self && sym(self, "openblas_get_corename") && bind(self))
        return self;
    return NULL;
}

/* Unloads h and loads `path` again with OPENBLAS_CORETYPE=core for the
 * duration of dlopen. Returns the new handle, or the old library when it
 * could not be unloaded (something else holds it). */
static void *reload(void *h, const char *path, const char *core)
{
    dlclose(h);
#ifdef RTLD_NOLOAD
    void *still = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (still)
        return still;
#endif
    void *again = NULL;
    if (setenv("OPENBLAS_CORETYPE", core, 1) == 0) {
        again = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        unsetenv("OPENBLAS_CORETYPE");
    }
    return again ? again : dlopen(path, RTLD_NOW | RTLD_LOCAL);
}

static void use_builtin(const char *why)
{
    memset(&blas, 0, sizeof blas);
    snprintf(blas.why, sizeof blas.why, "%s", why);
}

static void init(void)
{
    const char *preset = getenv("OPENBLAS_CORETYPE");
    const char *choice = getenv("ETA_BLAS");
    bool amd;
    int cpu = cpu_level(&amd);
    const char *best = core_for(cpu, amd);
    /* eta's OpenMP is libgomp when libgomp is in the process before OpenBLAS brings its own. */
    bool gomp_before = is_loaded("libgomp.so.1");

    if (choice && !strcmp(choice, "builtin")) {
        use_builtin("ETA_BLAS=builtin");
        return;
    }
    void *h = NULL;
    bool before_eta = false;
    if (!choice || !*choice) {
        h = already_loaded();
        before_eta = h != NULL;
    }
    if (!h) {
        static const char *const paths[] = {
#if defined(__linux__) && defined(__x86_64__)
            "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0", /* Debian, Ubuntu */
#elif defined(__linux__) && defined(__aarch64__)
            "/usr/lib/aarch64-linux-gnu/openblas-openmp/libopenblas.so.0",
#endif
            "libopenblaso.so.0", /* Fedora's OpenMP build */
            "libopenblas.so.0",
        };
        const char *one[] = {choice};
        const char *const *list = choice && *choice ? one : paths;
        size_t n = choice && *choice ? 1 : sizeof paths / sizeof *paths;
        for (size_t i = 0; i < n && !h; i++) {
            h = dlopen(list[i], RTLD_NOW | RTLD_LOCAL);
            if (h && !bind(h)) {
                dlclose(h);
                h = NULL;
            }
            if (h)
                snprintf(blas.path, sizeof blas.path, "%s", list[i]);
        }
        if (!h) {
            use_builtin(choice && *choice ? "ETA_BLAS names no loadable CBLAS" :
                                            "no OpenBLAS found: install libopenblas0-openmp");
            return;
        }
    }

    const char *detected = test_detected ? test_detected : blas.core;
    int level = blas.core[0] ? core_level(detected) : LEVEL_UNKNOWN_CORE;
    if (before_eta) {
        if (preset)
            snprintf(blas.why, sizeof blas.why, "loaded by the process before eta, OPENBLAS_CORETYPE=%s", preset);
        else if (level < cpu)
            snprintf(blas.why, sizeof blas.why,
                     "loaded by the process before eta; this CPU runs %s: start with OPENBLAS_CORETYPE=%s", best,
                     best);
        else
            snprintf(blas.why, sizeof blas.why, "loaded by the process before eta");
    } else if (preset) {
        snprintf(blas.why, sizeof blas.why, "OPENBLAS_CORETYPE=%s, kept%s%s", preset,
                 level < cpu ? "; this CPU runs " : "", level < cpu ? best : "");
    } else if (level < cpu) {
        char was[32];
        snprintf(was, sizeof was, "%s", detected);
        char path[sizeof blas.path];
        snprintf(path, sizeof path, "%s", blas.path);
        h = reload(h, path, best);
        if (!h || !bind(h)) {
            if (h)
                dlclose(h);
            use_builtin("OpenBLAS failed to load again");
            return;
        }
        snprintf(blas.path, sizeof blas.path, "%s", path);
        if (core_level(blas.core) >= cpu)
            snprintf(blas.why, sizeof blas.why, "set by eta: OpenBLAS alone chose %s%s on this %s CPU", was,
                     test_detected ? " (as a test pretends)" : "", cpu == LEVEL_AVX512 ? "AVX-512" : "AVX2");
        else
            snprintf(blas.why, sizeof blas.why, "eta asked for %s but could not reload OpenBLAS", best);
    } else {
        snprintf(blas.why, sizeof blas.why, "OpenBLAS's own choice");
    }
    blas.loaded = true;
    blas.before_eta = before_eta;
    /* The OpenMP build shares eta's pool when both use libgomp; without
     * OpenMP in eta there is no pool to share and no one to collide with. */
#ifdef ETA_HAVE_OPENMP
    blas.shares_pool = blas.parallel == 2 && gomp_before;
#else
    (void)gomp_before;
    blas.shares_pool = true;
#endif
}

static void ensure_init(void)
{
    pthread_once(&blas_once, init);
}

/* ---- threads ---------------------------------------------------------- */

static int omp_width(void)
{
#ifdef ETA_HAVE_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* The threads a GEMM gets from the current thread, outside parallel regions. */
static int gemm_threads(void)
{
    int n = atomic_load(&want_threads);
    if (!blas.loaded)
        return n > 0 ? n : omp_width();
    if (blas.parallel == 0)
        return 1;
    if (n > 0)
        return n;
    if (blas.shares_pool)
#ifdef ETA_HAVE_OPENMP
        return omp_get_max_threads();
#else
        return blas.default_threads > 0 ? blas.default_threads : 1;
#endif
    return 1;
}

static void set_blas_threads(int n)
{
    if (blas.set_threads && atomic_load(&applied_threads) != n) {
        blas.set_threads(n);
        atomic_store(&applied_threads, n);
    }
}

void nn_blas_set_threads(int n)
{
    atomic_store(&want_threads, n > 0 ? n : 0);
}

const char *nn_blas_config(void)
{
    static _Thread_local char buf[512];
    ensure_init();
    int t = gemm_threads();
    if (!blas.loaded) {
        snprintf(buf, sizeof buf, "builtin C sgemm (%s), %d thread%s", blas.why, t, t == 1 ? "" : "s");
        return buf;
    }
    const char *par = blas.parallel == 2 ? " (openmp)" : blas.parallel == 1 ? " (pthreads)" :
                      blas.parallel == 0 ? " (serial)" : "";
    char threads[64];
    if (blas.set_threads || blas.parallel == 0)
        snprintf(threads, sizeof threads, "%d thread%s%s", t, t == 1 ? "" : "s",
                 !blas.shares_pool && blas.parallel > 0 && atomic_load(&want_threads) == 0 ?
                         " (own pool: eta's OpenMP keeps the cores)" : "");
    else
        snprintf(threads, sizeof threads, "the library's own threads");
    snprintf(buf, sizeof buf, "%s%s %s%s(%s), %s", blas.name, par, blas.core, blas.core[0] ? " kernels " : "",
             blas.why, threads);
    return buf;
}

const char *nn_blas_path(void)
{
    ensure_init();
    return blas.loaded ? blas.path : NULL;
}

void nn_blas_test_detected_(const char *name)
{
    test_detected = name;
}

/* ---- GEMM ------------------------------------------------------------- */

/* The same bits at any thread count. OpenBLAS's single-threaded kernels
 * give each element of C bits that depend on the call's whole shape, not
 * only on the element's row, column and K: a call on half of C's rows
 * gives other bits than the whole call for the Haswell and Zen kernels (on
 * every split tried, even at multiples of 64), and for SkylakeX,
 * Cooperlake and Prescott at some cuts (a third of 97 rows, 1-row parts),
 * where other micro-kernels take over; Sandybridge's kept the bits at
 * every cut tried. So no split
 * that follows the thread count can keep the bits. What eta does instead:
 * the parts of a product are fixed by its shape alone (nn_gemm_parts), every
 * part is one single-threaded OpenBLAS call, and threads only decide which
 * thread runs which part. 1, 2 or 3 threads make exactly the same calls
 * with the same arguments, and a single-threaded call is deterministic, so
 * the bits cannot differ, whatever the kernels. Inside a parallel region
 * of the caller (active or not: omp_get_level, which depends on the code's
 * structure, not on the thread count) a product is one whole call on the
 * calling thread. tests/test_nn_bits.c proves it for every kernel family
 * the CPU can run.
 *
 * The price is paid at 1 thread: each extra part packs the operand all
 * parts share once more, a cost of about (parts - 1) * 15 / dim of the
 * product (dim: the rows or columns of C being cut; measured with the
 * Cooperlake kernels, less with slower ones). So a product gets a part per
 * PART_MNK multiply-adds, at most 1 + dim / PART_DIM of them (a few per
 * cent at 1 thread), at most PART_MAX, and a power of two, so that 2, 4 and
 * 8 threads share them evenly (3 threads on 4 parts run 2, 1, 1). */
enum { PART_MNK = 1 << 21, PART_DIM = 128, PART_MAX = 8, PART_ALIGN = 16 };

int nn_gemm_parts(int M, int N, int K)
{
    const int dim = M >= N ? M : N;
    const double mnk = (double)M * N * K;
    int parts = 1;
    while (parts < PART_MAX && mnk >= (double)PART_MNK * parts * 2 && parts * 2 <= 1 + dim / PART_DIM)
        parts *= 2;
    return parts;
}

/* Part p of `parts` along a dimension of D: [lo, hi), bounds at multiples
 * of PART_ALIGN (the kernels' register blocks) where D allows. */
static void part_range(int D, int parts, int p, int *lo, int *hi)
{
    int unit = D >= PART_ALIGN * parts ? PART_ALIGN : 1, units = D / unit;
    *lo = (int)((int64_t)units * p / parts) * unit;
    *hi = p + 1 == parts ? D : (int)((int64_t)units * (p + 1) / parts) * unit;
}

/* One product in either precision: the arguments of a CBLAS call, alpha
 * and beta widened to double (exact for float). */
typedef struct gemm_call {
    bool dbl, ta, tb;
    int opa, opb, M, N, K, lda, ldb, ldc;
    double alpha, beta;
    const char *A, *B;
    char *C;
} gemm_call;

/* The CBLAS call on an M x N block of C whose operands start at A, B, C. */
static void blas_call(const gemm_call *g, int M, int N, const char *A, const char *B, char *C)
{
    if (g->dbl)
        blas.dgemm(ROW_MAJOR, g->opa, g->opb, M, N, g->K, g->alpha, (const double *)(const void *)A, g->lda,
                   (const double *)(const void *)B, g->ldb, g->beta, (double *)(void *)C, g->ldc);
    else
        blas.sgemm(ROW_MAJOR, g->opa, g->opb, M, N, g->K, (float)g->alpha, (const float *)(const void *)A, g->lda,
                   (const float *)(const void *)B, g->ldb, (float)g->beta, (float *)(void *)C, g->ldc);
}

static void gemm_part(const gemm_call *g, int parts, int p)
{
    const size_t es = g->dbl ? sizeof(double) : sizeof(float);
    int lo, hi;
    if (g->M >= g->N) { /* rows of C */
        part_range(g->M, parts, p, &lo, &hi);
        blas_call(g, hi - lo, g->N, g->ta ? g->A + lo * es : g->A + (size_t)lo * (size_t)g->lda * es, g->B,
                  g->C + (size_t)lo * (size_t)g->ldc * es);
    } else { /* columns of C */
        part_range(g->N, parts, p, &lo, &hi);
        blas_call(g, g->M, hi - lo, g->A, g->tb ? g->B + (size_t)lo * (size_t)g->ldb * es : g->B + lo * es,
                  g->C + lo * es);
    }
}

/* A product through the loaded BLAS, cut into parts as described above. */
static void gemm_run(const gemm_call *g)
{
    const int M = g->M, N = g->N, K = g->K;
#ifdef ETA_HAVE_OPENMP
    if (blas.shares_pool) {
        if (omp_in_parallel()) { /* an active region: OpenBLAS runs on this thread only */
            blas_call(g, M, N, g->A, g->B, g->C);
            return;
        }
        const bool nested = omp_get_level() > 0;
        const int parts = nested ? 1 : nn_gemm_parts(M, N, K);
        int t = nested ? 1 : gemm_threads();
        if (t > parts)
            t = parts;
        if (t > 1) {
            /* Each part in an active region: single-threaded. Should the
             * runtime give this region fewer threads, the parts still run
             * one by one, each whole on its thread. */
            int done = 0;
#pragma omp parallel num_threads(t) reduction(+ : done)
            if (omp_in_parallel()) {
#pragma omp for schedule(static)
                for (int p = 0; p < parts; p++) {
                    gemm_part(g, parts, p);
                    done++;
                }
            }
            if (done == parts)
                return;
        }
        /* On this thread alone. OpenBLAS-OpenMP follows omp_get_max_threads()
         * outside active regions, except that a count of 1, once set,
         * sticks. openblas_set_num_threads also sets the calling thread's
         * OpenMP width, which eta's loops use: it is put back afterwards. */
        int prev = omp_get_max_threads();
        if (blas.set_threads && (prev != 1 || atomic_load(&applied_threads) != 1))
            blas.set_threads(1);
        for (int p = 0; p < parts; p++)
            gemm_part(g, parts, p);
        if (blas.set_threads && prev != 1)
            blas.set_threads(prev);
        if (omp_get_max_threads() != prev)
            omp_set_num_threads(prev);
        atomic_store(&applied_threads, prev);
        return;
    }
#endif
    int want = gemm_threads();
    if (blas.before_eta && blas.set_threads && blas.get_threads) {
        /* The application's pool, the application's setting: changed for
         * this GEMM only. */
        int prev = blas.get_threads();
        if (prev != want)
            blas.set_threads(want);
        blas_call(g, M, N, g->A, g->B, g->C);
        if (prev != want)
            blas.set_threads(prev);
        return;
    }
    set_blas_threads(want);
    blas_call(g, M, N, g->A, g->B, g->C);
}

void nn_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B, int ldb,
              float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    ensure_init();
    if (!blas.loaded || K <= 0) { /* K == 0: CBLAS would reject lda = 0 */
        nn_sgemm_builtin(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_call g = {false, ta, tb, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, M, N, K, lda, ldb, ldc,
                   alpha, beta, (const char *)A, (const char *)B, (char *)C};
    gemm_run(&g);
}

void nn_dgemm(bool ta, bool tb, int M, int N, int K, double alpha, const double *A, int lda, const double *B,
              int ldb, double beta, double *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    ensure_init();
    if (!blas.loaded || !blas.dgemm || K <= 0) {
        eta_gemm_builtin_double(atomic_load(&want_threads), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    gemm_call g = {true, ta, tb, ta ? TRANS : NO_TRANS, tb ? TRANS : NO_TRANS, M, N, K, lda, ldb, ldc,
                   alpha, beta, (const char *)A, (const char *)B, (char *)C};
    gemm_run(&g);
}

/* The fallback is core's blocked C GEMM (core/gemm.c). */
void nn_sgemm_builtin(bool ta, bool tb, int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                      int ldb, float beta, float *C, int ldc)
{
    eta_gemm_builtin_float(atomic_load(&want_threads), ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

eta_gemm eta_nn_gemm(void)
{
    return (eta_gemm){nn_sgemm, nn_dgemm};
}
