/* dist/exchange.c - the gradient exchange of a data-parallel step over MPI
 * (the eta_run_comm of train/run.h).
 *
 * The flat gradient of n floats is cut into one slice per process. As a
 * shard's backward makes a bucket of gradients final (buckets of
 * bucket_cap_mb from the top of the buffer down, the order backward
 * finishes them, as DDP's), the process that computes the shard sends each
 * slice's part of the bucket to the slice's process, while backward goes on.
 * Each process then sums its slice over the shards in shard order
 * (eta_shard_sum: the same arithmetic at any process count), and an
 * all-gather gives every process the whole sum. Losses are gathered, and
 * BatchNorm's statistics broadcast, the same way. All of it goes as
 * point-to-point messages (a ring's volume), so that a wait always knows
 * which process it waits for.
 *
 * Nothing waits forever: every wait polls its requests (without sleeping
 * for its first 2 ms, which on shared memory is where messages arrive;
 * then with 20 us naps) up to [dist] timeout seconds, and then stops the
 * run with the name of the process it waited for. A process that dies is
 * reported by mpirun, which ends the job.
 */
#ifdef ETA_HAVE_MPI
#include "dist/dist_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

enum { TAG_GATHER = 20000, TAG_BCAST = 20001 }; /* bucket messages use tags below 16384 */
#define SPIN_SECONDS 0.002 /* a wait polls without sleeping for this long, then naps between polls */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int dist_wait(dist_comm *c, int count, MPI_Request *req, const int *peer, const char *what, eta_err *err)
{
    const double t0 = now();
    struct timespec nap = {0, 20000};
    for (;;) {
        int done = 0;
        int rc = MPI_Testall(count, req, &done, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS)
            return eta_spec_fail(err, ETA_EIO, NULL, "process %d of %d: %s failed (MPI error %d): another process "
                                 "was lost", c->rank, c->size, what, rc);
        if (done)
            return ETA_OK;
        const double waited = now() - t0;
        if (waited < SPIN_SECONDS)
            continue; /* on shared memory a message takes microseconds: a nap would cost more */
        if (waited > c->timeout) {
            int lost = -1;
            for (int i = 0; i < count && lost < 0; i++) {
                int flag = 0;
                if (req[i] != MPI_REQUEST_NULL && MPI_Request_get_status(req[i], &flag, MPI_STATUS_IGNORE) ==
                    MPI_SUCCESS && !flag)
                    lost = peer ? peer[i] : -1;
            }
            if (lost >= 0)
                return eta_spec_fail(err, ETA_EIO, NULL, "process %d of %d: no word from process %d for %g s (%s): "
                                     "stopping ([dist] timeout)", c->rank, c->size, lost, c->timeout, what);
            return eta_spec_fail(err, ETA_EIO, NULL, "process %d of %d: %s did not complete in %g s: stopping "
                                 "([dist] timeout)", c->rank, c->size, what, c->timeout);
        }
        nanosleep(&nap, NULL);
    }
}

/* ---- requests of a step ------------------------------------------------- */

static int add_req(dist_comm *c, int peer, MPI_Request **slot, eta_err *err)
{
    if (c->nreq == c->cap) {
        int cap = c->cap ? 2 * c->cap : 64;
        MPI_Request *r = realloc(c->req, (size_t)cap * sizeof *r);
        int *p = realloc(c->peer, (size_t)cap * sizeof *p);
        if (r)
            c->req = r;
        if (p)
            c->peer = p;
        if (!r || !p)
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "the gradient exchange: out of memory");
        c->cap = cap;
    }
    c->peer[c->nreq] = peer;
    *slot = &c->req[c->nreq++];
    return ETA_OK;
}

static size_t bucket_lo(const dist_comm *c, int b)
{
    size_t top = (size_t)b * c->bucket;
    return c->n - top > c->bucket ? c->n - top - c->bucket : 0;
}

static size_t bucket_hi(const dist_comm *c, int b)
{
    return c->n - (size_t)b * c->bucket;
}

