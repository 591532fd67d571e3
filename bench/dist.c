/* bench/dist.c - what data-parallel training costs on this machine: the
 * latency and bandwidth of MPI between two processes (alpha and beta of the
 * alpha-beta model, one message of n bytes taking alpha + n beta),
 * MPI_Allreduce of float32 sums over each model's gradient beside what the
 * model predicts for a ring allreduce, and training steps of the MLP, the
 * CNN and the transformer of configs/ (fmnist-mlp.ini, fmnist-cnn.ini,
 * sentiment-transformer.ini) at their configs' batches: one process of 1
 * and of 2 threads against 2 processes of 1 thread each, the batch cut into
 * one shard per process and the gradients summed by src/dist's exchange
 * (the step as `mpirun -np 2 eta train` takes it; dist_step.c says what is
 * timed). tools/dist_model.py reads --csv and predicts the scaling to
 * clusters (docs/distributed.md).
 *
 *   mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 \
 *       build/release/bench/dist [--csv] [--quick] [--repeat N] [--steps N] [--warmup N]
 *       [--models mlp,cnn,transformer] [--configs DIR] [--data DIR] [--set SECTION.KEY=VALUE]...
 *
 * --set changes every run's config after the bench's own settings ([train]
 * threads, [dist] shards), as eta train's: --set dist.bucket_cap_mb=0.25
 * (the exchange in buckets sent while backward runs), --set data.prefetch=false.
 *
 * --bind-to none: mpirun binds each process to one core, and the
 * one-process step of 2 threads would run on one (the bench refuses). That
 * step is taken by rank 0 alone while the other processes sleep in a
 * barrier. Without mpirun only the one-process steps run.
 *
 * Ping-pong between ranks 0 and 1: rank 0 sends n bytes, rank 1 sends them
 * back; the one-way time is half the round trip, the smallest over
 * `repeat` round trips after one untimed, for n = 8 B, 32 B, ..., 32 MiB.
 * alpha: the one-way time of 8 bytes. beta: the least-squares slope of the
 * one-way time against n over n >= 1 MiB (printed as its inverse, GB/s).
 * Allreduce: MPI_Allreduce(MPI_IN_PLACE, float, MPI_SUM) over every rank
 * on as many floats as the model has gradients, the median of `repeat`
 * calls after one untimed; the ring prediction for p ranks and n bytes is
 * 2 (p - 1) alpha + 2 (p - 1) / p n beta (reduce-scatter, then all-gather).
 * On one machine the messages go through shared memory (Open MPI's vader
 * transport), not a network: these alpha and beta are this machine's, not a
 * cluster's. Steps: the median of --steps (50) after --warmup (5) untimed.
 * --quick: 3 steps after 1, repeat 3 (a smoke run; its times mean little).
 *
 * --csv prints the lines tools/dist_model.py reads:
 *   pingpong,<bytes>,<one-way s>
 *   model,<alpha s>,<beta s per byte>
 *   allreduce,<name>,<params>,<ranks>,<median s>,<predicted s>
 *   step,<name>,<params>,<batch>,<ranks>,<threads>,<1 process 1 thread s>,
 *        <1 process `threads` threads s>,<ranks processes s>,<compute s>,
 *        <backward s>,<exchange s>,<wait s>
 * (without mpirun: ranks 1 and nan for what needs MPI).
 */
#include <eta/eta.h>

#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "dist/dist.h"
#include "dist_step.h"

#ifndef ETA_BENCH_SOURCE_DIR
#define ETA_BENCH_SOURCE_DIR "."
#endif
#ifndef ETA_BENCH_DATA_DIR
#define ETA_BENCH_DATA_DIR "data"
#endif

enum { MAX_REPEAT = 1001, MAX_STEPS = 100000, MAX_SETS = 16 };

static const struct {
    const char *name, *config; /* configs/<config> */
} MODELS[] = {
    {"mlp", "fmnist-mlp.ini"},
    {"cnn", "fmnist-cnn.ini"},
    {"transformer", "sentiment-transformer.ini"},
};
#define NMODELS (int)(sizeof MODELS / sizeof MODELS[0])

