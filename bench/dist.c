/* bench/dist.c - what MPI costs on this machine: the latency and bandwidth
 * of a message between two processes (alpha and beta of the alpha-beta
 * model, one message of n bytes taking alpha + n beta), and MPI_Allreduce
 * of float32 sums over the gradients of the MLP, the CNN and the
 * transformer of bench/train_step, beside what the model predicts for a
 * ring allreduce. The data-parallel training's step and allreduce times
 * join this table when src/dist/ lands.
 *
 *   mpirun --allow-run-as-root --oversubscribe -np 2 build/release/bench/dist [--csv] [--repeat N]
 *
 * Ping-pong between ranks 0 and 1: rank 0 sends n bytes, rank 1 sends them
 * back; the one-way time is half the round trip, the smallest over
 * `repeat` round trips after one untimed, for n = 8 B, 32 B, ..., 32 MiB.
 * alpha: the one-way time of 8 bytes. beta: the least-squares slope of the
 * one-way time against n over n >= 1 MiB (printed as its inverse, GB/s).
 * Allreduce: MPI_Allreduce(MPI_IN_PLACE, float, MPI_SUM) over every rank
 * on as many floats as the model has parameters (eta_net_param_total of
 * its spec), the median of `repeat` calls after one untimed; the ring
 * prediction for p ranks and n bytes is 2 (p - 1) alpha + 2 (p - 1) / p
 * n beta (reduce-scatter, then all-gather). On one machine the messages
 * go through shared memory (Open MPI's vader transport), not a network:
 * these alpha and beta are this machine's, not a cluster's.
 *
 * --csv prints the lines a script reads:
 *   pingpong,<bytes>,<one-way s>
 *   model,<alpha s>,<beta s per byte>
 *   allreduce,<name>,<params>,<ranks>,<median s>,<predicted s>
 */
#include <eta/eta.h>

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_REPEAT = 1001 };

static const struct {
    const char *name, *spec;
    int ndim;
    int64_t shape[3]; /* one example's input */
} MODELS[] = {
    {"mlp", "Sequential(Linear(784, 256), ReLU(), Linear(256, 128), ReLU(), Linear(128, 10))", 1, {784}},
    {"cnn",
     "Sequential(Conv2d(1, 32, 5, padding=2), ReLU(), MaxPool2d(2), Conv2d(32, 64, 5, padding=2), ReLU(), "
     "MaxPool2d(2), Flatten(), Linear(3136, 128), ReLU(), Linear(128, 10))",
     3, {1, 28, 28}},
    {"transformer",
     "Sequential(Embedding(256, 128), PositionalEmbedding(64, 128), TransformerBlock(128, 4, causal=True), "
     "TransformerBlock(128, 4, causal=True), LayerNorm(128), Linear(128, 256))",
     1, {64}},
};
#define NMODELS (int)(sizeof MODELS / sizeof MODELS[0])

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

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
    qsort(t, (size_t)repeat, sizeof t[0], cmp_dbl);
    return t[repeat / 2];
}

static size_t param_total(int m)
{
    eta_err err;
    eta_net *net;
    if (eta_net_new(&net, MODELS[m].spec, &err) ||
        eta_net_prepare(net, 1, MODELS[m].ndim, MODELS[m].shape, &err)) {
        fprintf(stderr, "dist: %s: %s\n", MODELS[m].name, err.msg);
        return 0;
    }
    size_t n = eta_net_param_total(net);
    eta_net_free(net);
    return n;
}

static void usage(void)
{
    fprintf(stderr, "usage: mpirun -np 2 dist [--csv] [--repeat N]\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    bool csv = false;
    int repeat = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--csv"))
            csv = true;
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc && (repeat = atoi(argv[++i])) >= 1 &&
                 repeat < MAX_REPEAT)
            continue;
        else
            usage();
    }
    if (size < 2) {
        if (rank == 0)
            fprintf(stderr, "dist: needs at least 2 processes (mpirun -np 2)\n");
        MPI_Finalize();
        return 2;
    }
    const int max_bytes = 64 << 20;
    char *buf = malloc((size_t)max_bytes);
    if (!buf)
        MPI_Abort(MPI_COMM_WORLD, 1);
    memset(buf, 1, (size_t)max_bytes);
    if (rank == 0 && !csv)
        printf("eta %s dist: %d MPI processes; ping-pong between ranks 0 and 1, one-way time (smallest of %d)\n\n"
               "%12s %12s %10s\n", ETA_VERSION_STRING, size, repeat, "bytes", "one-way us", "GB/s");
    /* ping-pong, and the least-squares line over n >= 1 MiB */
    double sx = 0, sy = 0, sxx = 0, sxy = 0, alpha = 0;
    int k = 0;
    for (long n = 8; n <= max_bytes; n *= 4) {
        int reps = n >= (1 << 20) ? (repeat + 4) / 5 : repeat; /* large messages: fewer rounds */
        double t = pingpong(rank, buf, (int)n, reps);
        if (n == 8)
            alpha = t;
        if (n >= (1 << 20)) {
            sx += (double)n, sy += t, sxx += (double)n * (double)n, sxy += (double)n * t;
            k++;
        }
        if (rank == 0) {
            if (csv)
                printf("pingpong,%ld,%.9g\n", n, t);
            else
                printf("%12ld %12.2f %10.2f\n", n, t * 1e6, (double)n / t / 1e9);
        }
    }
    double beta = k > 1 ? (k * sxy - sx * sy) / (k * sxx - sx * sx) : 0;
    if (rank == 0) {
        if (csv)
            printf("model,%.9g,%.9g\n", alpha, beta);
        else
            printf("\nalpha (latency) %.2f us; beta %.3g s/byte (%.2f GB/s)\n\n"
                   "MPI_Allreduce of the gradients (float32 sum over %d ranks), median of %d; predicted: ring\n"
                   "2 (p - 1) alpha + 2 (p - 1) / p n beta\n\n%-12s %10s %10s %12s %12s %8s\n",
                   alpha * 1e6, beta, beta > 0 ? 1e-9 / beta : 0.0, size, repeat, "model", "params", "MB",
                   "measured ms", "predicted ms", "ratio");
    }
    float *grad = (float *)(void *)buf; /* 16M floats: every model's gradients fit */
    int bad = 0;
    for (int m = 0; m < NMODELS; m++) {
        size_t n = param_total(m);
        if (n == 0 || n * sizeof(float) > (size_t)max_bytes) {
            bad = 1;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            grad[i] = 1e-3f;
        double t = allreduce(grad, (int)n, repeat);
        double bytes = (double)n * sizeof(float), p = size;
        double pred = 2 * (p - 1) * alpha + 2 * (p - 1) / p * bytes * beta;
        if (rank == 0) {
            if (csv)
                printf("allreduce,%s,%zu,%d,%.9g,%.9g\n", MODELS[m].name, n, size, t, pred);
            else
                printf("%-12s %10zu %10.2f %12.3f %12.3f %8.2f\n", MODELS[m].name, n, bytes / 1e6, t * 1e3,
                       pred * 1e3, t / pred);
        }
    }
    free(buf);
    MPI_Finalize();
    return bad;
}
