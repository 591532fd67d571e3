/* sched/torch_cyclic.c - PyTorch's cycling schedulers (torch/optim/lr_scheduler.py):
 * CyclicLR (Smith 2015, triangular / triangular2 / exp_range, with momentum
 * cycled inversely) and OneCycleLR (Smith & Topin 2017, two or three phases,
 * cos or linear, momentum or Adam's beta1 cycled). Both set absolute values:
 * the group's initial lr is not used (CyclicLR's base_lr, OneCycleLR's
 * max_lr/div_factor replace it), and lists give one value per group.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

#define PI 3.14159265358979323846

/* ---- CyclicLR ---- */
enum { CY_BASE, CY_MAX, CY_UP, CY_DOWN, CY_MODE, CY_GAMMA, CY_SCALE_FN, CY_SCALE_MODE, CY_CYCLE_MOM, CY_BASE_MOM,
       CY_MAX_MOM };
static const sched_arg cyclic_args[] = {
    {"base_lr", SA_REAL_OR_REALS, true, NAN, 0, INFINITY, false, true, NULL},
    {"max_lr", SA_REAL_OR_REALS, true, NAN, 0, INFINITY, false, true, NULL},
    SARG_POS("step_size_up", 2000),
    {"step_size_down", SA_OPT_REAL, false, NAN, 0, INFINITY, true, true, NULL},
    SARG_CHOICE("mode", "triangular|triangular2|exp_range"),
    SARG_POS("gamma", 1.0),
    {"scale_fn", SA_OPT_REAL, false, NAN, -INFINITY, INFINITY, false, false, NULL},
    SARG_CHOICE("scale_mode", "cycle|iterations"),
    SARG_BOOL("cycle_momentum", 1),
    {"base_momentum", SA_REAL_OR_REALS, false, 0.8, 0, INFINITY, false, true, NULL},
    {"max_momentum", SA_REAL_OR_REALS, false, 0.9, 0, INFINITY, false, true, NULL},
    SARG_IGNORED("last_epoch"),
    SARG_IGNORED("verbose"),
};
enum { CY_D_TOTAL, CY_D_RATIO };

static int cyclic_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    if (vals[CY_SCALE_FN] && vals[CY_SCALE_FN]->kind != ETA_SPEC_NONE)
        return eta_spec_fail(err, ETA_EINVAL, vals[CY_SCALE_FN],
                             "scale_fn takes a Python callable, which a spec cannot hold; use mode=");
    double up = n->v[CY_UP], down = isnan(n->v[CY_DOWN]) ? up : n->v[CY_DOWN];
    n->d[CY_D_TOTAL] = up + down;
    n->d[CY_D_RATIO] = up / (up + down);
    n->cycles = n->v[CY_CYCLE_MOM] != 0;
    return ETA_OK;
}

/* The position in the cycle, 0 at base and 1 at the peak, and the mode's
 * scale (PyTorch: scale_mode follows the mode when scale_fn is None). */
static double cyclic_pos(const sched_node *n, double t, double *scale)
{
    double total = n->d[CY_D_TOTAL], ratio = n->d[CY_D_RATIO];
    double cycle = floor(1 + t / total), x = 1. + t / total - cycle;
    double sf = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    int mode = (int)n->v[CY_MODE];
    *scale = mode == 0 ? 1.0 : mode == 1 ? 1 / pow(2., cycle - 1) : pow(n->v[CY_GAMMA], t);
    return sf;
}

static double cyclic_lr(const sched_node *n, double t, double base, int group)
{
    (void)base;
    double scale, sf = cyclic_pos(n, floor(t), &scale);
    double lo = sched_node_arg(n, CY_BASE, group), hi = sched_node_arg(n, CY_MAX, group);
    return lo + (hi - lo) * sf * scale;
}

static double cyclic_momentum(const sched_node *n, double t, int group)
{
    if (!n->cycles)
        return NAN;
    double scale, sf = cyclic_pos(n, floor(t), &scale);
    double lo = sched_node_arg(n, CY_BASE_MOM, group), hi = sched_node_arg(n, CY_MAX_MOM, group);
    return hi - (hi - lo) * sf * scale;
}

const sched_kind sched_cyclic_lr = {"CyclicLR", "torch", cyclic_args, 13, cyclic_check, cyclic_lr, NULL,
                                    cyclic_momentum, NULL, NULL, NULL, 0};

/* ---- OneCycleLR ---- */
enum { OC_MAX, OC_TOTAL, OC_EPOCHS, OC_SPE, OC_PCT, OC_ANNEAL, OC_CYCLE_MOM, OC_BASE_MOM, OC_MAX_MOM, OC_DIV,
       OC_FINAL_DIV, OC_THREE };