/* The one-way time of n bytes between ranks 0 and 1 (others wait). */
static double pingpong(int rank, char *buf, int n, int repeat)
{
    double best = 1e30;
    for (int r = 0; r <= repeat; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t = MPI_Wtime();
        if (rank == 0) {
            MPI_Send(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buf, n, MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buf, n, MPI_CHAR, 0, 0, MPI_COMM_WORLD);
        }
        t = (MPI_Wtime() - t) / 2;
        if (r > 0 && t < best)
            best = t;
    }
    MPI_Bcast(&best, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    return best;
}

/* The median time of an in-place float sum over every rank. */
static double allreduce(float *buf, int n, int repeat)
{
    static double t[MAX_REPEAT];
    for (int r = 0; r <= repeat; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        double dt = MPI_Wtime() - t0;
        MPI_Allreduce(MPI_IN_PLACE, &dt, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD); /* the slowest rank's */
        if (r > 0)
            t[r - 1] = dt;
    }
    qsort(t, (size_t)repeat, sizeof t[0], cmp_double);
    return t[repeat / 2];
}

typedef struct options {
    bool csv;
    int repeat, steps, warmup;
    const char *configs, *data, *models;
    const char *sets[MAX_SETS];
    int nsets;
} options;

static const char USAGE[] = "usage: [mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2] dist [--csv] "
                            "[--quick] [--repeat N] [--steps N] [--warmup N] [--models mlp,cnn,transformer] "
                            "[--configs DIR] [--data DIR] [--set SECTION.KEY=VALUE]...\n";

static _Noreturn void usage(const char *why)
{
    if (eta_dist_rank() == 0)
        fprintf(stderr, "dist: %s\n%s", why, USAGE);
    eta_dist_abort(2);
}

/* A positive count from argv[i + 1], below max. */
static int count_arg(int argc, char **argv, int i, int lo, int max)
{
    char *end;
    long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
    if (i + 1 >= argc || *end || v < lo || v >= max) {
        char why[128];
        snprintf(why, sizeof why, "%s wants a whole number in [%d, %d)", argv[i], lo, max);
        usage(why);
    }
    return (int)v;
}

static options parse(int argc, char **argv)
{
    options o = {false, 50, 50, 5, ETA_BENCH_SOURCE_DIR "/configs", ETA_BENCH_DATA_DIR, "mlp,cnn,transformer", {0}, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) {
            if (eta_dist_rank() == 0)
                printf("%s\nMPI's latency and bandwidth, MPI_Allreduce over each "
                       "model's gradients, and training steps\nof the models of configs/ in one process and in "
                       "every process of the job (bench/dist.c).\n", USAGE);
            eta_dist_finalize();
            exit(0);
        } else if (!strcmp(a, "--csv")) {
            o.csv = true;
        } else if (!strcmp(a, "--quick")) {
            o.repeat = 3, o.steps = 3, o.warmup = 1;
        } else if (!strcmp(a, "--repeat")) {
            o.repeat = count_arg(argc, argv, i++, 1, MAX_REPEAT);
        } else if (!strcmp(a, "--steps")) {
            o.steps = count_arg(argc, argv, i++, 1, MAX_STEPS);
        } else if (!strcmp(a, "--warmup")) {
            o.warmup = count_arg(argc, argv, i++, 0, MAX_STEPS);
        } else if (!strcmp(a, "--set") && i + 1 < argc) {
            if (o.nsets == MAX_SETS)
                usage("too many --set");
            o.sets[o.nsets++] = argv[++i];
        } else if ((!strcmp(a, "--configs") || !strcmp(a, "--data") || !strcmp(a, "--models")) && i + 1 < argc) {
            const char *v = argv[++i];
            *(a[2] == 'c' ? &o.configs : a[2] == 'd' ? &o.data : &o.models) = v;
        } else {
            char why[300];
            snprintf(why, sizeof why, "unknown or incomplete option '%s'", a);
            usage(why);
        }
    }
    for (const char *m = o.models; *m;) { /* every name in the list is a model */
        size_t n = strcspn(m, ",");
        int k = 0;
        while (k < NMODELS && (strlen(MODELS[k].name) != n || strncmp(MODELS[k].name, m, n)))
            k++;
        if (k == NMODELS || n == 0)
            usage("--models: a comma-separated list of mlp, cnn, transformer");
        m += n + (m[n] == ',');
    }
    return o;
}

static bool wanted(const options *o, int m)
{
    const size_t n = strlen(MODELS[m].name);
    for (const char *p = o->models; (p = strstr(p, MODELS[m].name)); p += n)
        if ((p == o->models || p[-1] == ',') && (p[n] == ',' || !p[n]))
            return true;
    return false;
}

