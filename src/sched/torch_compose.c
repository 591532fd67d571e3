/* sched/torch_compose.c - composition and plateaus, after PyTorch
 * (torch/optim/lr_scheduler.py): SequentialLR, ChainedScheduler,
 * ReduceLROnPlateau, and the table of PyTorch's kinds.
 *
 * By default (mode='torch') both composites run PyTorch's recursion: the lr
 * at step t is what the active children's chainable get_lr (kind.chain,
 * torch_step.c and torch_cosine.c) make of the lr step t-1 left, starting
 * from the group's initial lr. ChainedScheduler applies every child in turn
 * at each step; SequentialLR the child whose turn it is, restarted at its
 * milestone as step(0) does (_get_closed_form_lr at epoch 0 from the
 * initial lr for the schedulers that have one; SWALR goes on from the lr it
 * finds, as in PyTorch 2.x). Children whose value does not depend on the lr
 * they find (OneCycleLR, CyclicLR, CosineAnnealingWarmRestarts, LambdaLR,
 * the other families, composites in mode='compose') give their closed form
 * of the initial lr, as their get_lr does. A composite inside a recursion
 * is one more link (ChainedScheduler in ChainedScheduler is the flat chain).
 * The recursion is evaluated from step 0, with a cursor per group that
 * lets a run go on from the step before (so eta_sched_lr stays a pure
 * function of the step at O(1) per step of a run). Whole steps only: a
 * fractional step is floored.
 *
 * mode='compose' is eta's composition of closed forms: ChainedScheduler
 * feeds each child's lr at step t to the next as its base (a product for
 * multiplicative children, but cos(warmup(base)) where a child adds a term,
 * CosineAnnealingLR with eta_min != 0), SequentialLR runs each child's
 * closed form from the initial lr on its own clock. It passes down to the
 * composites inside that give no mode.
 *
 * Differs from torch: both accept ReduceLROnPlateau as a child (pytorch#68978;
 * torch rejects it), which then observes the metrics of the steps where it is
 * active; in a recursion it scales the result by its factor. SequentialLR
 * with a milestone at 0 starts with the child after it (torch starts with
 * the first child, pytorch#185872).
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sched/node.h"

extern const sched_kind sched_sequential_lr, sched_chained, sched_reduce_on_plateau, sched_constant_lr;
double sched_constant_epoch0(const sched_node *n, double base); /* torch_step.c */

/* ---- SequentialLR(schedulers, milestones, mode='torch') ---- */
enum { SEQ_SCHEDS, SEQ_MILESTONES, SEQ_LAST_EPOCH, SEQ_VERBOSE, SEQ_MODE };
static const sched_arg seq_args[] = {
    {"schedulers", SA_SCHEDS, true, NAN, 0, 0, false, false, NULL},
    {"milestones", SA_REALS, true, NAN, 0, INFINITY, false, true, NULL},
    SARG_IGNORED("last_epoch"),
    SARG_IGNORED("verbose"),
    SARG_CHOICE("mode", "torch|compose"),
};

/* ---- ChainedScheduler(schedulers, mode='torch') ---- */
enum { CH_SCHEDS, CH_OPTIMIZER, CH_MODE };
static const sched_arg chain_args[] = {
    {"schedulers", SA_SCHEDS, true, NAN, 0, 0, false, false, NULL},
    SARG_IGNORED("optimizer"),
    SARG_CHOICE("mode", "torch|compose"),
};

/* The argument position of a composite's mode, or -1 for other kinds. */
static int mode_arg(const sched_node *n)
{
    return n->kind == &sched_sequential_lr ? SEQ_MODE : n->kind == &sched_chained ? CH_MODE : -1;
}

