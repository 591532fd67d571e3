/* train/run_zero.c - ZeRO-1 ([dist] zero_optimizer = true): each process
 * keeps the optimizer state of its slice of the parameters alone, so the
 * optimizer's memory per process falls as 1/N, with the same bits as the
 * unsharded step.
 *
 * The slices cut the flat parameter buffer at the fixed blocks of the
 * gradient norm (core/parallel.h: ETA_BLOCK elements from each parameter's
 * start), so each process computes the norm's block sums of its slice and
 * an all-gather gives every process all of them, summed in the order
 * eta_optim_grad_norm sums them: the same norm to the bit, the same guard
 * verdicts, the same clipping. The exchange leaves each process the summed
 * gradient of its slice only (a reduce-scatter); its optimizer, over that
 * slice (eta_net_attach_range), steps; an all-gather of the parameters
 * gives everyone the whole network. Only rules whose update is element by
 * element slice without changing a bit (ZERO_RULES); the others are refused.
 *
 * The guard's snapshots keep each process's own slice. A checkpoint holds
 * the unsharded optimizer, as a one-process run writes it: rank 0 gathers
 * the slices' state arrays into a whole optimizer built for the purpose;
 * a resume on any process count takes its slice out of it.
 */
#include "train/run_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/parallel.h"

enum { OPTIM_NAMES_MAX = 16 };

static const eta_optim_kind ZERO_RULES[] = {
    ETA_OPTIM_SGD,     ETA_OPTIM_ADAM,    ETA_OPTIM_ADAMW,    ETA_OPTIM_ADAMAX,    ETA_OPTIM_RADAM, ETA_OPTIM_ADAGRAD,
    ETA_OPTIM_RMSPROP, ETA_OPTIM_ADADELTA, ETA_OPTIM_RPROP,   ETA_OPTIM_LION,      ETA_OPTIM_ADABELIEF,
};

/* The first cut at or after t: a parameter's start or end, or a block
 * boundary inside an optimized parameter. */
static size_t cut_at(eta_run *r, size_t t)
{
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        size_t off, n = run_param_size(r, i, NULL, &off);
        if (t <= off)
            return off;
        if (t < off + n) {
            if (eta_net_param_is_buffer(r->net, i))
                return off + n;
            size_t k = (t - off + ETA_BLOCK - 1) / ETA_BLOCK * ETA_BLOCK;
            return off + (k < n ? k : n);
        }
    }
    size_t total;
    eta_net_params(r->net, &total);
    return total;
}

static int build_slice_optim(eta_run *r, eta_optim **out, size_t lo, size_t hi, eta_err *err)
{
    int rc = eta_optim_new(out, eta_optim_get_config(r->opt), err);
    if (!rc && (rc = eta_net_attach_range(r->net, *out, r->no_decay[0] ? r->no_decay : NULL, lo, hi, err))) {
        eta_optim_free(*out);
        *out = NULL;
    }
    return rc;
}