/* Ping-pong over n = 8 B ... 32 MiB (ranks 0 and 1); alpha and beta. */
static void measure_link(const options *o, int rank, int size, char *buf, int max_bytes, double *alpha,
                         double *beta)
{
    if (rank == 0 && !o->csv)
        printf("eta %s dist: %d MPI processes; ping-pong between ranks 0 and 1, one-way time (smallest of %d)\n\n"
               "%12s %12s %10s\n",
               ETA_VERSION_STRING, size, o->repeat, "bytes", "one-way us", "GB/s");
    double sx = 0, sy = 0, sxx = 0, sxy = 0; /* the least-squares line over n >= 1 MiB */
    int k = 0;
    for (long n = 8; n <= max_bytes / 2; n *= 4) {
        int reps = n >= (1 << 20) ? (o->repeat + 4) / 5 : o->repeat; /* large messages: fewer rounds */
        double t = pingpong(rank, buf, (int)n, reps);
        if (n == 8)
            *alpha = t;
        if (n >= (1 << 20)) {
            sx += (double)n, sy += t, sxx += (double)n * (double)n, sxy += (double)n * t;
            k++;
        }
        if (rank == 0) {
            if (o->csv)
                printf("pingpong,%ld,%.9g\n", n, t);
            else
                printf("%12ld %12.2f %10.2f\n", n, t * 1e6, (double)n / t / 1e9);
        }
    }
    *beta = k > 1 ? (k * sxy - sx * sy) / (k * sxx - sx * sx) : 0;
    if (rank == 0) {
        if (o->csv)
            printf("model,%.9g,%.9g\n", *alpha, *beta);
        else
            printf("\nalpha (latency) %.2f us; beta %.3g s/byte (%.2f GB/s)\n", *alpha * 1e6, *beta,
                   *beta > 0 ? 1e-9 / *beta : 0.0);
    }
}

/* One model: its steps alone (rank 0, the others asleep) and in every
 * process, then MPI_Allreduce over as many floats. */
static int measure_model(const options *o, int m, int rank, int size, int threads, float *grad, size_t max_floats,
                         dist_step_times *one, dist_step_times *many, dist_step_times *par, double *ar)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", o->configs, MODELS[m].config);
    const dist_step_plan plan = {path, o->data, o->warmup, o->steps, o->sets, o->nsets};
    int bad = 0;
    if (rank == 0)
        bad = dist_step_solo(&plan, 1, one) || dist_step_solo(&plan, threads, many);
    if (size < 2)
        return bad;
    dist_quiet_barrier();
    if (bad || dist_step_mpi(&plan, par))
        eta_dist_abort(1);
    size_t n = par->params;
    if (n > max_floats) {
        fprintf(stderr, "dist: %s: %zu gradients do not fit the buffer\n", MODELS[m].name, n);
        eta_dist_abort(1);
    }
    for (size_t i = 0; i < n; i++)
        grad[i] = 1e-3f;
    *ar = allreduce(grad, (int)n, o->repeat);
    return 0;
}

