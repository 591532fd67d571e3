/* data/loader.c - batches from a data set split: a seeded permutation per
 * epoch, contiguous buffers, and the next batch prepared on a second thread.
 *
 * The order of epoch e is a pure function of (seed, e): a Fisher-Yates
 * shuffle of 0..n driven by splitmix64 seeded from both, so (seed, epoch,
 * pos) restores any position exactly. pos counts the examples handed out
 * in the epoch.
 *
 * Prefetch: two buffer slots. next() hands out one slot and asks the worker
 * thread to fill the other with the batch after it; the slot handed out is
 * the caller's until the following call, when it becomes the worker's next
 * target. The worker gathers exactly the rows next() would have gathered
 * itself, so the bytes are the same with and without prefetch. Nothing is
 * prefetched past the end of an epoch: the call that returns 1 makes the
 * next epoch's permutation and starts the worker on its first batch.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/data_impl.h"

typedef struct slot {
    void *input, *target;
    int64_t *idx;
    int64_t epoch, pos, n; /* the batch it holds (n = 0: none) */
} slot;

enum { JOB_IDLE, JOB_PENDING, JOB_DONE, JOB_QUIT };

struct eta_loader {
    const eta_dataset *ds;
    eta_loader_config cfg;
    int64_t n;       /* examples in the split */
    int64_t n_epoch; /* examples handed out per epoch (drop_last drops the rest) */
    int64_t *perm;
    int64_t epoch, pos;
    slot s[2];
    int cur; /* the slot handed out last, or -1 */
    /* prefetch */
    bool thread;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job;      /* JOB_* */
    int job_slot; /* the slot the worker fills (valid unless JOB_IDLE) */
    int job_rc;
    eta_err job_err;
    char msg[256];
};

eta_loader_config eta_loader_defaults(void)
{
    eta_loader_config c;
    memset(&c, 0, sizeof c);
    c.split = ETA_SPLIT_TRAIN;
    c.batch = 1;
    return c;
}

/* The permutation of epoch e. */
static void make_perm(eta_loader *l)
{
    for (int64_t i = 0; i < l->n; i++)
        l->perm[i] = i;
    if (!l->cfg.shuffle)
        return;
    uint64_t s = l->cfg.seed;
    uint64_t k = data_rng_next(&s) ^ (uint64_t)l->epoch * 0xD1B54A32D192ED03ull;
    data_rng_next(&k);
    data_shuffle(l->perm, l->n, &k);
}

/* Fills slot k with the batch starting at pos of the current epoch. */
static int fill(eta_loader *l, int k, int64_t pos, eta_err *err)
{
    slot *s = &l->s[k];
    int64_t n = l->n - pos < l->cfg.batch ? l->n - pos : l->cfg.batch;
    memcpy(s->idx, l->perm + pos, (size_t)n * sizeof *s->idx);
    s->epoch = l->epoch;
    s->pos = pos;
    s->n = 0;
    int rc = eta_data_gather(l->ds, l->cfg.split, s->idx, n, s->input, s->target, err);
    if (!rc)
        s->n = n;
    return rc;
}

static void *worker(void *arg)
{
    eta_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (l->job != JOB_PENDING && l->job != JOB_QUIT)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->job == JOB_QUIT)
            break;
        int k = l->job_slot;
        int64_t pos = l->s[k].pos;
        pthread_mutex_unlock(&l->mu);
        /* perm and the slot are not touched by next() while the job is pending */
        eta_err e;
        eta_err_clear(&e);
        int rc = fill(l, k, pos, &e);
        pthread_mutex_lock(&l->mu);
        l->job_rc = rc;
        l->job_err = e;
        if (l->job != JOB_QUIT)
            l->job = JOB_DONE;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* Waits for the worker to finish its job; returns the slot it filled or -1. */
static int wait_job(eta_loader *l)
{
    if (!l->thread)
        return -1;
    pthread_mutex_lock(&l->mu);
    while (l->job == JOB_PENDING)
        pthread_cond_wait(&l->cv, &l->mu);
    int k = l->job == JOB_DONE ? l->job_slot : -1;
    if (l->job == JOB_DONE)
        l->job = JOB_IDLE;
    pthread_mutex_unlock(&l->mu);
    return k;
}

