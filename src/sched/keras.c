/* sched/keras.c - Keras 3's learning-rate schedules as closed forms of the
 * step, with Keras's argument names, order and defaults so a constructor call
 * pastes in: ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
 * InverseTimeDecay, CosineDecay (with its optional warm-up) and
 * CosineDecayRestarts.
 *
 * Follows keras-team/keras keras/src/optimizers/schedules/
 * learning_rate_schedule.py (Keras 3; read at 2534b643); the step is Keras's `optimizer.iterations`, 0-based, the same as
 * eta's. Keras carries its own rates: the group's initial lr is ignored.
 * Steps may be fractional (Keras casts the step to a float). `name` is
 * accepted and ignored.
 *
 * Keras's own semantics, kept where the anchors differ:
 * - PiecewiseConstantDecay: the boundary step belongs to the EARLIER value
 *   (values[i] while step <= boundaries[i]); Optax and PyTorch switch at the
 *   boundary.
 * - CosineDecay with warmup_target: warm-up over warmup_steps, then a cosine
 *   over decay_steps that EXCLUDES the warm-up (total warmup+decay); Optax's
 *   warmup_cosine_decay_schedule counts the warm-up inside decay_steps.
 *   Without warmup_target, warmup_steps is ignored, as in Keras.
 * - Past the end, CosineDecay and PolynomialDecay(cycle=False) hold their
 *   final value (PyTorch's CosineAnnealingLR goes back up).
 *
 * Differs from Keras on purpose: Keras computes in the dtype of
 * initial_learning_rate (float32 for a Python float); eta in double.
 * CosineDecayRestarts finds the restart with Keras's log formula and then
 * corrects it by one where the logarithm rounds across an exact restart
 * step (log(8)/log(2) may come out as 2.9999...). Keras validates only
 * decay_steps > 0; eta also rejects negative rates and powers, and t_mul < 1
 * (whose log formula is NaN past the finite total length), so no valid step
 * gives NaN.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err); /* anchors.c */

#define PI 3.14159265358979323846
#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define AT(i) (vals[i] ? vals[i] : call)
#define REQ_POS(nm) {nm, SA_REAL, true, NAN, 0, INFINITY, true, true, NULL}    /* > 0, required */
#define REQ_NONNEG(nm) {nm, SA_REAL, true, NAN, 0, INFINITY, false, true, NULL} /* >= 0, required */
#define OPT_NONNEG(nm) {nm, SA_OPT_REAL, false, NAN, 0, INFINITY, false, true, NULL}
#define UNIT(nm, def) {nm, SA_REAL, false, def, 0, 1, false, false, NULL} /* [0, 1] */

static int finite_only(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    return sched_anchor_check_finite(n, vals, err);
}

/* ---- ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False) ----
 * init * rate^(step/decay_steps), the exponent floored with staircase. */
enum { ED_INIT, ED_STEPS, ED_RATE, ED_STAIRCASE, ED_NAME };
static const sched_arg exp_args[] = {
    REQ_NONNEG("initial_learning_rate"), REQ_POS("decay_steps"), REQ_NONNEG("decay_rate"),
    SARG_BOOL("staircase", 0),           SARG_IGNORED("name"),
};

static double exp_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double p = t / n->v[ED_STEPS];
    if (n->v[ED_STAIRCASE] != 0)
        p = floor(p);
    return n->v[ED_INIT] == 0 ? 0 : n->v[ED_INIT] * pow(n->v[ED_RATE], p); /* 0, not 0 * inf */
}

const sched_kind sched_keras_exponential_decay = {"ExponentialDecay", "keras", exp_args, NARGS(exp_args), finite_only,
                                                  exp_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* ---- PiecewiseConstantDecay(boundaries, values) ----
 * values[0] while step <= boundaries[0], values[i] while boundaries[i-1] <
 * step <= boundaries[i], values[-1] after the last boundary. */
enum { PC_BOUNDARIES, PC_VALUES, PC_NAME };
static const sched_arg pc_args[] = {
    {"boundaries", SA_REALS, true, NAN, 0, INFINITY, false, true, NULL},
    {"values", SA_REALS, true, NAN, 0, INFINITY, false, true, NULL},
    SARG_IGNORED("name"),
};

static int pc_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    int nb = n->vlen[PC_BOUNDARIES], nv = n->vlen[PC_VALUES];
    if (nb != nv - 1)
        return eta_spec_fail(err, ETA_EINVAL, AT(PC_VALUES),
                             "PiecewiseConstantDecay: the length of boundaries should be 1 less than the length of "
                             "values; got boundaries of length %d and values of length %d",
                             nb, nv);
    if (nb == 0)
        return eta_spec_fail(err, ETA_EINVAL, AT(PC_BOUNDARIES),
                             "PiecewiseConstantDecay: boundaries must not be empty (use a constant rate)");
    for (int i = 1; i < nb; i++)
        if (!(n->vec[PC_BOUNDARIES][i] > n->vec[PC_BOUNDARIES][i - 1]))
            return eta_spec_fail(err, ETA_EINVAL, vals[PC_BOUNDARIES]->items[i],
                                 "PiecewiseConstantDecay: boundaries must be strictly increasing, got %g after %g",
                                 n->vec[PC_BOUNDARIES][i], n->vec[PC_BOUNDARIES][i - 1]);
    return ETA_OK;
}