int run_zero_new(eta_run *r, eta_err *err)
{
    bool zero = false;
    int rc = eta_config_get_bool(r->cfg, "dist", "zero_optimizer", &zero, err);
    if (rc || !zero)
        return rc;
    const eta_optim_config *oc = eta_optim_get_config(r->opt);
    bool ok = false;
    for (size_t i = 0; i < sizeof ZERO_RULES / sizeof ZERO_RULES[0]; i++)
        ok = ok || oc->kind == ZERO_RULES[i];
    if (!ok)
        return run_config_fail(r, "dist", "zero_optimizer", ETA_EINVAL, err,
                               "ZeRO-1 slices the optimizer's state element by element, and %s's update is not "
                               "element by element; it takes SGD, Adam, AdamW, Adamax, RAdam, Adagrad, RMSprop, "
                               "Adadelta, Rprop, Lion, AdaBelief",
                               eta_optim_name(oc->kind));
    const int N = r->comm.size;
    size_t total;
    eta_net_params(r->net, &total);
    if (!(r->zlo = calloc((size_t)N + 1, sizeof *r->zlo)) || !(r->zblk = calloc((size_t)N + 1, sizeof *r->zblk)))
        return ETA_ENOMEM;
    for (int j = 1; j < N; j++) {
        size_t t = cut_at(r, (size_t)(((unsigned long long)j * total) / (unsigned long long)N));
        r->zlo[j] = t > r->zlo[j - 1] ? t : r->zlo[j - 1];
    }
    r->zlo[N] = total;
    /* the norm's blocks, in the order eta_optim_grad_norm sums them; process j's are [zblk[j], zblk[j+1]) */
    size_t nb = 0;
    int j = 0;
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        if (eta_net_param_is_buffer(r->net, i))
            continue;
        size_t off, n = run_param_size(r, i, NULL, &off);
        for (size_t b = 0; b < n; b += ETA_BLOCK, nb++)
            while (j < N && off + b >= r->zlo[j + 1])
                r->zblk[++j] = nb;
    }
    while (j < N)
        r->zblk[++j] = nb;
    if (!(r->zpart = malloc((nb ? nb : 1) * sizeof *r->zpart)))
        return ETA_ENOMEM;
    if (r->comm.set_slices && (rc = r->comm.set_slices(r->comm.ud, r->zlo, err)))
        return rc;
    eta_optim *mine;
    if ((rc = build_slice_optim(r, &mine, r->zlo[r->comm.rank], r->zlo[r->comm.rank + 1], err)))
        return rc;
    const uint64_t whole = run_zero_state_bytes(r->opt), own = run_zero_state_bytes(mine);
    eta_optim_free(r->opt);
    r->opt = mine;
    r->zero = true;
    /* what each process keeps, for the run's log: the measure of ZeRO-1's saving */
    uint64_t *each = NULL;
    size_t got = 0;
    if ((rc = r->comm.gather(r->comm.ud, &own, sizeof own, (void **)&each, &got, err)))
        return rc;
    if (each) {
        int at = snprintf(r->zero_msg, sizeof r->zero_msg, "ZeRO-1: optimizer state per process:");
        for (int p = 0; p < N && at < (int)sizeof r->zero_msg; p++)
            at += snprintf(r->zero_msg + at, sizeof r->zero_msg - (size_t)at, " %llu", (unsigned long long)each[p]);
        if (at < (int)sizeof r->zero_msg)
            snprintf(r->zero_msg + at, sizeof r->zero_msg - (size_t)at, " bytes, %llu unsharded (%.3f of it on "
                     "process 0)", (unsigned long long)whole, whole ? (double)each[0] / (double)whole : 0.0);
    }
    free(each);
    return ETA_OK;
}

void run_zero_free(eta_run *r)
{
    free(r->zlo);
    free(r->zblk);
    free(r->zpart);
    r->zlo = r->zblk = NULL;
    r->zpart = NULL;
}

size_t run_zero_state_bytes(const eta_optim *o)
{
    size_t bytes = 0;
    for (int i = 0; i < eta_optim_param_count(o); i++)
        for (int k = 0; eta_optim_state_name(o, k); k++) {
            size_t n;
            if (!eta_optim_state(o, i, eta_optim_state_name(o, k), NULL, &n))
                bytes += n * sizeof(float);
        }
    return bytes;
}

