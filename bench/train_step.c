/* bench/train_step.c - the time of one training step (forward with the
 * loss, backward, AdamW step) of eta networks, and the peak memory of the
 * process that runs it. bench/compare_train.py runs it next to the same
 * models in PyTorch and prints the ratios.
 *
 * Models (the three, batch first):
 *   mlp          Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(),
 *                Linear(128, 10)), batch 128 of 784 floats, CrossEntropyLoss
 *   cnn          Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2),
 *                Conv2d(32, 64, 5, padding=2), ReLU(), MaxPool2d(2), Flatten(),
 *                Linear(3136, 128), ReLU(), Linear(128, 10)), batch 128 of
 *                1x28x28, CrossEntropyLoss
 *   transformer  Sequential(Embedding(256, 128), PositionalEmbedding(64, 128),
 *                TransformerBlock(128, 4, causal=True) x 2, LayerNorm(128),
 *                Linear(128, 256)), batch 32 of 64 token ids, CrossEntropyLoss
 *                over all positions (next-token targets)
 * The optimizer is AdamW() (lr 1e-3, weight_decay 0.01 on every parameter,
 * as torch.optim.AdamW(model.parameters())). Inputs are fixed random data:
 * the same batch every step, so the loss falls as it trains. As in torch,
 * no gradient is computed for the input (eta_net_set_input_grad).
 *
 * Each (model, threads) runs in a fresh child process (this program started
 * again with --one), so that its peak resident memory (VmHWM of
 * /proc/self/status) is its own. Threads: the public API has no BLAS thread
 * setting (eta's GEMMs follow OpenMP's width when OpenBLAS shares eta's
 * OpenMP pool, nn/blas.c), so the child gets OMP_NUM_THREADS=t and
 * OPENBLAS_NUM_THREADS=t in its environment; the optimizer gets
 * eta_optim_config.threads = t.
 *
 * Timing as in optim_step.c: a warm-up of at least WARM_NS and 3 steps, then
 * --runs timed runs, each a whole number of steps lasting at least RUN_NS;
 * the median run is the time (the fastest is printed too). Wall clock,
 * CLOCK_MONOTONIC. Only the public API is used.
 *
 * usage: train_step [--csv] [--runs N] [--models mlp,cnn,transformer] [--threads 1,2]
 *   --csv prints one line per row (what bench/compare_train.py reads):
 *     train,<model>,<threads>,<ms median>,<ms min>,<peak MB>,<start MB>,<params>,<loss first>,<loss last>
 *   peak MB: VmHWM at the end; start MB: VmRSS when the child started,
 *   before the network was built (the program and its libraries).
 */
#include <eta/eta.h>

#include "bench.h"
#include "proc.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define RUN_NS 100e6   /* a timed run lasts at least 100 ms */
#define WARM_NS 300e6  /* warm-up: at least 300 ms and 3 steps */
#define MAX_RUNS 101

typedef struct model {
    const char *name;
    const char *spec;
    int64_t batch;
    int ndim;
    int64_t shape[3];
    int classes; /* output classes (vocabulary for the transformer) */
} model;

static const model MODELS[] = {
    {"mlp", "Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))", 128, 1, {784}, 10},
    {"cnn",
     "Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(32, 64, 5, padding=2), ReLU(), "
     "MaxPool2d(2), Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10))",
     128, 3, {1, 28, 28}, 10},
    {"transformer",
     "Sequential(Embedding(256, 128), PositionalEmbedding(64, 128), TransformerBlock(128, 4, causal=True), "
     "TransformerBlock(128, 4, causal=True), LayerNorm(128), Linear(128, 256))",
     32, 1, {64}, 256},
};
#define NMODELS (int)(sizeof MODELS / sizeof MODELS[0])

static int g_runs = 11;

/* A fixed pseudo-random sequence (xorshift), so every run sees the same data. */
static uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "train_step: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* ---- one model in this process ----------------------------------------- */

typedef struct trainer {
    eta_net *net;
    eta_optim *opt;
    void *x;      /* float inputs, or int32 token ids */
    int32_t *y;   /* class indices */
    double loss;
} trainer;