static bool recursive(const sched_node *n)
{
    int m = mode_arg(n);
    return m >= 0 && n->v[m] == 0;
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

/* ---- the recursion ---- */

/* What multiplies a recursion's value at step t: the factors of the plateau
 * rules it holds (the active one, in a sequence). */
static double ring_factor(const sched_node *n, int64_t t, int group)
{
    if (n->kind == &sched_reduce_on_plateau)
        return sched_node_lr(n, (double)t, 1.0, group);
    if (!recursive(n))
        return 1;
    if (n->kind == &sched_chained) {
        double f = 1;
        for (int k = 0; k < n->nkids; k++)
            f *= ring_factor(n->kids[k], t, group);
        return f;
    }
    double local;
    int k = seq_child(n, (double)t, &local);
    return ring_factor(n->kids[k], (int64_t)local, group);
}

/* The recursion's lr at step t (before ring_factor), from the cursor when
 * it stopped at or before t for this group and base, else from step 0. */
static double ring_value(const sched_node *n, int64_t t, double base, int group)
{
    sched_cursor *c = &n->cursor[group < SCHED_MAX_GROUPS ? group : SCHED_MAX_GROUPS - 1];
    int64_t s = 0;
    double lr = base;
    if (c->valid && c->group == group && c->base == base && c->t <= t) {
        s = c->t + 1;
        lr = c->lr;
    }
    for (; s <= t; s++)
        lr = n->kind->chain(n, s, lr, base, group);
    *c = (sched_cursor){base, lr, t, group, true};
    return lr;
}

static double ring_lr(const sched_node *n, double t, double base, int group)
{
    int64_t s = (int64_t)floor(t);
    return ring_value(n, s, base, group) * ring_factor(n, s, group);
}

/* SequentialLR's step(0) at a milestone: _get_closed_form_lr at epoch 0
 * from the initial lr for the schedulers that have one; get_lr for those
 * that go on from the lr they find (SWALR); the rest start afresh. */
static double seq_restart(const sched_node *kid, double lr, double base, int group)
{
    if (kid->kind == &sched_constant_lr)
        return sched_constant_epoch0(kid, base);
    if (kid->kind->flags & SCHED_TORCH_CLOSED)
        return sched_node_lr(kid, 0, base, group);
    if (kid->kind->chain && !(kid->kind->flags & SCHED_COMPOSITE) && !kid->kind->observe)
        return sched_node_chain(kid, 0, lr, base, group);
    return sched_node_chain(kid, 0, base, base, group);
}

/* One step of SequentialLR.step(): the constructor resets the group's lr to
 * the initial lr and takes the first child's initial step. */
static double seq_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    if (!recursive(n))
        return sched_node_lr(n, (double)t, base, group);
    double local;
    int k = seq_child(n, (double)t, &local);
    if (t == 0)
        return k == 0 ? sched_node_chain(n->kids[0], 0, base, base, group) : seq_restart(n->kids[k], base, base, group);
    if (k > 0 && local == 0)
        return seq_restart(n->kids[k], lr, base, group);
    return sched_node_chain(n->kids[k], (int64_t)local, lr, base, group);
}

/* One step of ChainedScheduler.step(): every child in turn. */
static double chain_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    if (!recursive(n))
        return sched_node_lr(n, (double)t, base, group);
    for (int k = 0; k < n->nkids; k++)
        lr = sched_node_chain(n->kids[k], t, lr, base, group);
    return lr;
}

/* The inputs a recursion's children see when a metric is observed: the
 * recursion's value at that step (an enclosing recursion passes its own). */
static void ring_inputs(const sched_node *n, int64_t step, const double *inputs, int ngroups, double *in)
{
    for (int g = 0; g < ngroups && g < SCHED_MAX_GROUPS; g++)
        in[g] = n->in_ring ? inputs[g] : ring_value(n, step, inputs[g], g);
}

