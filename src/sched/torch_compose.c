/* sched/torch_compose.c - composition and plateaus, after PyTorch
 * (torch/optim/lr_scheduler.py): SequentialLR, ChainedScheduler,
 * ReduceLROnPlateau, and the table of PyTorch's kinds.
 *
 * SequentialLR runs child k from milestone k-1 on, on its own clock and from
 * the group's initial lr (PyTorch restarts each child with step(0) at its
 * milestone). ChainedScheduler feeds each child's lr to the next, which for
 * PyTorch's multiplicative (chainable) children is their product.
 *
 * Differs from torch: both accept ReduceLROnPlateau as a child (pytorch#68978;
 * torch rejects it), which then observes the metrics of the steps where it is
 * active. SequentialLR with a milestone at 0 starts with the child after it
 * (torch starts with the first child, pytorch#185872).
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

/* ---- SequentialLR(schedulers, milestones) ---- */
enum { SEQ_SCHEDS, SEQ_MILESTONES };
static const sched_arg seq_args[] = {
    {"schedulers", SA_SCHEDS, true, NAN, 0, 0, false, false, NULL},
    {"milestones", SA_REALS, true, NAN, 0, INFINITY, false, true, NULL},
    SARG_IGNORED("last_epoch"),
    SARG_IGNORED("verbose"),
};

static int seq_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int nm = n->vlen[SEQ_MILESTONES];
    if (nm != n->nkids - 1)
        return eta_spec_fail(err, ETA_EINVAL, vals[SEQ_MILESTONES] ? vals[SEQ_MILESTONES] : call,
                             "Sequential Schedulers expects number of schedulers provided to be one more than the "
                             "number of milestone points, but got number of schedulers %d and the number of "
                             "milestones to be equal to %d",
                             n->nkids, nm);
    for (int i = 0; i < nm; i++) {
        double m = n->vec[SEQ_MILESTONES][i];
        if (m != floor(m) || (i > 0 && m <= n->vec[SEQ_MILESTONES][i - 1]))
            return eta_spec_fail(err, ETA_EINVAL, vals[SEQ_MILESTONES]->items[i],
                                 "milestones must be increasing integers, got %g%s", m,
                                 i > 0 ? " after a larger or equal one" : "");
    }
    return ETA_OK;
}

/* The child active at step t and the step on its own clock. */
static int seq_child(const sched_node *n, double t, double *local)
{
    int k = 0;
    while (k < n->vlen[SEQ_MILESTONES] && n->vec[SEQ_MILESTONES][k] <= floor(t))
        k++;
    *local = k ? t - n->vec[SEQ_MILESTONES][k - 1] : t;
    return k;
}

static double seq_lr(const sched_node *n, double t, double base, int group)
{
    double local;
    int k = seq_child(n, t, &local);
    return sched_node_lr(n->kids[k], local, base, group);
}

/* The active child's momentum or, where it sets none, the last value an
 * earlier child set (the optimizer keeps it). */
static double seq_momentum(const sched_node *n, double t, int group)
{
    double local;
    int k = seq_child(n, t, &local);
    for (int j = k; j >= 0; j--) {
        double m = sched_node_momentum(n->kids[j], local, group);
        if (!isnan(m))
            return m;
        if (j > 0)
            local = n->vec[SEQ_MILESTONES][j - 1] - 1 - (j > 1 ? n->vec[SEQ_MILESTONES][j - 2] : 0);
    }
    return NAN;
}

/* The schedule ends where a child runs out before its turn is over (or at
 * the last child's end). */
static int64_t seq_last(const sched_node *n)
{
    for (int k = 0; k < n->nkids; k++) {
        int64_t start = k ? (int64_t)n->vec[SEQ_MILESTONES][k - 1] : 0, l = sched_node_last_step(n->kids[k]);
        bool last_kid = k == n->nkids - 1;
        int64_t turn = last_kid ? INT64_MAX : (int64_t)n->vec[SEQ_MILESTONES][k] - 1 - start;
        if (l != INT64_MAX && l < turn)
            return start + l;
    }
    return INT64_MAX;
}

/* The last milestone plus the last child's length, if it has one. */
static int64_t seq_length(const sched_node *n)
{
    int64_t l = sched_node_length(n->kids[n->nkids - 1]);
    int nm = n->vlen[SEQ_MILESTONES];
    return l ? sched_steps((nm ? n->vec[SEQ_MILESTONES][nm - 1] : 0) + (double)l) : 0;
}