int run_zero_grad_norm(eta_run *r, double *norm, eta_err *err)
{
    const float *g = eta_net_grads(r->net, NULL);
    const size_t lo = r->zlo[r->comm.rank], hi = r->zlo[r->comm.rank + 1];
    size_t nb = 0;
    double slot;
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        if (eta_net_param_is_buffer(r->net, i))
            continue;
        size_t off, n = run_param_size(r, i, NULL, &off);
        for (size_t b = 0; b < n; b += ETA_BLOCK, nb++)
            if (off + b >= lo && off + b < hi) /* one block: its sum alone, as eta_reduce makes it */
                r->zpart[nb] = eta_sumsq_f32(g + off + b, n - b < ETA_BLOCK ? n - b : ETA_BLOCK, &slot, 1);
    }
    int rc = r->comm.allgather(r->comm.ud, r->zpart, r->zblk, sizeof *r->zpart, err);
    if (rc)
        return rc;
    double s = 0;
    nb = 0;
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        if (eta_net_param_is_buffer(r->net, i))
            continue;
        size_t off, n = run_param_size(r, i, NULL, &off);
        double t = 0;
        for (size_t b = 0; b < n; b += ETA_BLOCK)
            t += r->zpart[nb++];
        s += t;
    }
    *norm = sqrt(s);
    return ETA_OK;
}

int run_zero_gather(eta_run *r, float *buf, eta_err *err)
{
    return r->comm.allgather(r->comm.ud, buf, r->zlo, sizeof *buf, err);
}

/* ---- checkpoints: the whole optimizer ---------------------------------- */

/* The state names the rule keeps with its options (asked of a whole
 * optimizer, which has every parameter). */
static int kept_names(const eta_optim *whole, const char **names, int cap)
{
    int nn = 0;
    for (int k = 0; eta_optim_state_name(whole, k) && nn < cap; k++)
        if (!eta_optim_state(whole, 0, eta_optim_state_name(whole, k), NULL, NULL))
            names[nn++] = eta_optim_state_name(whole, k);
    return nn;
}

/* Elements of the optimized parameters inside [lo, hi). */
static size_t slice_elems(eta_run *r, size_t lo, size_t hi)
{
    size_t m = 0;
    for (int i = 0; i < eta_net_param_count(r->net); i++) {
        if (eta_net_param_is_buffer(r->net, i))
            continue;
        size_t off, n = run_param_size(r, i, NULL, &off);
        size_t a = off > lo ? off : lo, b = off + n < hi ? off + n : hi;
        m += a < b ? b - a : 0;
    }
    return m;
}

/* A whole optimizer, as a one-process run builds it, its counters this
 * run's. */
static int whole_optim(eta_run *r, eta_optim **out, eta_err *err)
{
    size_t total;
    eta_net_params(r->net, &total);
    int rc = build_slice_optim(r, out, 0, total, err);
    if (!rc && (rc = eta_optim_handover(*out, r->opt))) {
        run_fail(err, rc, "ZeRO-1: %s", eta_optim_error(*out));
        eta_optim_free(*out);
        *out = NULL;
    }
    return rc;
}