static int step(trainer *t)
{
    int rc = eta_net_forward(t->net, t->x, t->y, &t->loss);
    if (!rc)
        rc = eta_net_backward(t->net);
    if (rc) {
        fprintf(stderr, "train_step: %s\n", eta_net_error(t->net));
        return rc;
    }
    rc = eta_optim_step(t->opt);
    if (rc)
        fprintf(stderr, "train_step: %s\n", eta_optim_error(t->opt));
    return rc;
}

static void die_err(const char *what, const eta_err *err)
{
    fprintf(stderr, "train_step: %s: %s\n", what, err->msg);
    exit(1);
}

static void trainer_init(trainer *t, const model *m, int threads)
{
    eta_err err;
    if (eta_net_new(&t->net, m->spec, &err))
        die_err(m->name, &err);
    if (eta_net_prepare(t->net, m->batch, m->ndim, m->shape, &err))
        die_err(m->name, &err);
    if (eta_net_set_loss(t->net, "CrossEntropyLoss()", &err))
        die_err(m->name, &err);
    if (eta_net_init(t->net, 42)) {
        fprintf(stderr, "train_step: %s\n", eta_net_error(t->net));
        exit(1);
    }
    eta_net_set_input_grad(t->net, false); /* as torch: the input has no requires_grad */
    eta_optim_config cfg = eta_optim_defaults(ETA_OPTIM_ADAMW);
    cfg.threads = threads;
    if (eta_optim_new(&t->opt, &cfg, &err))
        die_err("AdamW", &err);
    if (eta_net_attach(t->net, t->opt, NULL, &err))
        die_err("attach", &err);

    size_t n = (size_t)m->batch;
    for (int d = 0; d < m->ndim; d++)
        n *= (size_t)m->shape[d];
    uint32_t s = 12345;
    if (eta_net_input_type(t->net) == ETA_NN_INT32) {
        /* tokens [B, T] and their next tokens as targets [B, T] */
        int64_t B = m->batch, T = m->shape[0];
        int32_t *seq = xmalloc((size_t)(B * (T + 1)) * sizeof *seq), *ids = xmalloc(n * sizeof *ids);
        t->y = xmalloc(n * sizeof *t->y);
        for (int64_t i = 0; i < B * (T + 1); i++)
            seq[i] = (int32_t)(rng_next(&s) % (uint32_t)m->classes);
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < T; i++) {
                ids[b * T + i] = seq[b * (T + 1) + i];
                t->y[b * T + i] = seq[b * (T + 1) + i + 1];
            }
        free(seq);
        t->x = ids;
    } else {
        float *x = xmalloc(n * sizeof *x); /* uniform in [0, 1), as pixel values */
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(rng_next(&s) >> 8) / 16777216.0f;
        t->x = x;
        t->y = xmalloc((size_t)m->batch * sizeof *t->y);
        for (int64_t i = 0; i < m->batch; i++)
            t->y[i] = (int32_t)(rng_next(&s) % (uint32_t)m->classes);
    }
}

static void trainer_free(trainer *t)
{
    eta_optim_free(t->opt);
    eta_net_free(t->net);
    free(t->x);
    free(t->y);
}

/* Times model m on `threads` threads and prints its csv line. */
static int run_one(const model *m, int threads)
{
    double start_mb = bench_status_mb("VmRSS");
    trainer t;
    trainer_init(&t, m, threads);
    if (step(&t))
        return 1;
    double first = t.loss;
    double t0 = now_ns();
    long calls = 1;
    while (calls < 3 || now_ns() - t0 < WARM_NS) {
        if (step(&t))
            return 1;
        calls++;
    }
    double per = (now_ns() - t0) / (double)(calls - 1);
    long k = (long)ceil(RUN_NS / (per > 1 ? per : 1));
    k = k < 1 ? 1 : k;
    double r[MAX_RUNS];
    for (int i = 0; i < g_runs; i++) {
        double a = now_ns();
        for (long j = 0; j < k; j++)
            if (step(&t))
                return 1;
        r[i] = (now_ns() - a) / (double)k;
    }
    qsort(r, (size_t)g_runs, sizeof r[0], cmp_double);
    double peak = bench_status_mb("VmHWM");
    printf("train,%s,%d,%.4f,%.4f,%.2f,%.2f,%zu,%.5f,%.5f\n", m->name, threads, r[g_runs / 2] / 1e6, r[0] / 1e6, peak,
           start_mb, eta_net_param_total(t.net), first, t.loss);
    fflush(stdout);
    trainer_free(&t);
    return isfinite(t.loss) ? 0 : 1;
}