static const sched_arg onecycle_args[] = {
    {"max_lr", SA_REAL_OR_REALS, true, NAN, 0, INFINITY, false, true, NULL},
    {"total_steps", SA_OPT_REAL, false, NAN, 0, INFINITY, true, true, NULL},
    {"epochs", SA_OPT_REAL, false, NAN, 0, INFINITY, true, true, NULL},
    {"steps_per_epoch", SA_OPT_REAL, false, NAN, 0, INFINITY, true, true, NULL},
    SARG_REAL("pct_start", 0.3, 0, 1),
    SARG_CHOICE("anneal_strategy", "cos|linear"),
    SARG_BOOL("cycle_momentum", 1),
    {"base_momentum", SA_REAL_OR_REALS, false, 0.85, 0, INFINITY, false, true, NULL},
    {"max_momentum", SA_REAL_OR_REALS, false, 0.95, 0, INFINITY, false, true, NULL},
    SARG_POS("div_factor", 25.),
    SARG_POS("final_div_factor", 1e4),
    SARG_BOOL("three_phase", 0),
    SARG_IGNORED("last_epoch"),
    SARG_IGNORED("verbose"),
};
enum { OC_D_TOTAL, OC_D_END0, OC_D_END1, OC_D_END2, OC_D_NPHASES };

static int onecycle_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    double total = n->v[OC_TOTAL];
    if (isnan(total)) {
        if (isnan(n->v[OC_EPOCHS]) || isnan(n->v[OC_SPE]))
            return eta_spec_fail(err, ETA_EINVAL, call,
                                 "You must define either total_steps OR (epochs AND steps_per_epoch)");
        total = n->v[OC_EPOCHS] * n->v[OC_SPE];
    }
    for (int i = OC_TOTAL; i <= OC_SPE; i++)
        if (!isnan(n->v[i]) && n->v[i] != floor(n->v[i]))
            return eta_spec_fail(err, ETA_EINVAL, vals[i], "%s must be a positive integer, got %g",
                                 n->kind->args[i].name, n->v[i]);
    double pct = n->v[OC_PCT];
    n->d[OC_D_TOTAL] = total;
    n->d[OC_D_END0] = pct * total - 1;
    if (n->v[OC_THREE] != 0) {
        n->d[OC_D_END1] = 2 * pct * total - 2;
        n->d[OC_D_END2] = total - 1;
        n->d[OC_D_NPHASES] = 3;
    } else {
        n->d[OC_D_END1] = total - 1;
        n->d[OC_D_NPHASES] = 2;
    }
    n->cycles = n->v[OC_CYCLE_MOM] != 0;
    return ETA_OK;
}

static double anneal(const sched_node *n, double start, double end, double pct)
{
    if (n->v[OC_ANNEAL] == 0)
        return end + (start - end) / 2.0 * (cos(PI * pct) + 1);
    return (end - start) * pct + start;
}

/* Phase values: which = 0 for the lr, 1 for the momentum. */
static double onecycle_value(const sched_node *n, double t, int group, int which)
{
    double max_lr = sched_node_arg(n, OC_MAX, group), initial = max_lr / n->v[OC_DIV];
    double min_lr = initial / n->v[OC_FINAL_DIV];
    double mlo = sched_node_arg(n, OC_BASE_MOM, group), mhi = sched_node_arg(n, OC_MAX_MOM, group);
    /* (start, end) per phase, as PyTorch's _schedule_phases. */
    double lr3[3][2] = {{initial, max_lr}, {max_lr, initial}, {initial, min_lr}};
    double lr2[2][2] = {{initial, max_lr}, {max_lr, min_lr}};
    double mom3[3][2] = {{mhi, mlo}, {mlo, mhi}, {mhi, mhi}};
    double mom2[2][2] = {{mhi, mlo}, {mlo, mhi}};
    int np = (int)n->d[OC_D_NPHASES];
    double start = 0;
    for (int i = 0; i < np; i++) {
        double end = n->d[OC_D_END0 + i];
        if (t <= end || i == np - 1) {
            double pct = (t - start) / (end - start);
            const double *v = which == 0 ? (np == 3 ? lr3[i] : lr2[i]) : (np == 3 ? mom3[i] : mom2[i]);
            return anneal(n, v[0], v[1], pct);
        }
        start = end;
    }
    return NAN;
}

static double onecycle_lr(const sched_node *n, double t, double base, int group)
{
    (void)base;
    return onecycle_value(n, floor(t), group, 0);
}

static double onecycle_momentum(const sched_node *n, double t, int group)
{
    return n->cycles ? onecycle_value(n, floor(t), group, 1) : NAN;
}

/* PyTorch raises only when stepped past total_steps: t = total_steps itself
 * is computed, extrapolating the last phase. */
static int64_t onecycle_last(const sched_node *n)
{
    return (int64_t)n->d[OC_D_TOTAL];
}

const sched_kind sched_onecycle_lr = {"OneCycleLR", "torch", onecycle_args, 14, onecycle_check, onecycle_lr, NULL,
                                      onecycle_momentum, onecycle_last, onecycle_last, NULL, 0};