int run_zero_optim_save(eta_run *r, void **buf, size_t *len, eta_err *err)
{
    *buf = NULL;
    *len = 0;
    const int N = r->comm.size, me = r->comm.rank;
    /* every process: its arrays, name after name, each the pieces of its slice in order */
    const char *names[OPTIM_NAMES_MAX];
    int nn = 0;
    for (int k = 0; eta_optim_state_name(r->opt, k) && nn < OPTIM_NAMES_MAX; k++)
        if (eta_optim_param_count(r->opt) > 0 &&
            !eta_optim_state(r->opt, 0, eta_optim_state_name(r->opt, k), NULL, NULL))
            names[nn++] = eta_optim_state_name(r->opt, k);
    const size_t m = slice_elems(r, r->zlo[me], r->zlo[me + 1]);
    float *pack = malloc((m * (size_t)nn + 1) * sizeof *pack), *all = NULL;
    size_t all_bytes = 0, at = 0;
    int rc = pack ? ETA_OK : ETA_ENOMEM;
    for (int k = 0; !rc && k < nn; k++)
        for (int i = 0; i < eta_optim_param_count(r->opt); i++) {
            void *d;
            size_t n;
            eta_optim_state(r->opt, i, names[k], &d, &n);
            memcpy(pack + at, d, n * sizeof *pack);
            at += n;
        }
    if (!rc && at != m * (size_t)nn)
        rc = run_fail(err, ETA_EINVAL, "ZeRO-1: the optimizer's state is not element by element");
    if (!rc)
        rc = r->comm.gather(r->comm.ud, pack, at * sizeof *pack, (void **)&all, &all_bytes, err);
    free(pack);
    if (rc || me != 0)
        return rc;
    eta_optim *whole = NULL;
    if ((rc = whole_optim(r, &whole, err))) {
        free(all);
        return rc;
    }
    nn = kept_names(whole, names, OPTIM_NAMES_MAX);
    /* process j's pack: nn runs of m_j elements; the runs of name k, in process
     * order, are that name's arrays of the whole optimizer one after another */
    size_t base = 0;
    for (int j = 0; j < N; j++) {
        const size_t mj = slice_elems(r, r->zlo[j], r->zlo[j + 1]);
        for (int k = 0; k < nn; k++) {
            const float *src = all + base + (size_t)k * mj;
            size_t left = mj, done = 0;
            /* the run starts where process j's slice starts in the whole arrays */
            size_t skip = slice_elems(r, 0, r->zlo[j]);
            for (int i = 0; left > 0 && i < eta_optim_param_count(whole); i++) {
                void *d;
                size_t n;
                eta_optim_state(whole, i, names[k], &d, &n);
                if (skip >= n) {
                    skip -= n;
                    continue;
                }
                size_t take = n - skip < left ? n - skip : left;
                memcpy((float *)d + skip, src + done, take * sizeof(float));
                done += take;
                left -= take;
                skip = 0;
            }
        }
        base += mj * (size_t)nn;
    }
    free(all);
    void *b = NULL;
    size_t l = 0;
    rc = eta_optim_save(whole, &b, &l);
    if (!rc && !(*buf = malloc(l ? l : 1)))
        rc = ETA_ENOMEM;
    if (!rc) {
        memcpy(*buf, b, l);
        *len = l;
    }
    if (b)
        eta_optim_free_buf(whole, b);
    eta_optim_free(whole);
    return rc;
}

int run_zero_optim_load(eta_run *r, const void *buf, size_t len, eta_err *err)
{
    eta_optim *whole = NULL;
    int rc = whole_optim(r, &whole, err);
    if (rc)
        return rc;
    if ((rc = eta_optim_load(whole, buf, len))) {
        run_fail(err, rc, "ZeRO-1: the checkpoint's optimizer: %s", eta_optim_error(whole));
        eta_optim_free(whole);
        return rc;
    }
    if ((rc = eta_optim_handover(r->opt, whole))) {
        run_fail(err, rc, "ZeRO-1: %s", eta_optim_error(r->opt));
        eta_optim_free(whole);
        return rc;
    }
    const char *names[OPTIM_NAMES_MAX];
    const int nn = kept_names(whole, names, OPTIM_NAMES_MAX);
    const size_t lo = r->zlo[r->comm.rank], hi = r->zlo[r->comm.rank + 1];
    for (int k = 0; k < nn; k++) {
        int wi = 0, mi = 0; /* the whole's parameter, this slice's piece */
        for (int i = 0; i < eta_net_param_count(r->net); i++) {
            if (eta_net_param_is_buffer(r->net, i))
                continue;
            size_t off, n = run_param_size(r, i, NULL, &off);
            size_t a = off > lo ? off : lo, b = off + n < hi ? off + n : hi;
            if (a < b) {
                void *src, *dst;
                eta_optim_state(whole, wi, names[k], &src, NULL);
                if (eta_optim_state(r->opt, mi, names[k], &dst, NULL) == ETA_OK)
                    memcpy(dst, (float *)src + (a - off), (b - a) * sizeof(float));
                mi++;
            }
            wi++;
        }
    }
    eta_optim_free(whole);
    return ETA_OK;
}

int run_zero_follow(eta_run *r, eta_err *err)
{
    if (!r->zero)
        return ETA_OK;
    void *buf;
    size_t len;
    int rc = run_zero_optim_save(r, &buf, &len, err);
    free(buf);
    return rc;
}