static void seq_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups)
{
    double local;
    int k = seq_child(n, (double)step, &local);
    sched_node_observe(n->kids[k], (int64_t)local, metric, inputs, ngroups);
}

const sched_kind sched_sequential_lr = {"SequentialLR", "torch", seq_args, 4, seq_check, seq_lr, NULL, seq_momentum,
                                        seq_last, seq_length, seq_observe, SCHED_COMPOSITE};

/* ---- ChainedScheduler(schedulers) ---- */
static const sched_arg chain_args[] = {
    {"schedulers", SA_SCHEDS, true, NAN, 0, 0, false, false, NULL},
    SARG_IGNORED("optimizer"),
};

static double chain_lr(const sched_node *n, double t, double base, int group)
{
    double lr = base;
    for (int k = 0; k < n->nkids; k++)
        lr = sched_node_lr(n->kids[k], t, lr, group);
    return lr;
}

static double chain_momentum(const sched_node *n, double t, int group)
{
    double m = NAN;
    for (int k = 0; k < n->nkids; k++) {
        double mk = sched_node_momentum(n->kids[k], t, group);
        if (!isnan(mk))
            m = mk;
    }
    return m;
}

static int64_t chain_last(const sched_node *n)
{
    int64_t last = INT64_MAX;
    for (int k = 0; k < n->nkids; k++) {
        int64_t l = sched_node_last_step(n->kids[k]);
        last = l < last ? l : last;
    }
    return last;
}

/* The children run side by side: the longest of their lengths. */
static int64_t chain_length(const sched_node *n)
{
    int64_t len = 0;
    for (int k = 0; k < n->nkids; k++) {
        int64_t l = sched_node_length(n->kids[k]);
        len = l > len ? l : len;
    }
    return len;
}

/* Each child sees the lr the links before it made at this step. */
static void chain_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups)
{
    double in[SCHED_MAX_GROUPS];
    for (int g = 0; g < ngroups && g < SCHED_MAX_GROUPS; g++)
        in[g] = inputs[g];
    for (int k = 0; k < n->nkids; k++) {
        sched_node_observe(n->kids[k], step, metric, in, ngroups);
        for (int g = 0; g < ngroups && g < SCHED_MAX_GROUPS; g++)
            in[g] = sched_node_lr(n->kids[k], (double)step, in[g], g);
    }
}

const sched_kind sched_chained = {"ChainedScheduler", "torch", chain_args, 2, NULL, chain_lr, NULL, chain_momentum,
                                  chain_last, chain_length, chain_observe, SCHED_COMPOSITE};

/* ---- ReduceLROnPlateau ----
 * State: the best metric, bad observations, cooldown left, and per group the
 * ratio of its current lr to its input: lr = input * ratio[g]. A reduction
 * is PyTorch's _reduce_lr per group: new = max(old*factor, min_lr[g]),
 * applied only if old - new > eps. trigger='torch' reduces when the count of
 * bad observations exceeds patience; trigger='keras' follows Keras'
 * callback (and Optax's contrib.reduce_on_plateau, fastai's callback): it
 * reduces when the count reaches patience, one observation earlier, and
 * does not count observations made during a cooldown. */
enum { PL_MODE, PL_FACTOR, PL_PATIENCE, PL_THRESHOLD, PL_THRESHOLD_MODE, PL_COOLDOWN, PL_MIN_LR, PL_EPS, PL_VERBOSE,
       PL_TRIGGER };
enum { PL_BEST, PL_BAD, PL_COOL, PL_RATIO };
static const sched_arg plateau_args[] = {
    SARG_CHOICE("mode", "min|max"),
    {"factor", SA_REAL, false, 0.1, 0, 1, false, true, NULL},
    SARG_INT("patience", 10, 0),
    SARG_NONNEG("threshold", 1e-4),
    SARG_CHOICE("threshold_mode", "rel|abs"),
    SARG_INT("cooldown", 0, 0),
    {"min_lr", SA_REAL_OR_REALS, false, 0, 0, INFINITY, false, true, NULL},
    SARG_NONNEG("eps", 1e-8),
    SARG_IGNORED("verbose"),
    SARG_CHOICE("trigger", "torch|keras"),
};