/* Asks the worker for the batch at (epoch, pos) in the slot not handed out. */
static void start_job(eta_loader *l, int64_t pos)
{
    if (!l->thread || pos >= l->n_epoch)
        return;
    int k = l->cur == 0 ? 1 : 0;
    pthread_mutex_lock(&l->mu);
    l->s[k].epoch = l->epoch;
    l->s[k].pos = pos;
    l->s[k].n = 0;
    l->job_slot = k;
    l->job = JOB_PENDING;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

int eta_loader_new(eta_loader **out, const eta_dataset *ds, const eta_loader_config *cfg, eta_err *err)
{
    eta_err_clear(err);
    if (!out)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_loader_new: out is NULL");
    *out = NULL;
    if (!ds || !cfg)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_loader_new: no data set or config");
    if ((int)cfg->split < 0 || cfg->split >= ETA_SPLIT_COUNT)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "loader: split %d is not train (0), val (1) or test (2)",
                             (int)cfg->split);
    static const char *const names[] = {"train", "val", "test"};
    int64_t n = ds->info.size[cfg->split];
    if (cfg->batch < 1)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "loader: batch must be >= 1, got %lld", (long long)cfg->batch);
    if (n == 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "loader: the %s split of %s is empty", names[cfg->split],
                             ds->info.name);
    if (cfg->drop_last && n < cfg->batch)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "loader: the %s split has %lld examples, fewer than one batch of %lld with drop_last",
                             names[cfg->split], (long long)n, (long long)cfg->batch);
    eta_loader *l = calloc(1, sizeof *l);
    if (!l)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    l->ds = ds;
    l->cfg = *cfg;
    l->n = n;
    l->n_epoch = cfg->drop_last ? n - n % cfg->batch : n;
    l->cur = -1;
    int64_t b = cfg->batch < n ? cfg->batch : n;
    l->perm = malloc((size_t)n * sizeof *l->perm);
    bool ok = l->perm != NULL;
    for (int k = 0; k < (cfg->prefetch ? 2 : 1) && ok; k++) {
        l->s[k].input = malloc((size_t)b * ds->in_bytes);
        l->s[k].target = malloc((size_t)b * ds->tgt_bytes);
        l->s[k].idx = malloc((size_t)b * sizeof(int64_t));
        ok = l->s[k].input && l->s[k].target && l->s[k].idx;
    }
    if (!ok) {
        eta_loader_free(l);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "loader: out of memory for batches of %lld", (long long)b);
    }
    make_perm(l);
    if (cfg->prefetch) {
        const char *what = NULL;
        if (pthread_mutex_init(&l->mu, NULL))
            what = "a mutex";
        else if (pthread_cond_init(&l->cv, NULL)) {
            pthread_mutex_destroy(&l->mu);
            what = "a condition variable";
        } else if (pthread_create(&l->th, NULL, worker, l)) {
            pthread_cond_destroy(&l->cv);
            pthread_mutex_destroy(&l->mu);
            what = "the prefetch thread";
        }
        if (what) {
            eta_loader_free(l);
            return eta_spec_fail(err, ETA_ESTATE, NULL, "loader: cannot create %s", what);
        }
        l->thread = true;
        start_job(l, 0);
    }
    *out = l;
    return ETA_OK;
}

void eta_loader_free(eta_loader *l)
{
    if (!l)
        return;
    if (l->thread) {
        pthread_mutex_lock(&l->mu);
        l->job = JOB_QUIT;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->th, NULL);
        pthread_cond_destroy(&l->cv);
        pthread_mutex_destroy(&l->mu);
    }
    for (int k = 0; k < 2; k++) {
        free(l->s[k].input);
        free(l->s[k].target);
        free(l->s[k].idx);
    }
    free(l->perm);
    free(l);
}

int eta_loader_next(eta_loader *l, const void **input, const void **target, int64_t *n)
{
    if (!l)
        return ETA_EINVAL;
    l->msg[0] = '\0';
    if (l->pos >= l->n_epoch) {
        wait_job(l); /* none runs at an epoch's end; this is cheap */
        l->epoch++;
        l->pos = 0;
        make_perm(l);
        start_job(l, 0);
        return 1;
    }
    int k = wait_job(l);
    if (k >= 0 && l->job_rc) {
        snprintf(l->msg, sizeof l->msg, "%s", l->job_err.msg);
        return l->job_rc;
    }
    if (k < 0 || l->s[k].epoch != l->epoch || l->s[k].pos != l->pos || l->s[k].n == 0) {
        /* no prefetch, or it was for another position: gather here */
        k = l->thread ? (l->cur == 0 ? 1 : 0) : 0;
        eta_err e;
        eta_err_clear(&e);
        int rc = fill(l, k, l->pos, &e);
        if (rc) {
            snprintf(l->msg, sizeof l->msg, "%s", e.msg);
            return rc;
        }
    }
    l->cur = k;
    l->pos += l->s[k].n;
    start_job(l, l->pos);
    if (input)
        *input = l->s[k].input;
    if (target)
        *target = l->s[k].target;
    if (n)
        *n = l->s[k].n;
    return 0;
}

int64_t eta_loader_batches(const eta_loader *l)
{
    if (!l)
        return 0;
    return (l->n_epoch + l->cfg.batch - 1) / l->cfg.batch;
}

const char *eta_loader_error(const eta_loader *l)
{
    return l ? l->msg : "";
}

void eta_loader_get_state(const eta_loader *l, eta_loader_state *st)
{
    if (!l || !st)
        return;
    st->seed = l->cfg.seed;
    st->epoch = l->epoch;
    st->pos = l->pos;
}

int eta_loader_set_state(eta_loader *l, const eta_loader_state *st, eta_err *err)
{
    eta_err_clear(err);
    if (!l || !st)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "eta_loader_set_state: no loader or state");
    if (st->epoch < 0)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "loader state: epoch %lld is negative", (long long)st->epoch);
    if (st->pos < 0 || st->pos > l->n)
        return eta_spec_fail(err, ETA_EINVAL, NULL, "loader state: position %lld is outside [0, %lld] (the split's size)",
                             (long long)st->pos, (long long)l->n);
    wait_job(l);
    l->cfg.seed = st->seed;
    l->epoch = st->epoch;
    l->pos = st->pos < l->n_epoch ? st->pos : l->n_epoch;
    l->s[0].n = l->s[1].n = 0; /* whatever was prefetched is for another position */
    make_perm(l);
    start_job(l, l->pos);
    return ETA_OK;
}
