/* bench/epoch.c - whole training epochs of Fashion-MNIST, data pipeline
 * included, through the training run a user runs (`eta train`: the run of
 * src/train/run.h built from a config), and the peak memory of the process
 * that runs them. bench/compare_epoch.py runs it next to the same epochs in
 * PyTorch (TensorDataset + DataLoader) and prints the ratios.
 *
 * Models (the two):
 *   mlp  Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(),
 *        Linear(128, 10)), SGD(lr=0.05, momentum=0.9), FashionMNIST(flatten=True)
 *   cnn  Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2),
 *        Conv2d(32, 64, 5, padding=2), ReLU(), MaxPool2d(2), Flatten(),
 *        Linear(3136, 128), ReLU(), Linear(128, 10)), AdamW(lr=1e-3)
 *   cnnbn  the cnn with BatchNorm2d after each convolution (the network of
 *        configs/fmnist-cnn-cyclic.ini, docs/applications.md section 1),
 *        AdamW(lr=1e-3)
 * all with CrossEntropyLoss (the run's default for classes), batch 128,
 * shuffled every epoch, no schedule. The data: FashionMNIST(val=0) from
 * Debian's IDX files (--root), all 60,000 training images, pixels byte / 255
 * as torchvision's ToTensor() (no normalisation).
 *
 * One timed run is one epoch of a fresh run: the config below read with
 * eta_config_read_string, eta_run_new (reads the data, builds the network,
 * the optimizer and the run directory; not timed), eta_run_fit with
 * [train] epochs = 1. The time is eta_run_fit_seconds: from the start of
 * eta_run_fit to the end of the epoch, so it holds the loader (shuffle,
 * gather into float batches, the prefetch thread), forward, backward, the
 * gradient norm, the divergence guard (on, as by default: its snapshot
 * every 100 steps; --guard off turns it off), the optimizer step, the
 * metrics (metrics.csv and metrics.jsonl every 50 steps) and the per-layer
 * figures at the epoch's end. There is no validation split, so the epoch
 * ends without an evaluation; what follows it in eta_run_fit (the final
 * checkpoint, the test evaluation, model.safetensors) is not timed. The
 * test accuracy is the run's own (eta_run_test_result). Run i uses
 * [train] seed = i (weights and order), so --runs N gives N accuracies.
 * No plots, no progress; the run directories go to a temporary folder,
 * removed at the end.
 *
 * Each (model, threads) runs in a fresh child process (this program started
 * again with --one) with OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = t and
 * [train] threads = t, so its peak resident memory (VmHWM) is its own.
 *
 * Measure on a quiet machine. With t = 2 on 2 cores and another busy
 * process, OpenMP's threads spin at every barrier while their partner waits
 * for a core: the MLP's epoch took 9.7-14 s instead of 0.48
 * (OMP_WAIT_POLICY=passive: 1.5-2.1 s then, but 0.72 s on a quiet machine).
 * The environment is passed on to the children.
 *
 * usage: epoch [--csv] [--runs N] [--models mlp,cnn,cnnbn] [--threads 1,2]
 *              [--root DIR] [--guard on|off] [--prefetch on|off]
 *   --csv prints the lines bench/compare_epoch.py reads:
 *     run,<model>,<threads>,<i>,<seconds>,<test accuracy>,<test loss>
 *     epoch,<model>,<threads>,<s median>,<s min>,<peak MB>,<start MB>,<steps>,<runs>
 *   peak MB: VmHWM at the end; start MB: VmRSS when the child started.
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <eta/eta.h>

#include "bench.h"
#include "proc.h"
#include "train/config.h"
#include "train/run.h"

#include <ftw.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RUNS 31

typedef struct model {
    const char *name;
    const char *data;  /* the data spec's arguments after root and val */
    const char *spec;
    const char *optim;
} model;

static const model MODELS[] = {
    {"mlp", "flatten=True", "Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))",
     "SGD(lr=0.05, momentum=0.9)"},
    {"cnn", "flatten=False",
     "Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(32, 64, 5, padding=2), ReLU(), "
     "MaxPool2d(2), Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10))",
     "AdamW(lr=1e-3)"},
    {"cnnbn", "flatten=False",
     "Sequential(Conv2d(1, 32, 5, padding=2), BatchNorm2d(32), ReLU(), MaxPool2d(2), Conv2d(32, 64, 5, padding=2), "
     "BatchNorm2d(64), ReLU(), MaxPool2d(2), Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10))",
     "AdamW(lr=1e-3)"},
};
#define NMODELS (int)(sizeof MODELS / sizeof MODELS[0])

static int g_runs = 3;
static const char *g_root = "/usr/share/datasets/fashion-mnist";
static bool g_guard = true, g_prefetch = true;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

/* One epoch of a fresh run with seed `seed` in dir; its time and test figures. */
static int one_epoch(const model *m, int threads, int seed, const char *dir, double *sec, double *acc, double *loss,
                     int64_t *steps)
{
    char text[2048];
    snprintf(text, sizeof text,
             "[data]\nspec = FashionMNIST(root='%s', val=0, %s)\nbatch_size = 128\nprefetch = %s\n"
             "[model]\nspec = %s\n[optimizer]\nspec = %s\n"
             "[train]\nepochs = 1\nseed = %d\nthreads = %d\n[guard]\nenabled = %s\n"
             "[output]\ndir = %s\nplots = false\nprogress = off\n",
             g_root, m->data, g_prefetch ? "true" : "false", m->spec, m->optim, seed, threads,
             g_guard ? "true" : "false", dir);
    eta_err err;
    eta_config *cfg;
    eta_run *r = NULL;
    eta_run_options opts = {.progress = -1, .quiet = true};
    int rc = eta_config_read_string(&cfg, text, strlen(text), "epoch.ini", &err);
    if (!rc && !(rc = eta_config_check(cfg, &err)) && !(rc = eta_run_new(&r, cfg, &opts, &err)))
        rc = eta_run_fit(r, &err);
    if (rc) {
        fprintf(stderr, "epoch: %s: %s\n", m->name, err.msg);
    } else {
        *sec = eta_run_fit_seconds(r);
        eta_run_test_result(r, loss, acc);
        *steps = eta_run_step_count(r);
    }
    eta_run_free(r);
    eta_config_free(cfg);
    return rc ? 1 : 0;
}