static int prepare(sched_node *n, bool compose, bool in_ring, eta_err *err)
{
    int m = mode_arg(n);
    if (m >= 0 && compose && !n->given[m])
        n->v[m] = 1; /* an enclosing mode='compose' */
    bool ring = recursive(n);
    n->in_ring = in_ring;
    if (ring && !n->cursor && !(n->cursor = calloc(SCHED_MAX_GROUPS, sizeof *n->cursor)))
        return eta_spec_fail(err, ETA_ENOMEM, NULL, "out of memory");
    for (int k = 0; k < n->nkids; k++) {
        const sched_node *kid = n->kids[k];
        if (ring && kid->kind == &sched_constant_lr && kid->v[0] == 0 && kid->v[1] > 0) {
            eta_spec at = {.kind = ETA_SPEC_CALL, .pos = kid->pos, .len = kid->len};
            return eta_spec_fail(err, ETA_EINVAL, &at,
                                 "ConstantLR(factor=0) cannot be undone in %s's recursion: PyTorch divides by the "
                                 "factor at total_iters (ZeroDivisionError); pass mode='compose' to %s",
                                 n->kind->name, n->kind->name);
        }
        int rc = prepare(n->kids[k], m >= 0 ? !ring : compose, ring, err);
        if (rc)
            return rc;
    }
    return ETA_OK;
}

int sched_compose_prepare(sched_node *root, eta_err *err)
{
    return prepare(root, false, false, err);
}

void sched_cursors_reset(sched_node *root)
{
    if (root->cursor)
        for (int g = 0; g < SCHED_MAX_GROUPS; g++)
            root->cursor[g].valid = false;
    for (int k = 0; k < root->nkids; k++)
        sched_cursors_reset(root->kids[k]);
}

bool sched_ring_stateful(const sched_node *n)
{
    if (n->kind->observe && !n->kind->chain && !(n->kind->flags & SCHED_COMPOSITE))
        return true;
    for (int k = 0; k < n->nkids; k++)
        if (sched_ring_stateful(n->kids[k]))
            return true;
    return false;
}

/* ---- SequentialLR ---- */

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

static double seq_lr(const sched_node *n, double t, double base, int group)
{
    if (recursive(n))
        return ring_lr(n, t, base, group);
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
    double local, in[SCHED_MAX_GROUPS];
    int k = seq_child(n, (double)step, &local);
    if (recursive(n)) {
        ring_inputs(n, step, inputs, ngroups, in);
        inputs = in;
    }
    sched_node_observe(n->kids[k], (int64_t)local, metric, inputs, ngroups);
}

const sched_kind sched_sequential_lr = {"SequentialLR", "torch", seq_args, 5, seq_check, seq_lr, seq_chain,
                                        seq_momentum, seq_last, seq_length, seq_observe, SCHED_COMPOSITE};

/* ---- ChainedScheduler ---- */

static double chain_lr(const sched_node *n, double t, double base, int group)
{
    if (recursive(n))
        return ring_lr(n, t, base, group);
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

/* Each child sees the lr the links before it made at this step; in a
 * recursion, its value at the step, scaled by the plateaus before the child. */
static void chain_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups)
{
    double in[SCHED_MAX_GROUPS];
    bool ring = recursive(n);
    if (ring)
        ring_inputs(n, step, inputs, ngroups, in);
    else
        for (int g = 0; g < ngroups && g < SCHED_MAX_GROUPS; g++)
            in[g] = inputs[g];
    for (int k = 0; k < n->nkids; k++) {
        sched_node_observe(n->kids[k], step, metric, in, ngroups);
        for (int g = 0; g < ngroups && g < SCHED_MAX_GROUPS; g++)
            in[g] = ring ? in[g] * ring_factor(n->kids[k], step, g) : sched_node_lr(n->kids[k], (double)step, in[g], g);
    }
}

const sched_kind sched_chained = {"ChainedScheduler", "torch", chain_args, 3, NULL, chain_lr, chain_chain,
                                  chain_momentum, chain_last, chain_length, chain_observe, SCHED_COMPOSITE};

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

/* In a recursion the plateau lets the lr through and scales the result
 * instead (ring_factor): its factor then multiplies the group's lr once per
 * reduction, as a reduction in PyTorch would, not again at every step. */
static double plateau_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)n, (void)t, (void)base, (void)group;
    return lr;
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
                                            plateau_chain, NULL, NULL, NULL, plateau_observe, 0};

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