static double pc_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    const double *b = n->vec[PC_BOUNDARIES], *v = n->vec[PC_VALUES];
    int nb = n->vlen[PC_BOUNDARIES];
    for (int i = 0; i < nb; i++)
        if (t <= b[i]) /* Keras: step <= boundary keeps the earlier value */
            return v[i];
    return v[nb];
}

const sched_kind sched_keras_piecewise_constant_decay = {"PiecewiseConstantDecay", "keras", pc_args, NARGS(pc_args),
                                                         pc_check, pc_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* ---- PolynomialDecay(initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False) ----
 * (init - end) * (1 - step/decay_steps)^power + end, the step clamped to
 * decay_steps; with cycle, decay_steps is stretched to the first multiple
 * of itself >= step (x1 at step 0). */
enum { PD_INIT, PD_STEPS, PD_END, PD_POWER, PD_CYCLE, PD_NAME };
static const sched_arg poly_args[] = {
    REQ_NONNEG("initial_learning_rate"),
    REQ_POS("decay_steps"),
    SARG_NONNEG("end_learning_rate", 0.0001),
    SARG_NONNEG("power", 1.0),
    SARG_BOOL("cycle", 0),
    SARG_IGNORED("name"),
};

static double poly_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double ds = n->v[PD_STEPS], step = t;
    if (n->v[PD_CYCLE] != 0)
        ds *= t == 0 ? 1.0 : ceil(t / n->v[PD_STEPS]);
    else
        step = fmin(t, ds);
    double p = step / ds;
    return (n->v[PD_INIT] - n->v[PD_END]) * pow(1 - p, n->v[PD_POWER]) + n->v[PD_END];
}

/* decay_steps; a cycling decay goes on for ever. */
static int64_t poly_length(const sched_node *n)
{
    return n->v[PD_CYCLE] != 0 ? 0 : sched_steps(n->v[PD_STEPS]);
}

const sched_kind sched_keras_polynomial_decay = {"PolynomialDecay", "keras", poly_args, NARGS(poly_args), finite_only,
                                                 poly_lr, NULL, NULL, NULL, poly_length, NULL, 0};

/* ---- InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False) ----
 * init / (1 + rate * step/decay_steps), the ratio floored with staircase. */
enum { IT_INIT, IT_STEPS, IT_RATE, IT_STAIRCASE, IT_NAME };
static const sched_arg inv_args[] = {
    REQ_NONNEG("initial_learning_rate"), REQ_POS("decay_steps"), REQ_NONNEG("decay_rate"),
    SARG_BOOL("staircase", 0),           SARG_IGNORED("name"),
};

static double inv_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double p = t / n->v[IT_STEPS];
    if (n->v[IT_STAIRCASE] != 0)
        p = floor(p);
    return n->v[IT_INIT] / (1.0 + n->v[IT_RATE] * p);
}

