/* train/run_shard.c - the data-parallel step (run.h says what it promises):
 * a batch cut into shards, each shard's forward and backward, the exchange
 * that sums the shards' gradients in shard order, BatchNorm's statistics
 * and the count of passes kept as one pass's. The exchange between
 * processes comes from src/dist; one process alone uses the local exchange
 * here, which keeps every shard's gradient and sums them at the end.
 */
#include "train/run_impl.h"

#include <stdlib.h>
#include <string.h>

void eta_shard_range(int rank, int shards, int size, int *first, int *last)
{
    *first = (int)(((int64_t)rank * shards) / size);
    *last = (int)(((int64_t)(rank + 1) * shards) / size);
}

int eta_shard_owner(int s, int shards, int size)
{
    int r = (int)(((int64_t)s * size) / shards);
    /* the r with r*S/size <= s < (r+1)*S/size (floors): adjust the estimate */
    while (r > 0 && ((int64_t)r * shards) / size > s)
        r--;
    while (r + 1 < size && ((int64_t)(r + 1) * shards) / size <= s)
        r++;
    return r;
}

void eta_shard_sum(float *out, const float *const *parts, const int64_t *rows, int shards, size_t n)
{
    int64_t total = 0;
    for (int s = 0; s < shards; s++)
        total += rows[s];
    bool first = true;
    for (int s = 0; s < shards; s++) {
        if (rows[s] == 0)
            continue;
        const float w = (float)((double)rows[s] / (double)total);
        const float *restrict p = parts[s];
        float *restrict o = out;
        if (first) {
#pragma omp simd
            for (size_t i = 0; i < n; i++)
                o[i] = w * p[i];
        } else {
#pragma omp simd
            for (size_t i = 0; i < n; i++)
                o[i] += w * p[i];
        }
        first = false;
    }
}

/* ---- the local exchange: every shard in this process ------------------- */

typedef struct local_comm {
    float *stage;     /* shards x n: each shard's gradient */
    float *g;
    size_t n;
    int shards;
    const int64_t *rows;
} local_comm;

static int local_begin(void *ud, int shards, const int64_t *rows, float *g, size_t n, eta_err *err)
{
    (void)err;
    local_comm *c = ud;
    c->shards = shards;
    c->rows = rows;
    c->g = g;
    c->n = n;
    return ETA_OK;
}

static void local_ready(void *ud, int shard, size_t from, size_t to)
{
    local_comm *c = ud;
    memcpy(c->stage + (size_t)shard * c->n + from, c->g + from, (to - from) * sizeof *c->g);
}

static int local_end(void *ud, double *losses, eta_err *err)
{
    (void)losses;
    (void)err;
    local_comm *c = ud;
    const float *parts[ETA_MAX_SHARDS];
    for (int s = 0; s < c->shards; s++)
        parts[s] = c->stage + (size_t)s * c->n;
    eta_shard_sum(c->g, parts, c->rows, c->shards, c->n);
    return ETA_OK;
}

static int local_bcast(void *ud, int root, void *buf, size_t bytes, eta_err *err)
{
    (void)ud, (void)root, (void)buf, (void)bytes, (void)err;
    return ETA_OK;
}

static int local_allgather(void *ud, void *buf, const size_t *lo, size_t unit, eta_err *err)
{
    (void)ud, (void)buf, (void)lo, (void)unit, (void)err;
    return ETA_OK;
}

static int local_gather(void *ud, const void *mine, size_t bytes, void **all, size_t *all_bytes, eta_err *err)
{
    (void)ud, (void)err;
    if (!(*all = malloc(bytes ? bytes : 1)))
        return ETA_ENOMEM;
    memcpy(*all, mine, bytes);
    *all_bytes = bytes;
    return ETA_OK;
}

/* ---- building ----------------------------------------------------------- */

int run_shard_new(eta_run *r, int64_t shards, eta_err *err)
{
    const eta_run_comm *comm = r->opts.comm;
    r->shards = shards > 0 ? (int)shards : comm ? comm->size : 1;
    if (r->shards > ETA_MAX_SHARDS)
        return run_config_fail(r, "dist", "shards", ETA_EINVAL, err, "at most %d shards, got %d", ETA_MAX_SHARDS,
                               r->shards);
    bool zero = false;
    int rc = eta_config_get_bool(r->cfg, "dist", "zero_optimizer", &zero, err);
    if (rc)
        return rc;
    r->sharded = r->shards > 1 || comm || zero; /* ZeRO-1 in one process: one slice, the same code */
    if (!r->sharded)
        return ETA_OK;
    size_t np, nbuf = 0;
    eta_net_params(r->net, &np);
    for (int i = 0; i < eta_net_param_count(r->net); i++)
        if (eta_net_param_is_buffer(r->net, i)) {
            size_t off, n = run_param_size(r, i, NULL, &off);
            nbuf += n;
        }
    r->bufsave_n = nbuf;
    if (nbuf && !(r->bufsave = malloc(nbuf * sizeof *r->bufsave)))
        return ETA_ENOMEM;
    if (comm) {
        r->comm = *comm;
        return ETA_OK;
    }
    local_comm *c = calloc(1, sizeof *c);
    if (!c || !(c->stage = malloc((size_t)r->shards * np * sizeof *c->stage))) {
        free(c);
        return ETA_ENOMEM;
    }
    r->comm = (eta_run_comm){0, 1, 0, c, local_begin, local_ready, local_end, local_bcast, NULL, local_allgather,
                             local_gather};
    r->local_comm = c;
    return ETA_OK;
}

