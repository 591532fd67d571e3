/* sched/fastai.c - fastai's fit policies as schedules over steps:
 * fit_one_cycle (lr and momentum), fit_flat_cos and fit_sgdr, with the
 * arguments of the Learner methods of the same names plus steps_per_epoch.
 *
 * Follows fastai/fastai fastai/callback/schedule.py (read at 0a049e8a:
 * sched_cos, combine_scheds, combined_cos, ParamScheduler, Learner.fit_*)
 * and the TrainEvalCallback of fastai/callback/core.py, which sets before
 * each training batch pct_train = epoch/n_epoch + iter/(n_iter*n_epoch);
 * Here n_iter = steps_per_epoch, so at eta's step t
 *     pos = t / (n_epoch * steps_per_epoch)
 * and the schedule is defined for 0 <= t <= n_epoch * steps_per_epoch (the
 * last step fastai runs is one before that; the end itself is the pos = 1
 * of the annealers). Fractional steps are floored.
 *
 *   fit_one_cycle(n_epoch, lr_max=None, div=25.0, div_final=1e5, pct_start=0.25,
 *                 wd=None, moms=None, cbs=None, reset_opt=False, steps_per_epoch=1)
 *       lr  = combined_cos(pct_start, lr_max/div, lr_max, lr_max/div_final)
 *       mom = combined_cos(pct_start, *moms), moms (0.95, 0.85, 0.95) by
 *             default (the Learner's); it sets momentum, or Adam's beta1.
 *   fit_flat_cos(n_epoch, lr=None, div_final=1e5, pct_start=0.75, wd=None,
 *                cbs=None, reset_opt=False, steps_per_epoch=1)
 *       lr = combined_cos(pct_start, lr, lr, lr/div_final); no momentum.
 *   fit_sgdr(n_cycles, cycle_len, lr_max=None, cycle_mult=2, cbs=None,
 *            reset_opt=False, wd=None, steps_per_epoch=1)
 *       n_epoch = cycle_len (cycle_mult^n_cycles - 1) / (cycle_mult - 1);
 *       cycle i lasts cycle_len cycle_mult^i epochs, a cosine lr_max -> 0.
 *
 * lr_max (lr) omitted is, as fastai's None, the optimizer's own lr (the
 * group's initial lr); a list gives one per parameter group (fastai's
 * discriminative rates; a `slice` cannot be written in a spec). wd, cbs and
 * reset_opt are accepted and ignored: they are not schedules.
 *
 * Differs from fastai on purpose: combine_scheds computes its phase
 * boundaries in float32 torch tensors (pct_start 0.3 becomes 0.30000001);
 * eta in double. fit_sgdr with cycle_mult=1 divides by zero in fastai; eta
 * takes the limit, n_cycles equal cycles. pct_start must be in [0, 1):
 * with 1 fastai's last phase has zero length and pos = 1 gives NaN.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err); /* anchors.c */

#define PI 3.14159265358979323846
#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define AT(i) (vals[i] ? vals[i] : call)
#define LR_ARG(nm) {nm, SA_REAL_OR_REALS, false, NAN, 0, INFINITY, false, true, NULL} /* None: the group's lr */
#define PCT(nm, def) {nm, SA_REAL, false, def, 0, 1, false, true, NULL}               /* [0, 1) */

/* fastai's sched_cos: start + (1 + cos(pi (1 - pos))) (end - start) / 2. */
static double sched_cos(double start, double end, double pos)
{
    return start + (1 + cos(PI * (1 - pos))) * (end - start) / 2;
}

/* combined_cos(pct, start, middle, end) = combine_scheds([pct, 1 - pct], [SchedCos(start, middle),
 * SchedCos(middle, end)]): the phase is the last one whose start pos has reached. */
static double combined_cos(double pct, double start, double middle, double end, double pos)
{
    if (pos >= pct)
        return sched_cos(middle, end, (pos - pct) / (1 - pct));
    return sched_cos(start, middle, pos / pct);
}

/* The group's lr_max: the argument (one per group with a list) or, when
 * omitted, the group's initial lr. */
static double lr_of(const sched_node *n, int i, double base, int group)
{
    double lr = sched_node_arg(n, i, group);
    return isnan(lr) ? base : lr;
}

/* d[D_TOTAL]: the steps of the fit, n_epoch * steps_per_epoch. */
enum { D_TOTAL, D_MOM0, D_MOM1, D_MOM2 };

static int set_total(sched_node *n, double total, const eta_spec *call, eta_err *err)
{
    if (!(total < 9.0e15))
        return eta_spec_fail(err, ETA_EINVAL, call, "%s: %g steps are too many", n->kind->name, total);
    n->d[D_TOTAL] = total;
    return ETA_OK;
}

/* ---- fit_one_cycle ---- */
enum { OC_EPOCHS, OC_LR, OC_DIV, OC_DIV_FINAL, OC_PCT, OC_WD, OC_MOMS, OC_CBS, OC_RESET, OC_SPE };
static const sched_arg oc_args[] = {
    SARG_INT_REQ("n_epoch", 1),   LR_ARG("lr_max"),
    SARG_POS("div", 25.0),        SARG_POS("div_final", 1e5),
    PCT("pct_start", 0.25),       SARG_IGNORED("wd"),
    {"moms", SA_REALS, false, NAN, 0, 1, false, false, NULL},
    SARG_IGNORED("cbs"),          SARG_IGNORED("reset_opt"),
    SARG_INT("steps_per_epoch", 1, 1),
};