/* An all-gather posted as point-to-point messages (process j's part of buf
 * is units [lo[j], lo[j+1]) of `unit` bytes), so that a wait knows which
 * process it waits for; the volume is a ring's. */
static int post_allgather(dist_comm *c, void *buf, const size_t *lo, size_t unit, eta_err *err)
{
    char *b = buf;
    const size_t mine = (lo[c->rank + 1] - lo[c->rank]) * unit;
    for (int j = 0; j < c->size; j++) {
        if (j == c->rank)
            continue;
        MPI_Request *rq;
        const size_t theirs = (lo[j + 1] - lo[j]) * unit;
        int rc;
        if (theirs) {
            if ((rc = add_req(c, j, &rq, err)))
                return rc;
            MPI_Irecv(b + lo[j] * unit, (int)theirs, MPI_BYTE, j, TAG_GATHER, MPI_COMM_WORLD, rq);
        }
        if (mine) {
            if ((rc = add_req(c, j, &rq, err)))
                return rc;
            MPI_Isend(b + lo[c->rank] * unit, (int)mine, MPI_BYTE, j, TAG_GATHER, MPI_COMM_WORLD, rq);
        }
    }
    return ETA_OK;
}

/* ---- eta_run_comm -------------------------------------------------------- */

static int grow(void **p, size_t *have, size_t want, eta_err *err)
{
    if (*have >= want)
        return ETA_OK;
    void *q = realloc(*p, want);
    if (!q)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "the gradient exchange: out of memory (%zu bytes)", want);
    *p = q;
    *have = want;
    return ETA_OK;
}

static int ex_begin(void *ud, int shards, const int64_t *rows, float *g, size_t n, eta_err *err)
{
    dist_comm *c = ud;
    c->shards = shards;
    c->rows = rows;
    c->g = g;
    if (c->n != n) {
        c->n = n;
        dist_slices(c, n);
    }
    c->nb = (int)((n + c->bucket - 1) / c->bucket);
    eta_shard_range(c->rank, shards, c->size, &c->first, &c->last);
    const size_t mine = c->lo[c->rank + 1] - c->lo[c->rank];
    int rc;
    if ((rc = grow((void **)&c->recv, &c->recv_bytes, (size_t)shards * (mine ? mine : 1) * sizeof(float), err)) ||
        (rc = grow((void **)&c->stage, &c->stage_bytes,
                   (size_t)(c->last - c->first ? c->last - c->first : 1) * n * sizeof(float), err)) ||
        (rc = grow((void **)&c->sent, &c->sent_bytes, (size_t)shards * sizeof(int), err)))
        return rc;
    c->nreq = 0;
    const size_t lo = c->lo[c->rank], hi = c->lo[c->rank + 1];
    for (int s = 0; s < shards; s++) {
        c->sent[s] = 0;
        if (rows[s] == 0 || (s >= c->first && s < c->last))
            continue;
        const int from = eta_shard_owner(s, shards, c->size);
        for (int b = 0; b < c->nb; b++) {
            size_t pl = bucket_lo(c, b) > lo ? bucket_lo(c, b) : lo, ph = bucket_hi(c, b) < hi ? bucket_hi(c, b) : hi;
            if (pl >= ph)
                continue;
            MPI_Request *rq;
            if ((rc = add_req(c, from, &rq, err)))
                return rc;
            MPI_Irecv(c->recv + (size_t)s * mine + (pl - lo), (int)(ph - pl), MPI_FLOAT, from, b & 0x3fff,
                      MPI_COMM_WORLD, rq);
        }
    }
    return ETA_OK;
}

/* Sends bucket b of shard s (final in the network's buffer) to the slices'
 * processes; this process's own part goes straight into its sum's input. */