/* Runs model m on `threads` threads g_runs times and prints its csv lines. */
static int run_one(const model *m, int threads)
{
    double start_mb = bench_status_mb("VmRSS");
    char tmp[] = "/tmp/eta-epoch-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("epoch: mkdtemp");
        return 1;
    }
    double t[MAX_RUNS];
    int64_t steps = 0;
    int bad = 0;
    for (int i = 0; i < g_runs && !bad; i++) {
        char dir[64];
        snprintf(dir, sizeof dir, "%s/run%d", tmp, i);
        double acc, loss;
        bad = one_epoch(m, threads, i, dir, &t[i], &acc, &loss, &steps);
        if (!bad)
            printf("run,%s,%d,%d,%.4f,%.5f,%.5f\n", m->name, threads, i, t[i], acc, loss);
        fflush(stdout);
    }
    nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (bad)
        return 1;
    qsort(t, (size_t)g_runs, sizeof t[0], cmp_double);
    printf("epoch,%s,%d,%.4f,%.4f,%.2f,%.2f,%lld,%d\n", m->name, threads, t[g_runs / 2], t[0],
           bench_status_mb("VmHWM"), start_mb, (long long)steps, g_runs);
    return 0;
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
    fprintf(stderr, "usage: epoch [--csv] [--runs N] [--models mlp,cnn,cnnbn] [--threads 1,2] [--root DIR]\n"
                    "             [--guard on|off] [--prefetch on|off]\n");
    exit(2);
}

static bool on_off(const char *s)
{
    if (strcmp(s, "on") && strcmp(s, "off"))
        usage();
    return !strcmp(s, "on");
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
        } else if (!strcmp(argv[i], "--root") && i + 1 < argc) {
            g_root = argv[++i];
        } else if (!strcmp(argv[i], "--guard") && i + 1 < argc) {
            g_guard = on_off(argv[++i]);
        } else if (!strcmp(argv[i], "--prefetch") && i + 1 < argc) {
            g_prefetch = on_off(argv[++i]);
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
    if (!csv)
        printf("eta %s epoch: one epoch of Fashion-MNIST (60,000 images, batch 128, shuffled) through the\n"
               "training run, guard %s, prefetch %s; seconds: median (and fastest) of %d runs, each a fresh run\n"
               "with seed i (test acc: their mean); each row in a fresh process with OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads.\n"
               "peak: VmHWM of that process; start: its VmRSS at its start.\n\n",
               ETA_VERSION_STRING, g_guard ? "on" : "off", g_prefetch ? "on" : "off", g_runs);
    if (!csv)
        printf("%-5s %3s %9s %9s %8s %8s %8s %9s\n", "model", "thr", "s/epoch", "fastest", "peak MB", "start MB",
               "steps", "test acc");
    int bad = 0;
    for (int mi = 0; mi < nmodels; mi++)
        for (int ti = 0; ti < nthreads; ti++) {
            char out[8192], th[16], runs[16], opt_runs[] = "--runs", opt_one[] = "--one", name[16];
            char opt_root[] = "--root", opt_guard[] = "--guard", opt_pf[] = "--prefetch", root[4096];
            char guard[4], pf[4];
            snprintf(th, sizeof th, "%ld", threads[ti]);
            snprintf(runs, sizeof runs, "%d", g_runs);
            snprintf(name, sizeof name, "%s", models[mi]->name);
            snprintf(root, sizeof root, "%s", g_root);
            snprintf(guard, sizeof guard, "%s", g_guard ? "on" : "off");
            snprintf(pf, sizeof pf, "%s", g_prefetch ? "on" : "off");
            char *cargv[] = {self,      opt_one, name,  th,    opt_runs, runs, opt_root,
                             root,      opt_guard, guard, opt_pf, pf,    NULL};
            if (bench_run_child("epoch", cargv, (int)threads[ti], "", out, sizeof out)) {
                bad = 1;
                continue;
            }
            if (csv) {
                fputs(out, stdout);
                continue;
            }
            char nm[16];
            int thr, nruns = 0, idx;
            double med, fast, peak, start, sec, acc, loss, acc_sum = 0;
            long long steps;
            for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"))
                if (sscanf(line, "run,%15[^,],%d,%d,%lf,%lf,%lf", nm, &thr, &idx, &sec, &acc, &loss) == 6) {
                    acc_sum += acc;
                    nruns++;
                } else if (sscanf(line, "epoch,%15[^,],%d,%lf,%lf,%lf,%lf,%lld", nm, &thr, &med, &fast, &peak, &start,
                                  &steps) == 7) {
                    printf("%-5s %3d %9.3f %9.3f %8.1f %8.1f %8lld %9.4f\n", nm, thr, med, fast, peak, start, steps,
                           nruns ? acc_sum / nruns : NAN);
                }
            fflush(stdout);
        }
    return bad;
}