static int oc_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    if (n->vec[OC_MOMS] && n->vlen[OC_MOMS] != 3)
        return eta_spec_fail(err, ETA_EINVAL, AT(OC_MOMS),
                             "fit_one_cycle: moms must be (start, middle, end), 3 values, got %d", n->vlen[OC_MOMS]);
    static const double learner_moms[3] = {0.95, 0.85, 0.95};
    const double *m = n->vec[OC_MOMS] ? n->vec[OC_MOMS] : learner_moms;
    if ((rc = set_total(n, n->v[OC_EPOCHS] * n->v[OC_SPE], call, err)))
        return rc;
    n->d[D_MOM0] = m[0], n->d[D_MOM1] = m[1], n->d[D_MOM2] = m[2];
    n->cycles = true;
    return ETA_OK;
}

static double oc_lr(const sched_node *n, double t, double base, int group)
{
    double lr = lr_of(n, OC_LR, base, group), pos = floor(t) / n->d[D_TOTAL];
    return combined_cos(n->v[OC_PCT], lr / n->v[OC_DIV], lr, lr / n->v[OC_DIV_FINAL], pos);
}

static double oc_momentum(const sched_node *n, double t, int group)
{
    (void)group;
    double pos = floor(t) / n->d[D_TOTAL];
    return combined_cos(n->v[OC_PCT], n->d[D_MOM0], n->d[D_MOM1], n->d[D_MOM2], pos);
}

static int64_t total_steps(const sched_node *n)
{
    return (int64_t)n->d[D_TOTAL];
}

const sched_kind sched_fastai_fit_one_cycle = {"fit_one_cycle", "fastai", oc_args, NARGS(oc_args), oc_check, oc_lr,
                                               NULL, oc_momentum, total_steps, total_steps, NULL, 0};

/* ---- fit_flat_cos ---- */
enum { FC_EPOCHS, FC_LR, FC_DIV_FINAL, FC_PCT, FC_WD, FC_CBS, FC_RESET, FC_SPE };
static const sched_arg fc_args[] = {
    SARG_INT_REQ("n_epoch", 1), LR_ARG("lr"),      SARG_POS("div_final", 1e5),      PCT("pct_start", 0.75),
    SARG_IGNORED("wd"),         SARG_IGNORED("cbs"), SARG_IGNORED("reset_opt"), SARG_INT("steps_per_epoch", 1, 1),
};

static int fc_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    return rc ? rc : set_total(n, n->v[FC_EPOCHS] * n->v[FC_SPE], call, err);
}

static double fc_lr(const sched_node *n, double t, double base, int group)
{
    double lr = lr_of(n, FC_LR, base, group), pos = floor(t) / n->d[D_TOTAL];
    return combined_cos(n->v[FC_PCT], lr, lr, lr / n->v[FC_DIV_FINAL], pos);
}

const sched_kind sched_fastai_fit_flat_cos = {"fit_flat_cos", "fastai", fc_args, NARGS(fc_args), fc_check, fc_lr,
                                              NULL, NULL, total_steps, total_steps, NULL, 0};

/* ---- fit_sgdr ----
 * In epochs e = pos * n_epoch: cycle i starts at cycle_len (mult^i - 1)/(mult - 1)
 * (i * cycle_len for mult 1) and lasts cycle_len mult^i; the last cycle
 * also takes pos = 1. */
enum { SG_CYCLES, SG_LEN, SG_LR, SG_MULT, SG_CBS, SG_RESET, SG_WD, SG_SPE };
static const sched_arg sg_args[] = {
    SARG_INT_REQ("n_cycles", 1), SARG_INT_REQ("cycle_len", 1), LR_ARG("lr_max"),   SARG_INT("cycle_mult", 2, 1),
    SARG_IGNORED("cbs"),         SARG_IGNORED("reset_opt"),    SARG_IGNORED("wd"), SARG_INT("steps_per_epoch", 1, 1),
};

static double cycle_start(const sched_node *n, double i)
{
    double mult = n->v[SG_MULT];
    return mult == 1 ? i * n->v[SG_LEN] : n->v[SG_LEN] * (pow(mult, i) - 1) / (mult - 1);
}

static int sg_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    return set_total(n, cycle_start(n, n->v[SG_CYCLES]) * n->v[SG_SPE], call, err);
}

static double sg_lr(const sched_node *n, double t, double base, int group)
{
    double lr = lr_of(n, SG_LR, base, group), e = floor(t) / n->v[SG_SPE], last = n->v[SG_CYCLES] - 1, i = 0;
    if (n->v[SG_MULT] == 1)
        i = fmin(floor(e / n->v[SG_LEN]), last);
    else /* at most ~53 cycles fit in the step range */
        while (i < last && e >= cycle_start(n, i + 1))
            i++;
    double len = n->v[SG_LEN] * pow(n->v[SG_MULT], i);
    return sched_cos(lr, 0, (e - cycle_start(n, i)) / len);
}

const sched_kind sched_fastai_fit_sgdr = {"fit_sgdr", "fastai", sg_args, NARGS(sg_args), sg_check, sg_lr, NULL, NULL,
                                          total_steps, total_steps, NULL, 0};

_Static_assert(NARGS(oc_args) <= SCHED_MAX_ARGS && NARGS(fc_args) <= SCHED_MAX_ARGS &&
                   NARGS(sg_args) <= SCHED_MAX_ARGS,
               "argument tables fit in a node");