static void send_bucket(dist_comm *c, int s, int b)
{
    const size_t blo = bucket_lo(c, b), bhi = bucket_hi(c, b), mine = c->lo[c->rank + 1] - c->lo[c->rank];
    float *stage = c->stage + (size_t)(s - c->first) * c->n;
    memcpy(stage + blo, c->g + blo, (bhi - blo) * sizeof(float));
    for (int j = 0; j < c->size; j++) {
        size_t pl = blo > c->lo[j] ? blo : c->lo[j], ph = bhi < c->lo[j + 1] ? bhi : c->lo[j + 1];
        if (pl >= ph)
            continue;
        if (j == c->rank) {
            memcpy(c->recv + (size_t)s * mine + (pl - c->lo[j]), stage + pl, (ph - pl) * sizeof(float));
            continue;
        }
        MPI_Request *rq;
        if (add_req(c, j, &rq, NULL)) {
            c->oom = true;
            return;
        }
        MPI_Isend(stage + pl, (int)(ph - pl), MPI_FLOAT, j, b & 0x3fff, MPI_COMM_WORLD, rq);
    }
}

static void ex_ready(void *ud, int shard, size_t from, size_t to)
{
    (void)to;
    dist_comm *c = ud;
    while (c->sent[shard] < c->nb && bucket_lo(c, c->sent[shard]) >= from)
        send_bucket(c, shard, c->sent[shard]++);
    int flag; /* progress for the messages in flight while backward goes on */
    if (c->nreq)
        MPI_Testall(c->nreq, c->req, &flag, MPI_STATUSES_IGNORE);
}

static int ex_end(void *ud, double *losses, eta_err *err)
{
    dist_comm *c = ud;
    if (c->oom)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "the gradient exchange: out of memory");
    int rc = dist_wait(c, c->nreq, c->req, c->peer, "the gradient exchange", err);
    if (rc)
        return rc;
    const size_t lo = c->lo[c->rank], mine = c->lo[c->rank + 1] - lo;
    const float *parts[ETA_MAX_SHARDS];
    for (int s = 0; s < c->shards; s++)
        parts[s] = c->recv + (size_t)s * mine;
    eta_shard_sum(c->g + lo, parts, c->rows, c->shards, mine);
    /* every shard's loss, and (unless the optimizer state is sliced) the whole sum */
    for (int j = 0; j <= c->size; j++) /* the shards' losses: process j's are [slo[j], slo[j+1]) */
        c->slo[j] = (size_t)(((int64_t)j * c->shards) / c->size);
    c->nreq = 0;
    if ((rc = post_allgather(c, losses, c->slo, sizeof *losses, err)) ||
        (!c->zero && (rc = post_allgather(c, c->g, c->lo, sizeof *c->g, err))))
        return rc;
    return dist_wait(c, c->nreq, c->req, c->peer, "gathering the summed gradients", err);
}

static int ex_bcast(void *ud, int root, void *buf, size_t bytes, eta_err *err)
{
    dist_comm *c = ud;
    c->nreq = 0;
    for (int j = 0; j < c->size; j++) {
        MPI_Request *rq;
        if ((c->rank == root) == (j == root)) /* the root sends to every other; the others hear the root */
            continue;
        int rc = add_req(c, c->rank == root ? j : root, &rq, err);
        if (rc)
            return rc;
        if (c->rank == root)
            MPI_Isend(buf, (int)bytes, MPI_BYTE, j, TAG_BCAST, MPI_COMM_WORLD, rq);
        else
            MPI_Irecv(buf, (int)bytes, MPI_BYTE, root, TAG_BCAST, MPI_COMM_WORLD, rq);
    }
    return dist_wait(c, c->nreq, c->req, c->peer, "BatchNorm statistics from shard 0", err);
}

/* The cores shared out among the processes on this machine. */
static int dist_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN), local = eta_dist_local_size();
    return cores > local && local > 0 ? (int)(cores / local) : 1;
}

static int ex_set_slices(void *ud, const size_t *lo, eta_err *err)
{
    (void)err;
    dist_comm *c = ud;
    memcpy(c->lo, lo, ((size_t)c->size + 1) * sizeof *lo);
    c->n = lo[c->size];
    return ETA_OK;
}