const sched_kind sched_keras_inverse_time_decay = {"InverseTimeDecay", "keras", inv_args, NARGS(inv_args),
                                                   finite_only, inv_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* ---- CosineDecay(initial_learning_rate, decay_steps, alpha=0.0, name=None, warmup_target=None, warmup_steps=0) ----
 * Without warmup_target: init * ((1-alpha) * (1 + cos(pi * min(step, ds)/ds))/2 + alpha).
 * With it: step clamped to warmup+ds; linear init -> warmup_target over
 * warmup_steps, then the cosine from warmup_target at step - warmup_steps. */
enum { CD_INIT, CD_STEPS, CD_ALPHA, CD_NAME, CD_TARGET, CD_WARMUP };
static const sched_arg cos_args[] = {
    REQ_NONNEG("initial_learning_rate"), REQ_POS("decay_steps"),    UNIT("alpha", 0.0),
    SARG_IGNORED("name"),                OPT_NONNEG("warmup_target"), SARG_NONNEG("warmup_steps", 0),
};

/* Keras's _decay_function. */
static double keras_cos(double step, double ds, double from, double alpha)
{
    double fraction = step / ds;
    double cosine = 0.5 * (1.0 + cos(PI * fraction));
    return from * ((1 - alpha) * cosine + alpha);
}

static double cos_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double ds = n->v[CD_STEPS], alpha = n->v[CD_ALPHA], target = n->v[CD_TARGET], ws = n->v[CD_WARMUP];
    if (isnan(target))
        return keras_cos(fmin(t, ds), ds, n->v[CD_INIT], alpha);
    double step = fmin(t, ds + ws);
    if (step < ws)
        return (target - n->v[CD_INIT]) * (step / ws) + n->v[CD_INIT];
    return keras_cos(step - ws, ds, target, alpha);
}

/* The warm-up (with a warmup_target) plus decay_steps. */
static int64_t cos_length(const sched_node *n)
{
    return sched_steps(n->v[CD_STEPS] + (isnan(n->v[CD_TARGET]) ? 0 : n->v[CD_WARMUP]));
}

const sched_kind sched_keras_cosine_decay = {"CosineDecay", "keras", cos_args, NARGS(cos_args), finite_only, cos_lr,
                                             NULL, NULL, NULL, cos_length, NULL, 0};

/* ---- CosineDecayRestarts(initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0) ----
 * f = step/first; restart i and the fraction f of it: t_mul = 1: i =
 * floor(f), f -= i; else i = floor(log(1 - f(1 - t_mul))/log t_mul), f =
 * (f - (1 - t_mul^i)/(1 - t_mul))/t_mul^i. lr = init * ((1-alpha) *
 * m_mul^i (1 + cos(pi f))/2 + alpha). */
enum { CR_INIT, CR_FIRST, CR_TMUL, CR_MMUL, CR_ALPHA, CR_NAME };
static const sched_arg restart_args[] = {
    REQ_NONNEG("initial_learning_rate"),
    REQ_POS("first_decay_steps"),
    {"t_mul", SA_REAL, false, 2.0, 1, INFINITY, false, true, NULL},
    SARG_NONNEG("m_mul", 1.0),
    UNIT("alpha", 0.0),
    SARG_IGNORED("name"),
};

/* The restarts before restart i, in units of first_decay_steps. */
static double restarts_before(double t_mul, double i)
{
    return (1.0 - pow(t_mul, i)) / (1.0 - t_mul);
}

static double restart_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double t_mul = n->v[CR_TMUL], f = t / n->v[CR_FIRST], i;
    if (t_mul == 1.0) {
        i = floor(f);
        f -= i;
    } else {
        double x = f * (t_mul - 1.0); /* Keras: log(1 - f (1 - t_mul)); log(f) + log(t_mul - 1) past overflow */
        i = floor((isinf(x) ? log(f) + log(t_mul - 1.0) : log(1.0 + x)) / log(t_mul));
        /* the logarithm may round across an exact restart: step to the right one */
        if (restarts_before(t_mul, i + 1) <= f)
            i += 1;
        else if (i > 0 && restarts_before(t_mul, i) > f)
            i -= 1;
        f = (f - restarts_before(t_mul, i)) / pow(t_mul, i);
    }
    double m_fac = pow(n->v[CR_MMUL], i);
    if (n->v[CR_ALPHA] == 1.0)
        return n->v[CR_INIT]; /* (1 - alpha) * cosine is 0 even where m_mul^i overflows */
    double cosine = 0.5 * m_fac * (1.0 + cos(PI * f));
    double decayed = (1 - n->v[CR_ALPHA]) * cosine + n->v[CR_ALPHA];
    return n->v[CR_INIT] * decayed;
}

const sched_kind sched_keras_cosine_decay_restarts = {"CosineDecayRestarts", "keras", restart_args,
                                                      NARGS(restart_args), finite_only, restart_lr, NULL, NULL, NULL,
                                                      NULL, NULL, 0};

_Static_assert(NARGS(exp_args) <= SCHED_MAX_ARGS && NARGS(pc_args) <= SCHED_MAX_ARGS &&
                   NARGS(poly_args) <= SCHED_MAX_ARGS && NARGS(inv_args) <= SCHED_MAX_ARGS &&
                   NARGS(cos_args) <= SCHED_MAX_ARGS && NARGS(restart_args) <= SCHED_MAX_ARGS,
               "argument tables fit in a node");