static int plateau_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    (void)vals;
    (void)err;
    n->st[PL_BEST] = n->v[PL_MODE] == 0 ? INFINITY : -INFINITY;
    n->st[PL_BAD] = 0;
    n->st[PL_COOL] = 0;
    for (int g = 0; g < SCHED_MAX_GROUPS; g++)
        n->st[PL_RATIO + g] = 1;
    return ETA_OK;
}

static int slot(int group)
{
    return PL_RATIO + (group < SCHED_MAX_GROUPS ? group : SCHED_MAX_GROUPS - 1);
}

static double plateau_lr(const sched_node *n, double t, double base, int group)
{
    (void)t;
    double r = n->st[slot(group)];
    return r == 1 ? base : base * r;
}

static bool plateau_better(const sched_node *n, double a, double best)
{
    double thr = n->v[PL_THRESHOLD];
    bool rel = n->v[PL_THRESHOLD_MODE] == 0;
    if (n->v[PL_MODE] == 0)
        return rel ? a < best * (1 - thr) : a < best - thr;
    return rel ? a > best * (thr + 1) : a > best + thr;
}

/* PyTorch's _reduce_lr for every group. */
static void plateau_reduce(sched_node *n, const double *inputs, int ngroups)
{
    for (int g = 0; g < ngroups && g < SCHED_MAX_GROUPS; g++) {
        double in = inputs[g], old = plateau_lr(n, 0, in, g);
        double lo = sched_node_arg(n, PL_MIN_LR, g), fresh = fmax(old * n->v[PL_FACTOR], lo);
        if (old - fresh > n->v[PL_EPS] && in != 0)
            n->st[slot(g)] = fresh / in;
    }
    n->st[PL_COOL] = n->v[PL_COOLDOWN];
    n->st[PL_BAD] = 0;
}

static void plateau_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups)
{
    (void)step;
    if (n->v[PL_TRIGGER] == 1) { /* Keras' callback, in its order */
        if (n->st[PL_COOL] > 0) {
            n->st[PL_COOL] -= 1;
            n->st[PL_BAD] = 0;
        }
        if (plateau_better(n, metric, n->st[PL_BEST])) {
            n->st[PL_BEST] = metric;
            n->st[PL_BAD] = 0;
        } else if (!(n->st[PL_COOL] > 0) && ++n->st[PL_BAD] >= n->v[PL_PATIENCE]) {
            plateau_reduce(n, inputs, ngroups);
        }
        return;
    }
    if (plateau_better(n, metric, n->st[PL_BEST])) { /* PyTorch's step(metrics) */
        n->st[PL_BEST] = metric;
        n->st[PL_BAD] = 0;
    } else {
        n->st[PL_BAD] += 1;
    }
    if (n->st[PL_COOL] > 0) {
        n->st[PL_COOL] -= 1;
        n->st[PL_BAD] = 0;
    }
    if (n->st[PL_BAD] > n->v[PL_PATIENCE])
        plateau_reduce(n, inputs, ngroups);
}

const sched_kind sched_reduce_on_plateau = {"ReduceLROnPlateau", "torch", plateau_args, 10, plateau_check, plateau_lr,
                                            NULL, NULL, NULL, NULL, plateau_observe, 0};

/* ---- the table ---- */
extern const sched_kind sched_lambda_lr, sched_multiplicative_lr, sched_step_lr, sched_multistep_lr,
    sched_constant_lr, sched_linear_lr, sched_exponential_lr, sched_polynomial_lr, sched_cosine_annealing_lr,
    sched_cosine_warm_restarts, sched_swalr, sched_cyclic_lr, sched_onecycle_lr;

const sched_kind *const sched_torch_kinds[] = {
    &sched_lambda_lr, &sched_multiplicative_lr, &sched_step_lr, &sched_multistep_lr, &sched_constant_lr,
    &sched_linear_lr, &sched_exponential_lr, &sched_polynomial_lr, &sched_cosine_annealing_lr,
    &sched_cosine_warm_restarts, &sched_cyclic_lr, &sched_onecycle_lr, &sched_sequential_lr, &sched_chained,
    &sched_reduce_on_plateau, &sched_swalr, NULL,
};