static int ex_allgather(void *ud, void *buf, const size_t *lo, size_t unit, eta_err *err)
{
    dist_comm *c = ud;
    c->nreq = 0;
    int rc = post_allgather(c, buf, lo, unit, err);
    return rc ? rc : dist_wait(c, c->nreq, c->req, c->peer, "the all-gather of the slices", err);
}

static int ex_gather(void *ud, const void *mine, size_t bytes, void **all, size_t *all_bytes, eta_err *err)
{
    dist_comm *c = ud;
    *all = NULL;
    *all_bytes = 0;
    int n = (int)bytes;
    MPI_Request rq;
    MPI_Igather(&n, 1, MPI_INT, c->acount, 1, MPI_INT, 0, MPI_COMM_WORLD, &rq);
    int rc = dist_wait(c, 1, &rq, NULL, "gathering the optimizer's slices", err);
    if (rc)
        return rc;
    size_t total = 0;
    if (c->rank == 0) {
        for (int j = 0; j < c->size; j++) {
            c->adispl[j] = (int)total;
            total += (size_t)c->acount[j];
        }
        if (!(*all = malloc(total ? total : 1)))
            return eta_spec_fail(err, ETA_ENOMEM, NULL, "gathering the optimizer's slices: out of memory");
    }
    MPI_Igatherv(mine, n, MPI_BYTE, *all, c->acount, c->adispl, MPI_BYTE, 0, MPI_COMM_WORLD, &rq);
    if ((rc = dist_wait(c, 1, &rq, NULL, "gathering the optimizer's slices", err))) {
        free(*all);
        *all = NULL;
        return rc;
    }
    *all_bytes = total;
    return ETA_OK;
}

void dist_slices(dist_comm *c, size_t n)
{
    for (int j = 0; j <= c->size; j++)
        c->lo[j] = (size_t)(((unsigned long long)j * n) / (unsigned long long)c->size);
}

int eta_dist_comm_new(eta_run_comm **out, const eta_config *cfg, eta_err *err)
{
    *out = NULL;
    dist_comm *c = calloc(1, sizeof *c);
    if (!c)
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "the gradient exchange: out of memory");
    c->rank = eta_dist_rank();
    c->size = eta_dist_size();
    double mb = 25, timeout = 300;
    bool zero = false;
    int rc;
    if ((rc = eta_config_get_real(cfg, "dist", "bucket_cap_mb", &mb, err)) ||
        (rc = eta_config_get_real(cfg, "dist", "timeout", &timeout, err)) ||
        (rc = eta_config_get_bool(cfg, "dist", "zero_optimizer", &zero, err))) {
        free(c);
        return rc;
    }
    c->bucket = (size_t)fmax(1.0, floor(mb * 1048576.0 / sizeof(float)));
    c->timeout = timeout;
    c->zero = zero;
    c->lo = calloc((size_t)c->size + 1, sizeof *c->lo);
    c->acount = calloc((size_t)c->size, sizeof *c->acount);
    c->slo = calloc((size_t)c->size + 1, sizeof *c->slo);
    c->adispl = calloc((size_t)c->size, sizeof *c->adispl);
    if (!c->lo || !c->acount || !c->adispl || !c->slo) {
        eta_dist_comm_free(&c->pub);
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "the gradient exchange: out of memory");
    }
    c->pub = (eta_run_comm){c->rank,  c->size,  dist_threads(), c,          ex_begin, ex_ready,
                            ex_end,   ex_bcast, ex_set_slices,  ex_allgather, ex_gather};
    *out = &c->pub;
    return ETA_OK;
}

void eta_dist_comm_free(eta_run_comm *pub)
{
    if (!pub)
        return;
    dist_comm *c = pub->ud;
    free(c->recv);
    free(c->stage);
    free(c->sent);
    free(c->req);
    free(c->peer);
    free(c->lo);
    free(c->acount);
    free(c->slo);
    free(c->adispl);
    free(c);
}
#else
typedef int dist_exchange_needs_mpi; /* without MPI, group.c answers for the exchange */
#endif /* ETA_HAVE_MPI */