static void print_tables(const options *o, int size, int threads, double alpha, double beta, const bool *done,
                         const dist_step_times *one, const dist_step_times *many, const dist_step_times *par,
                         const double *ar)
{
    if (o->csv) {
        for (int m = 0; m < NMODELS; m++) {
            if (!done[m])
                continue;
            const double bytes = (double)par[m].params * sizeof(float), p = size;
            if (size > 1)
                printf("allreduce,%s,%zu,%d,%.9g,%.9g\n", MODELS[m].name, par[m].params, size, ar[m],
                       2 * (p - 1) * alpha + 2 * (p - 1) / p * bytes * beta);
            printf("step,%s,%zu,%lld,%d,%d,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", MODELS[m].name, one[m].params,
                   (long long)one[m].batch, size, threads, one[m].step, many[m].step, par[m].step, par[m].compute,
                   par[m].backward, par[m].exchange, par[m].wait);
        }
        return;
    }
    if (size > 1) {
        printf("\nMPI_Allreduce of the gradients (float32 sum over %d ranks), median of %d; predicted: ring\n"
               "2 (p - 1) alpha + 2 (p - 1) / p n beta\n\n%-12s %10s %10s %12s %12s %8s\n",
               size, o->repeat, "model", "params", "MB", "measured ms", "predicted ms", "ratio");
        for (int m = 0; m < NMODELS; m++) {
            if (!done[m])
                continue;
            const double bytes = (double)par[m].params * sizeof(float), p = size;
            const double pred = 2 * (p - 1) * alpha + 2 * (p - 1) / p * bytes * beta;
            printf("%-12s %10zu %10.2f %12.3f %12.3f %8.2f\n", MODELS[m].name, par[m].params, bytes / 1e6,
                   ar[m] * 1e3, pred * 1e3, ar[m] / pred);
        }
    }
    char lt[32], lp[32], lr[48];
    snprintf(lt, sizeof lt, "1p x %dt", threads);
    const int np = size > 1 ? size : threads; /* without mpirun: the columns of the 2-process job, empty */
    snprintf(lp, sizeof lp, "%dp x 1t", np);
    snprintf(lr, sizeof lr, "%dp/1p x %dt", np, threads);
    printf("\nTraining steps at the config's batch (ms, median of %d after %d untimed): 1 process of 1 and of %d\n"
           "threads, the batch whole; %d processes of 1 thread, one shard each, the gradients summed by the\n"
           "exchange of `mpirun eta train` (compute: one shard's forward and backward; exchange: the time\n"
           "inside the exchange's calls; allreduce: MPI_Allreduce of as many floats, above)\n\n"
           "%-12s %8s %6s %8s %8s %8s %8s %8s %9s %10s %9s\n",
           o->steps, o->warmup, threads, np, "model", "params", "batch", "1p x 1t", lt, lp, "compute",
           "exchange", "allreduce", lr, "exch/step");
    for (int m = 0; m < NMODELS; m++) {
        if (!done[m])
            continue;
        printf("%-12s %8zu %6lld %8.2f %8.2f", MODELS[m].name, one[m].params, (long long)one[m].batch,
               one[m].step * 1e3, many[m].step * 1e3);
        if (size > 1)
            printf(" %8.2f %8.2f %8.3f %9.3f %10.2f %9.2f\n", par[m].step * 1e3, par[m].compute * 1e3,
                   par[m].exchange * 1e3, ar[m] * 1e3, par[m].step / many[m].step, par[m].exchange / par[m].step);
        else
            printf(" %8s %8s %8s %9s %10s %9s\n", "-", "-", "-", "-", "-", "-");
    }
}

int main(int argc, char **argv)
{
    eta_err err;
    if (eta_dist_init(&argc, &argv, &err)) {
        fprintf(stderr, "dist: %s\n", err.msg);
        return 1;
    }
    const options o = parse(argc, argv);
    const int rank = eta_dist_rank(), size = eta_dist_size();
    /* the one process uses the cores the job's processes use (2 without mpirun), at most the machine's */
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const int threads = (int)fmin(size > 1 ? size : 2, cores > 0 ? (double)cores : 1);
    if (rank == 0 && dist_cpus_allowed() < threads) {
        fprintf(stderr, "dist: rank 0 may run on %d CPU(s), and the one-process step wants %d threads: mpirun "
                        "binds each process to a core; add --bind-to none\n",
                dist_cpus_allowed(), threads);
        eta_dist_abort(2);
    }
    const int max_bytes = 64 << 20;
    char *buf = size > 1 ? malloc((size_t)max_bytes) : NULL;
    if (size > 1 && !buf)
        eta_dist_abort(1);
    double alpha = 0, beta = 0;
    if (size > 1) {
        memset(buf, 1, (size_t)max_bytes);
        measure_link(&o, rank, size, buf, max_bytes, &alpha, &beta);
    } else if (!o.csv) {
        printf("eta %s dist: one process (without mpirun): the one-process steps only; the rest needs\n"
               "mpirun --allow-run-as-root --oversubscribe --bind-to none -np 2 dist\n",
               ETA_VERSION_STRING);
    }
    dist_step_times one[NMODELS], many[NMODELS], par[NMODELS];
    double ar[NMODELS];
    bool done[NMODELS] = {false};
    int bad = 0;
    for (int m = 0; m < NMODELS && !bad; m++) {
        par[m] = (dist_step_times){.step = NAN, .compute = NAN, .backward = NAN, .exchange = NAN, .wait = NAN};
        ar[m] = NAN;
        if (wanted(&o, m)) {
            bad = measure_model(&o, m, rank, size, threads, (float *)(void *)buf, (size_t)max_bytes / sizeof(float),
                                &one[m], &many[m], &par[m], &ar[m]);
            done[m] = !bad;
        }
    }
    if (rank == 0 && !bad)
        print_tables(&o, size, threads, alpha, beta, done, one, many, par, ar);
    free(buf);
    eta_dist_finalize();
    return bad;
}
