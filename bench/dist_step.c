/* bench/dist_step.c - bench/dist's training steps (dist_step.h): a model's
 * config (an INI file of configs/) read as `eta train` reads it, a run built from it
 * (eta_run_new: no files, no progress), and optimizer steps taken with
 * eta_run_probe, each timed whole: the next batch from the loader, forward,
 * backward, under MPI the gradient exchange, the optimizer's update. The
 * rate of every step is a tenth of the specs' peak (the schedule is not
 * stepped: only finite weights matter to the time).
 *
 * Under MPI the exchange that `eta train` builds (eta_dist_comm_new, the
 * config's [dist] keys) is wrapped in one whose calls time the real ones,
 * so the library holds no timing code. Per step and process:
 *   compute   from the exchange's begin returning to its end being called,
 *             less the time inside ready (this process's shards' forward
 *             and backward);
 *   backward  from the first ready (the top layer's gradients final) to end
 *             being called, less the time inside ready;
 *   exchange  the time inside begin, ready, end, the BatchNorm bcast and
 *             (ZeRO-1) the all-gather of the updated parameters;
 *   wait      of it, the time inside end: the sum of this process's slice
 *             once every shard's part arrived, and the all-gather.
 * The processes' figures of a step are combined as the step itself is
 * decided: step, compute and backward by the slowest process; exchange and
 * wait by the least, the process that came last to the exchange and so
 * waited for no one (the others' extra wait is imbalance, not
 * communication). Each column's median over the timed steps follows.
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "dist_step.h"
#include "bench.h"

#include <eta/eta.h>

#include <math.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dist/dist.h"
#include "train/config.h"
#include "train/run.h"

static double now(void) { return 1e-9 * now_ns(); }

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

void dist_quiet_barrier(void)
{
    MPI_Request rq;
    MPI_Ibarrier(MPI_COMM_WORLD, &rq);
    const struct timespec nap = {0, 1000000};
    int done = 0;
    while (MPI_Test(&rq, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && !done)
        nanosleep(&nap, NULL);
}

int dist_cpus_allowed(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    return sched_getaffinity(0, sizeof set, &set) ? 1 : CPU_COUNT(&set);
}

/* ---- the exchange, timed ------------------------------------------------ */

typedef struct timed_comm {
    eta_run_comm pub; /* pub.ud is this */
    const eta_run_comm *in;
    double begun, first_ready, end_called; /* instants of this step */
    double in_ready, in_calls, in_end;     /* seconds inside the calls this step */
} timed_comm;

static int timed_begin(void *ud, int shards, const int64_t *rows, float *g, size_t n, eta_err *err)
{
    timed_comm *c = ud;
    const double t0 = now();
    int rc = c->in->begin(c->in->ud, shards, rows, g, n, err);
    c->begun = now();
    c->first_ready = 0;
    c->in_ready = 0;
    c->in_calls = c->begun - t0;
    return rc;
}

static void timed_ready(void *ud, int shard, size_t from, size_t to)
{
    timed_comm *c = ud;
    const double t0 = now();
    if (c->first_ready == 0)
        c->first_ready = t0;
    c->in->ready(c->in->ud, shard, from, to);
    const double dt = now() - t0;
    c->in_ready += dt;
    c->in_calls += dt;
}

static int timed_end(void *ud, double *losses, eta_err *err)
{
    timed_comm *c = ud;
    c->end_called = now();
    int rc = c->in->end(c->in->ud, losses, err);
    c->in_end = now() - c->end_called;
    c->in_calls += c->in_end;
    return rc;
}

static int timed_bcast(void *ud, int root, void *buf, size_t bytes, eta_err *err)
{
    timed_comm *c = ud;
    const double t0 = now();
    int rc = c->in->bcast(c->in->ud, root, buf, bytes, err);
    c->in_calls += now() - t0;
    return rc;
}

/* ZeRO-1's calls (--set dist.zero_optimizer=true): the all-gather of the
 * updated parameters is part of the step's exchange; the rest only passes. */
static int timed_set_slices(void *ud, const size_t *lo, eta_err *err)
{
    timed_comm *c = ud;
    return c->in->set_slices ? c->in->set_slices(c->in->ud, lo, err) : ETA_OK;
}

static int timed_allgather(void *ud, void *buf, const size_t *lo, size_t unit, eta_err *err)
{
    timed_comm *c = ud;
    const double t0 = now();
    int rc = c->in->allgather(c->in->ud, buf, lo, unit, err);
    c->in_calls += now() - t0;
    return rc;
}

static int timed_gather(void *ud, const void *mine, size_t bytes, void **all, size_t *all_bytes, eta_err *err)
{
    timed_comm *c = ud;
    return c->in->gather(c->in->ud, mine, bytes, all, all_bytes, err);
}

/* ---- a run from the config ---------------------------------------------- */

/* The config at plan->config with [train] threads and [dist] shards set,
 * then the plan's assignments (--set). */
static int read_config(const dist_step_plan *plan, int threads, int shards, eta_config **cfg)
{
    eta_err err;
    char a[64], b[64];
    snprintf(a, sizeof a, "train.threads=%d", threads);
    snprintf(b, sizeof b, "dist.shards=%d", shards);
    int rc = eta_config_read(cfg, plan->config, &err) || eta_config_set(*cfg, a, &err) ||
             eta_config_set(*cfg, b, &err);
    for (int i = 0; !rc && i < plan->nsets; i++)
        rc = eta_config_set(*cfg, plan->sets[i], &err);
    if (rc || eta_config_check(*cfg, &err)) {
        fprintf(stderr, "dist: %s: %s\n", plan->config, err.msg);
        return 1;
    }
    return 0;
}