/* ---- the parent: one child per row -------------------------------------- */

/* Runs `self --one model threads` and copies its csv line into line. */
static int run_child(const char *self, const model *m, int threads, char *line, size_t cap)
{
    char th[16], runs[16], one[] = "--one", runs_opt[] = "--runs", name[32];
    snprintf(th, sizeof th, "%d", threads);
    snprintf(runs, sizeof runs, "%d", g_runs);
    snprintf(name, sizeof name, "%s", m->name);
    char *argv[] = {(char *)(uintptr_t)self, one, name, th, runs_opt, runs, NULL};
    return bench_run_child("train_step", argv, threads, "train,", line, cap);
}

static const model *find_model(const char *name)
{
    for (int i = 0; i < NMODELS; i++)
        if (!strcmp(MODELS[i].name, name))
            return &MODELS[i];
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: train_step [--csv] [--runs N] [--models mlp,cnn,transformer] [--threads 1,2]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    bool csv = false;
    const model *models[NMODELS];
    int nmodels = 0;
    long threads[8] = {1, 2};
    int nthreads = 2;
    const model *one = NULL;
    int one_threads = 0;
    for (int i = 1; i < argc; i++) {
        int common = bench_common_arg(argc, argv, &i, &csv, &g_runs, MAX_RUNS, threads, &nthreads);
        if (common < 0)
            usage();
        else if (common > 0)
            continue;
        if (!strcmp(argv[i], "--models") && i + 1 < argc) {
            char list[256];
            snprintf(list, sizeof list, "%s", argv[++i]);
            for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ","))
                if (nmodels == NMODELS || !(models[nmodels++] = find_model(tok)))
                    usage();
        } else if (!strcmp(argv[i], "--one") && i + 2 < argc) {
            if (!(one = find_model(argv[++i])) || (one_threads = atoi(argv[++i])) < 1)
                usage();
        } else
            usage();
    }
    if (one)
        return run_one(one, one_threads);
    if (!nmodels)
        for (int i = 0; i < NMODELS; i++)
            models[nmodels++] = &MODELS[i];

    char self[4096]; /* the child is this program */
    bench_self(self, sizeof self, argv[0]);
    if (!csv) {
        printf("eta %s train_step: forward + CrossEntropyLoss + backward + AdamW step, float32.\n"
               "ms per step: median (and fastest) of %d runs after warm-up; each row in a fresh process with\n"
               "OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads. peak: VmHWM of that process; start: its VmRSS\n"
               "before the network was built.\n\n",
               ETA_VERSION_STRING, g_runs);
        printf("%-12s %3s %10s %10s %9s %9s %10s %10s %10s\n", "model", "thr", "ms/step", "fastest", "peak MB",
               "start MB", "params", "loss 1st", "loss last");
    }
    int bad = 0;
    for (int mi = 0; mi < nmodels; mi++)
        for (int ti = 0; ti < nthreads; ti++) {
            char line[512];
            if (run_child(self, models[mi], (int)threads[ti], line, sizeof line)) {
                bad = 1;
                continue;
            }
            if (csv) {
                fputs(line, stdout);
            } else {
                char name[32];
                int th;
                double ms, fast, peak, start, l0, l1;
                size_t params;
                if (sscanf(line, "train,%31[^,],%d,%lf,%lf,%lf,%lf,%zu,%lf,%lf", name, &th, &ms, &fast, &peak, &start,
                           &params, &l0, &l1) == 9)
                    printf("%-12s %3d %10.3f %10.3f %9.1f %9.1f %10zu %10.4f %10.4f\n", name, th, ms, fast, peak, start,
                           params, l0, l1);
            }
            fflush(stdout);
        }
    return bad;
}