void run_shard_free(eta_run *r)
{
    local_comm *c = r->local_comm;
    if (c)
        free(c->stage);
    free(c);
    free(r->bufsave);
    r->local_comm = NULL;
    r->bufsave = NULL;
}

/* ---- one batch ---------------------------------------------------------- */

/* Copies the network's buffers (BatchNorm statistics) to or from save. */
static void buffers_copy(eta_run *r, bool out)
{
    float *p = eta_net_params(r->net, NULL), *b = r->bufsave;
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        if (!eta_net_param_is_buffer(r->net, i))
            continue;
        size_t off, n = run_param_size(r, i, NULL, &off);
        if (out)
            memcpy(b, p + off, n * sizeof *b);
        else
            memcpy(p + off, b, n * sizeof *b);
        b += n;
    }
}

/* The hook's state: the shard whose backward runs and what it reported. */
typedef struct hook_state {
    eta_run *r;
    int shard;
    size_t told;
} hook_state;

static void on_final(void *ud, size_t from)
{
    hook_state *h = ud;
    if (from < h->told) {
        h->r->comm.ready(h->r->comm.ud, h->shard, from, h->told);
        h->told = from;
    }
}

/* Bytes of one example's input and target in a batch. */
static void example_bytes(const eta_data_info *info, size_t *xb, size_t *yb)
{
    size_t x = 4, y = 4; /* float32 and int32 alike */
    for (int d = 0; d < info->input_ndim; d++)
        x *= (size_t)info->input_shape[d];
    for (int d = 0; d < info->target_ndim; d++)
        y *= (size_t)info->target_shape[d];
    *xb = x;
    *yb = y;
}

int run_shard_batch(eta_run *r, const void *x, const void *y, int64_t n, int micro, double *loss, eta_err *err)
{
    const int S = r->shards;
    int64_t rows[ETA_MAX_SHARDS];
    double losses[ETA_MAX_SHARDS];
    for (int s = 0; s < S; s++) {
        rows[s] = (int64_t)(((s + 1) * n) / S) - (int64_t)((s * n) / S);
        losses[s] = 0;
    }
    size_t ng, xb, yb;
    float *g = eta_net_grads(r->net, &ng);
    example_bytes(r->info, &xb, &yb);
    eta_run_comm *c = &r->comm;
    int rc = c->begin(c->ud, S, rows, g, ng, err);
    if (rc)
        return rc;
    const int64_t passes = eta_net_forward_count(r->net);
    int first, last;
    eta_shard_range(c->rank, S, c->size, &first, &last);
    hook_state h = {r, 0, ng};
    for (int s = first; s < last; s++) {
        if (rows[s] == 0)
            continue;
        const int64_t at = (int64_t)((s * n) / S);
        if ((rc = run_prepare(r, rows[s], err)))
            return rc;
        if (S > 1) /* a shard's dropout does not depend on the process that computes it */
            eta_net_reseed(r->net, (r->seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)r->step << 20) ^
                                       ((uint64_t)micro << 12) ^ (uint64_t)s);
        eta_net_set_forward_count(r->net, passes);
        h.shard = s;
        h.told = ng;
        eta_net_set_grad_hook(r->net, on_final, &h);
        rc = eta_net_forward(r->net, (const char *)x + (size_t)at * xb, (const char *)y + (size_t)at * yb,
                             &losses[s]);
        if (!rc)
            rc = eta_net_backward(r->net);
        eta_net_set_grad_hook(r->net, NULL, NULL);
        if (rc)
            return run_fail(err, rc, "step %lld, shard %d: %s", (long long)r->step + 1, s, eta_net_error(r->net));
        if (s == 0 && r->bufsave_n)
            buffers_copy(r, true);
    }
    if ((rc = c->end(c->ud, losses, err)))
        return rc;
    if (r->bufsave_n) {
        if ((rc = c->bcast(c->ud, eta_shard_owner(0, S, c->size), r->bufsave, r->bufsave_n * sizeof *r->bufsave,
                           err)))
            return rc;
        buffers_copy(r, false);
    }
    eta_net_set_forward_count(r->net, passes + 1);
    double sum = 0;
    for (int s = 0; s < S; s++)
        if (rows[s])
            sum += (double)rows[s] / (double)n * losses[s];
    *loss = sum;
    return ETA_OK;
}