static int new_run(const dist_step_plan *plan, eta_config *cfg, const eta_run_comm *comm, eta_run **r,
                   dist_step_times *out)
{
    eta_err err;
    char msg[2048] = "";
    eta_run_options o = {.data_dir = plan->data_dir, .progress = -1, .quiet = true, .no_files = true,
                         .msg = msg, .msg_size = sizeof msg, .comm = comm};
    if (eta_run_new(r, cfg, &o, &err) || eta_config_get_int(cfg, "data", "batch_size", &out->batch, &err)) {
        fprintf(stderr, "dist: %s: %s\n", plan->config, msg[0] ? msg : err.msg);
        return 1;
    }
    eta_net_grads(eta_run_net(*r), &out->params);
    return 0;
}

/* One step at lr; 1 with a message when it fails or the loss is not finite. */
static int step(const dist_step_plan *plan, eta_run *r, double lr, int k)
{
    eta_err err;
    double loss;
    if (eta_run_probe(r, lr, &loss, &err)) {
        fprintf(stderr, "dist: %s: step %d: %s\n", plan->config, k, err.msg);
        return 1;
    }
    if (!isfinite(loss)) {
        fprintf(stderr, "dist: %s: step %d: the loss is %g (the times of a diverged run mean nothing)\n",
                plan->config, k, loss);
        return 1;
    }
    return 0;
}

int dist_step_solo(const dist_step_plan *plan, int threads, dist_step_times *out)
{
    *out = (dist_step_times){.compute = NAN, .backward = NAN, .exchange = NAN, .wait = NAN};
    eta_config *cfg = NULL;
    eta_run *r = NULL;
    double *t = malloc((size_t)plan->steps * sizeof *t);
    int bad = !t || read_config(plan, threads, 1, &cfg) || new_run(plan, cfg, NULL, &r, out);
    const double lr = bad ? 0 : eta_run_spec_peak_lr(r) / 10;
    for (int k = 0; !bad && k < plan->warmup + plan->steps; k++) {
        const double t0 = now();
        bad = step(plan, r, lr, k);
        if (k >= plan->warmup)
            t[k - plan->warmup] = now() - t0;
    }
    if (!bad)
        out->step = median(t, plan->steps);
    eta_run_free(r);
    eta_config_free(cfg);
    free(t);
    return bad;
}

enum { COL_STEP, COL_COMPUTE, COL_BACKWARD, COL_EXCHANGE, COL_WAIT, NCOL };

int dist_step_mpi(const dist_step_plan *plan, dist_step_times *out)
{
    *out = (dist_step_times){0};
    eta_err err;
    eta_config *cfg = NULL;
    eta_run_comm *inner = NULL;
    eta_run *r = NULL;
    const int n = plan->steps;
    double *t = malloc((size_t)NCOL * (size_t)n * sizeof *t);
    timed_comm tc = {0};
    int bad = !t || read_config(plan, 1, eta_dist_size(), &cfg);
    if (!bad && eta_dist_comm_new(&inner, cfg, &err)) {
        fprintf(stderr, "dist: %s: %s\n", plan->config, err.msg);
        bad = 1;
    }
    if (!bad) {
        tc.in = inner;
        tc.pub = *inner; /* rank and size; the calls go through the timing wrappers */
        tc.pub.threads = 1;
        tc.pub.ud = &tc;
        tc.pub.begin = timed_begin;
        tc.pub.ready = timed_ready;
        tc.pub.end = timed_end;
        tc.pub.bcast = timed_bcast;
        tc.pub.set_slices = timed_set_slices;
        tc.pub.allgather = timed_allgather;
        tc.pub.gather = timed_gather;
        bad = new_run(plan, cfg, &tc.pub, &r, out);
    }
    const double lr = bad ? 0 : eta_run_spec_peak_lr(r) / 10;
    dist_quiet_barrier(); /* every process built its run */
    for (int k = 0; !bad && k < plan->warmup + n; k++) {
        const double t0 = now();
        bad = step(plan, r, lr, k);
        const double t1 = now();
        if (k < plan->warmup)
            continue;
        const int i = k - plan->warmup;
        t[COL_STEP * n + i] = t1 - t0;
        t[COL_COMPUTE * n + i] = tc.end_called - tc.begun - tc.in_ready;
        /* a process without a shard has no backward: 0, so the maximum takes the other's */
        t[COL_BACKWARD * n + i] = tc.first_ready > 0 ? tc.end_called - tc.first_ready - tc.in_ready : 0;
        t[COL_EXCHANGE * n + i] = tc.in_calls;
        t[COL_WAIT * n + i] = tc.in_end;
    }
    if (!bad) { /* the step as the job took it: the slowest process; communication: the least waiting */
        MPI_Allreduce(MPI_IN_PLACE, t, COL_EXCHANGE * n, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, t + COL_EXCHANGE * n, (NCOL - COL_EXCHANGE) * n, MPI_DOUBLE, MPI_MIN,
                      MPI_COMM_WORLD);
        out->step = median(t + COL_STEP * n, n);
        out->compute = median(t + COL_COMPUTE * n, n);
        out->backward = median(t + COL_BACKWARD * n, n);
        out->exchange = median(t + COL_EXCHANGE * n, n);
        out->wait = median(t + COL_WAIT * n, n);
    }
    eta_run_free(r);
    eta_dist_comm_free(inner);
    eta_config_free(cfg);
    free(t);
    return bad;
}
