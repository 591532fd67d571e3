/* sched/optax.c - Optax's schedules, with Optax's function names, argument
 * names, order and defaults: constant_schedule, linear_schedule,
 * polynomial_schedule, exponential_decay, cosine_decay_schedule,
 * piecewise_constant_schedule, piecewise_interpolate_schedule,
 * warmup_constant_schedule, warmup_cosine_decay_schedule,
 * warmup_exponential_decay_schedule, sgdr_schedule,
 * linear_onecycle_schedule, cosine_onecycle_schedule and join_schedules.
 *
 * Follows google-deepmind/optax optax/schedules/_schedule.py (read at
 * 006cebd2) and _join.py (58f8353e). Optax's `count`
 * starts at 0, the same as eta's step; steps may be fractional (Optax
 * computes in floats). Optax schedules carry their own values (the group's
 * initial lr is ignored), and, being schedules of any hyperparameter, may
 * be negative (Optax's own tests use end_value=-3); they must be finite.
 *
 * Optax's own semantics, kept where the anchors differ:
 * - piecewise_constant_schedule scales from the boundary step on (count >=
 *   boundary), where Keras's PiecewiseConstantDecay still has the old value.
 * - warmup_cosine_decay_schedule: decay_steps INCLUDES the warm-up (the
 *   cosine lasts decay_steps - warmup_steps), where Keras's CosineDecay
 *   adds the warm-up to decay_steps. With peak_value 0 the cosine is 0
 *   throughout (Optax sets alpha = 0 there), ignoring end_value.
 * - cosine_onecycle_schedule peaks at floor(pct_start * T) and reaches its
 *   minimum at T (PyTorch's OneCycleLR: pct_start * T - 1 and T - 1); it
 *   sets no momentum.
 * - linear_schedule / polynomial_schedule with transition_steps 0 are the
 *   constant init_value (Optax's rule, on which warmup_steps=0 relies; so
 *   warmup_constant_schedule(warmup_steps=0) stays at init_value).
 * - join_schedules hands the later schedule `step - boundary`; the last
 *   boundary that step has reached wins, as in Optax's loop.
 * - Dicts {step: scale} follow Python: a repeated key keeps its last value;
 *   keys are sorted; linear/cosine_onecycle_schedule build theirs the same
 *   way, so coinciding boundaries (int(pct_final * T) == T) merge as in Optax.
 *
 * sgdr_schedule takes Optax's list of dicts of warmup_cosine_decay_schedule
 * keyword arguments,
 *     sgdr_schedule([{'init_value': 0, 'peak_value': 1, 'warmup_steps': 10,
 *                     'decay_steps': 100}, dict(init_value=0, ...)])
 * or the same cycles written as calls (eta's form, which also takes
 * positional arguments):
 *     sgdr_schedule([warmup_cosine_decay_schedule(0, 1, 10, 100),
 *                    warmup_cosine_decay_schedule(0, 0.5, 10, 200)])
 * each cycle lasting its decay_steps.
 *
 * Differs from Optax on purpose (all reported as located errors, where Optax
 * silently logs and degrades): exponential_decay with transition_steps <= 0
 * or decay_rate <= 0 (Optax: a constant schedule for 0, NaN for a negative
 * rate with a fractional exponent); a negative transition_begin or
 * transition_steps (Optax: clamped to 0 / constant); negative scales (Optax
 * raises too); join_schedules whose boundaries are not one fewer than the
 * schedules or decrease (Optax zips silently); onecycle percentages outside
 * [0, 1] or pct_start > pct_final; values that overflow on the way (an
 * init - end span, a product of scales), which would give NaN later.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err); /* anchors.c */

#define PI 3.14159265358979323846
#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define AT(i) (vals[i] ? vals[i] : call)
#define REQ_ANY(nm) {nm, SA_REAL, true, NAN, -INFINITY, INFINITY, false, false, NULL}
#define OPT_ANY(nm) {nm, SA_OPT_REAL, false, NAN, -INFINITY, INFINITY, false, false, NULL}
#define REQ_POS(nm) {nm, SA_REAL, true, NAN, 0, INFINITY, true, true, NULL}
#define REQ_NONNEG(nm) {nm, SA_REAL, true, NAN, 0, INFINITY, false, true, NULL}
#define UNIT(nm, def) {nm, SA_REAL, false, def, 0, 1, false, false, NULL}
#define SCALES(nm) {nm, SA_DICT, false, NAN, 0, 0, false, false, NULL}

static int finite_only(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    return sched_anchor_check_finite(n, vals, err);
}

/* ---- the formulas (shared by the composite kinds) ---- */

/* polynomial_schedule: (init - end) * (1 - c/steps)^power + end with c =
 * clip(count - begin, 0, steps); steps <= 0: init. */
static double poly_value(double init, double end, double power, double steps, double begin, double t)
{
    if (steps <= 0)
        return init;
    double c = fmin(fmax(t - begin, 0), steps);
    double frac = 1 - c / steps;
    return (init - end) * pow(frac, power) + end;
}

/* exponential_decay: init until count reaches begin, then init *
 * rate^((count - begin)/steps) (exponent floored with staircase), clipped
 * at end_value from below (rate < 1) or above. */
static double exp_value(double init, double steps, double rate, double begin, bool staircase, double end, double t)
{
    double d = t - begin;
    double p = d / steps;
    if (staircase)
        p = floor(p);
    double v = d <= 0 || init == 0 ? init : init * pow(rate, p); /* init 0: 0, not 0 * inf */
    if (!isnan(end))
        v = rate < 1.0 ? fmax(v, end) : fmin(v, end);
    return v;
}

/* cosine_decay_schedule: init * ((1 - alpha) * ((1 + cos(pi c/ds))/2)^exponent + alpha), c = min(count, ds). */
static double cos_value(double init, double ds, double alpha, double exponent, double t)
{
    double c = fmin(t, ds);
    double cosine = 0.5 * (1 + cos(PI * c / ds));
    return init * ((1 - alpha) * pow(cosine, exponent) + alpha);
}

/* piecewise_interpolate_schedule over sorted keys: values = cumprod(init,
 * scales); between consecutive bounds (0, keys...) interpolate (interval at
 * least 1); from the last bound on, the last value. */
static double interp_value(bool cosine, double init, const double *keys, const double *scales, int m, double t)
{
    double out = 0, lo = 0, vlo = init;
    for (int k = 0; k < m; k++) {
        double hi = keys[k], vhi = vlo * scales[k];
        if (lo <= t && t < hi) {
            double pct = (t - lo) / fmax(hi - lo, 1);
            out += cosine ? vhi + (vlo - vhi) / 2.0 * (cos(PI * pct) + 1) : (vhi - vlo) * pct + vlo;
        }
        lo = hi;
        vlo = vhi;
    }
    if (lo <= t)
        out += vlo;
    return out;
}

/* A Python dict {key: value} in place: a repeated key keeps its last value;
 * then sorted by key. Returns the number of distinct keys. */
static int dict_normalize(double *keys, double *values, int len)
{
    int m = 0;
    for (int k = 0; k < len; k++) {
        int j = 0;
        while (j < m && keys[j] != keys[k])
            j++;
        if (j < m) {
            values[j] = values[k];
        } else {
            keys[m] = keys[k];
            values[m] = values[k];
            m++;
        }
    }
    for (int k = 1; k < m; k++) /* insertion sort: m is small */
        for (int j = k; j > 0 && keys[j - 1] > keys[j]; j--) {
            double tk = keys[j], tv = values[j];
            keys[j] = keys[j - 1], values[j] = values[j - 1];
            keys[j - 1] = tk, values[j - 1] = tv;
        }
    return m;
}

/* The values init * scales[0] * ... * scales[k] must stay finite (an
 * overflow would turn a later 0 scale or an interpolation into NaN). */
static int values_check(double init, const double *keys, const double *scales, int m, const char *fn,
                        const eta_spec *at, eta_err *err)
{
    double v = init;
    for (int k = 0; k < m; k++) {
        v *= scales[k];
        if (!isfinite(v))
            return eta_spec_fail(err, ETA_EINVAL, at, "%s: the value from step %g on overflows", fn, keys[k]);
    }
    return ETA_OK;
}

/* Checks the scales of a boundaries_and_scales dict, then normalizes it. */
static int scales_check(sched_node *n, int i, double init, const char *fn, const eta_spec *const *vals, eta_err *err)
{
    for (int k = 0; k < n->vlen[i]; k++)
        if (n->dict_values[k] < 0)
            return eta_spec_fail(err, ETA_EINVAL, vals[i]->items[2 * k + 1],
                                 "`%s` expects non-negative scale factors, got %g", fn, n->dict_values[k]);
    n->vlen[i] = dict_normalize(n->vec[i], n->dict_values, n->vlen[i]);
    return values_check(init, n->vec[i], n->dict_values, n->vlen[i], fn, vals[i], err);
}

/* b - a must be finite: the formulas interpolate between a and b. */
static int span_check(const sched_node *n, int a, int b, const eta_spec *call, const eta_spec *const *vals,
                      eta_err *err)
{
    if (isfinite(n->v[b] - n->v[a]))
        return ETA_OK;
    return eta_spec_fail(err, ETA_EINVAL, AT(b), "%s: %s - %s overflows", n->kind->name, n->kind->args[b].name,
                         n->kind->args[a].name);
}

/* ---- constant_schedule(value) ---- */
static const sched_arg const_args[] = {REQ_ANY("value")};

static double const_lr(const sched_node *n, double t, double base, int group)
{
    (void)t, (void)base, (void)group;
    return n->v[0];
}

const sched_kind sched_optax_constant = {"constant_schedule", "optax", const_args, NARGS(const_args), finite_only,
                                         const_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* ---- polynomial_schedule(init_value, end_value, power, transition_steps, transition_begin=0) ---- */
enum { PS_INIT, PS_END, PS_POWER, PS_STEPS, PS_BEGIN };
static const sched_arg poly_args[] = {
    REQ_ANY("init_value"),      REQ_ANY("end_value"), REQ_NONNEG("power"), REQ_NONNEG("transition_steps"),
    SARG_NONNEG("transition_begin", 0),
};

static int poly_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    return rc ? rc : span_check(n, PS_INIT, PS_END, call, vals, err);
}

static double poly_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return poly_value(n->v[PS_INIT], n->v[PS_END], n->v[PS_POWER], n->v[PS_STEPS], n->v[PS_BEGIN], t);
}

/* Where the transition ends (a warm-up's end, or a decay's). */
static int64_t poly_length(const sched_node *n)
{
    return n->v[PS_STEPS] > 0 ? sched_steps(n->v[PS_BEGIN] + n->v[PS_STEPS]) : 0;
}

const sched_kind sched_optax_polynomial = {"polynomial_schedule", "optax", poly_args, NARGS(poly_args), poly_check,
                                           poly_lr, NULL, NULL, NULL, poly_length, NULL, 0};

/* ---- linear_schedule(init_value, end_value, transition_steps, transition_begin=0): power 1 ---- */
enum { LS_INIT, LS_END, LS_STEPS, LS_BEGIN };
static const sched_arg linear_args[] = {
    REQ_ANY("init_value"),
    REQ_ANY("end_value"),
    REQ_NONNEG("transition_steps"),
    SARG_NONNEG("transition_begin", 0),
};

static int linear_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    return rc ? rc : span_check(n, LS_INIT, LS_END, call, vals, err);
}

static double linear_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return poly_value(n->v[LS_INIT], n->v[LS_END], 1, n->v[LS_STEPS], n->v[LS_BEGIN], t);
}

static int64_t linear_length(const sched_node *n)
{
    return n->v[LS_STEPS] > 0 ? sched_steps(n->v[LS_BEGIN] + n->v[LS_STEPS]) : 0;
}

const sched_kind sched_optax_linear = {"linear_schedule", "optax", linear_args, NARGS(linear_args), linear_check,
                                       linear_lr, NULL, NULL, NULL, linear_length, NULL, 0};

/* ---- exponential_decay(init_value, transition_steps, decay_rate, transition_begin=0, staircase=False,
 *      end_value=None) ---- */
enum { EX_INIT, EX_STEPS, EX_RATE, EX_BEGIN, EX_STAIRCASE, EX_END };
static const sched_arg exp_args[] = {
    REQ_ANY("init_value"),    REQ_POS("transition_steps"), REQ_POS("decay_rate"), SARG_NONNEG("transition_begin", 0),
    SARG_BOOL("staircase", 0), OPT_ANY("end_value"),
};

static double exp_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return exp_value(n->v[EX_INIT], n->v[EX_STEPS], n->v[EX_RATE], n->v[EX_BEGIN], n->v[EX_STAIRCASE] != 0,
                     n->v[EX_END], t);
}

const sched_kind sched_optax_exponential_decay = {"exponential_decay", "optax", exp_args, NARGS(exp_args),
                                                  finite_only, exp_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* ---- cosine_decay_schedule(init_value, decay_steps, alpha=0.0, exponent=1.0) ---- */
enum { CS_INIT, CS_STEPS, CS_ALPHA, CS_EXPONENT };
static const sched_arg cos_args[] = {
    REQ_ANY("init_value"),
    REQ_POS("decay_steps"),
    SARG_REAL("alpha", 0.0, -INFINITY, INFINITY),
    SARG_NONNEG("exponent", 1.0),
};

static double cos_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return cos_value(n->v[CS_INIT], n->v[CS_STEPS], n->v[CS_ALPHA], n->v[CS_EXPONENT], t);
}

static int64_t cos_length(const sched_node *n)
{
    return sched_steps(n->v[CS_STEPS]);
}

const sched_kind sched_optax_cosine_decay = {"cosine_decay_schedule", "optax", cos_args, NARGS(cos_args), finite_only,
                                             cos_lr, NULL, NULL, NULL, cos_length, NULL, 0};

/* ---- piecewise_constant_schedule(init_value, boundaries_and_scales=None) ----
 * init times the scale of every boundary count has reached (count >= boundary). */
enum { PW_INIT, PW_SCALES };
static const sched_arg pw_args[] = {REQ_ANY("init_value"), SCALES("boundaries_and_scales")};

static int pw_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    int rc = sched_anchor_check_finite(n, vals, err);
    return rc ? rc : scales_check(n, PW_SCALES, n->v[PW_INIT], "piecewise_constant_schedule", vals, err);
}

static double pw_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double v = n->v[PW_INIT];
    for (int k = 0; k < n->vlen[PW_SCALES]; k++)
        v = t < n->vec[PW_SCALES][k] ? v : n->dict_values[k] * v;
    return v;
}

const sched_kind sched_optax_piecewise_constant = {"piecewise_constant_schedule", "optax", pw_args, NARGS(pw_args),
                                                   pw_check, pw_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* ---- piecewise_interpolate_schedule(interpolate_type, init_value, boundaries_and_scales=None) ---- */
enum { PI_TYPE, PI_INIT, PI_SCALES };
static const sched_arg pi_args[] = {
    {"interpolate_type", SA_CHOICE, true, 0, 0, 0, false, false, "linear|cosine"},
    REQ_ANY("init_value"),
    SCALES("boundaries_and_scales"),
};

static int pi_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    int rc = sched_anchor_check_finite(n, vals, err);
    return rc ? rc : scales_check(n, PI_SCALES, n->v[PI_INIT], "piecewise_interpolate_schedule", vals, err);
}

static double pi_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return interp_value(n->v[PI_TYPE] == 1, n->v[PI_INIT], n->vec[PI_SCALES], n->dict_values, n->vlen[PI_SCALES],
                        t);
}

/* The last boundary, where the interpolation ends. */
static int64_t pi_length(const sched_node *n)
{
    int m = n->vlen[PI_SCALES];
    return m > 0 ? sched_steps(n->vec[PI_SCALES][m - 1]) : 0;
}

const sched_kind sched_optax_piecewise_interpolate = {"piecewise_interpolate_schedule", "optax", pi_args,
                                                      NARGS(pi_args), pi_check, pi_lr, NULL, NULL, NULL, pi_length,
                                                      NULL, 0};

/* ---- warmup_constant_schedule(init_value, peak_value, warmup_steps) ---- */
enum { WK_INIT, WK_PEAK, WK_WARMUP };
static const sched_arg wk_args[] = {REQ_ANY("init_value"), REQ_ANY("peak_value"), REQ_NONNEG("warmup_steps")};

static int wk_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    return rc ? rc : span_check(n, WK_INIT, WK_PEAK, call, vals, err);
}

static double wk_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return poly_value(n->v[WK_INIT], n->v[WK_PEAK], 1, n->v[WK_WARMUP], 0, t);
}

const sched_kind sched_optax_warmup_constant = {"warmup_constant_schedule", "optax", wk_args, NARGS(wk_args),
                                                wk_check, wk_lr, NULL, NULL, NULL, NULL, NULL, 0};

/* ---- warmup_cosine_decay_schedule(init_value, peak_value, warmup_steps, decay_steps, end_value=0.0,
 *      exponent=1.0) ----
 * join([linear(init -> peak over warmup), cosine_decay(peak, decay_steps -
 * warmup_steps, alpha = end/peak)], [warmup_steps]). */
enum { WC_INIT, WC_PEAK, WC_WARMUP, WC_DECAY, WC_END, WC_EXPONENT };
static const sched_arg wc_args[] = {
    REQ_ANY("init_value"),  REQ_ANY("peak_value"),
    REQ_NONNEG("warmup_steps"), REQ_POS("decay_steps"),
    SARG_REAL("end_value", 0.0, -INFINITY, INFINITY), SARG_NONNEG("exponent", 1.0),
};

static int wc_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (!rc)
        rc = span_check(n, WC_INIT, WC_PEAK, call, vals, err);
    if (rc)
        return rc;
    double peak = n->v[WC_PEAK], alpha = peak == 0.0 ? 0.0 : n->v[WC_END] / peak;
    if (!isfinite(alpha) || !isfinite(peak * (1 - alpha)))
        return eta_spec_fail(err, ETA_EINVAL, AT(WC_END),
                             "warmup_cosine_decay_schedule: end_value / peak_value overflows");
    if (!(n->v[WC_DECAY] > n->v[WC_WARMUP]))
        return eta_spec_fail(err, ETA_EINVAL, AT(WC_DECAY),
                             "warmup_cosine_decay_schedule: decay_steps (%g) must be > warmup_steps (%g): it is the "
                             "total length, warm-up included, so the cosine lasts decay_steps - warmup_steps",
                             n->v[WC_DECAY], n->v[WC_WARMUP]);
    return ETA_OK;
}

static double wc_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double peak = n->v[WC_PEAK], ws = n->v[WC_WARMUP];
    if (t < ws)
        return poly_value(n->v[WC_INIT], peak, 1, ws, 0, t);
    double alpha = peak == 0.0 ? 0.0 : n->v[WC_END] / peak;
    return cos_value(peak, n->v[WC_DECAY] - ws, alpha, n->v[WC_EXPONENT], t - ws);
}

/* decay_steps, which counts the warm-up. */
static int64_t wc_length(const sched_node *n)
{
    return sched_steps(n->v[WC_DECAY]);
}

const sched_kind sched_optax_warmup_cosine_decay = {"warmup_cosine_decay_schedule", "optax", wc_args, NARGS(wc_args),
                                                    wc_check, wc_lr, NULL, NULL, NULL, wc_length, NULL, 0};

/* ---- warmup_exponential_decay_schedule(init_value, peak_value, warmup_steps, transition_steps,
 *      decay_rate, transition_begin=0, staircase=False, end_value=None) ----
 * join([linear(init -> peak over warmup), exponential_decay(peak, ...)], [warmup_steps]). */
enum { WE_INIT, WE_PEAK, WE_WARMUP, WE_STEPS, WE_RATE, WE_BEGIN, WE_STAIRCASE, WE_END };
static const sched_arg we_args[] = {
    REQ_ANY("init_value"),       REQ_ANY("peak_value"),   REQ_NONNEG("warmup_steps"),
    REQ_POS("transition_steps"), REQ_POS("decay_rate"),   SARG_NONNEG("transition_begin", 0),
    SARG_BOOL("staircase", 0),   OPT_ANY("end_value"),
};

static int we_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    return rc ? rc : span_check(n, WE_INIT, WE_PEAK, call, vals, err);
}

static double we_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double ws = n->v[WE_WARMUP];
    if (t < ws)
        return poly_value(n->v[WE_INIT], n->v[WE_PEAK], 1, ws, 0, t);
    return exp_value(n->v[WE_PEAK], n->v[WE_STEPS], n->v[WE_RATE], n->v[WE_BEGIN], n->v[WE_STAIRCASE] != 0,
                     n->v[WE_END], t - ws);
}

const sched_kind sched_optax_warmup_exponential_decay = {"warmup_exponential_decay_schedule", "optax", we_args,
                                                         NARGS(we_args), we_check, we_lr, NULL, NULL, NULL, NULL,
                                                         NULL, 0};

/* ---- sgdr_schedule(cosine_kwargs) ----
 * join of warmup_cosine_decay_schedule cycles, each lasting its decay_steps. */
static const sched_arg sgdr_args[] = {
    {"cosine_kwargs", SA_SCHEDS, true, NAN, 0, 0, false, false, "warmup_cosine_decay_schedule"}};

static int sgdr_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    for (int k = 0; k < n->nkids; k++)
        if (n->kids[k]->kind != &sched_optax_warmup_cosine_decay)
            return eta_spec_fail(err, ETA_EINVAL, vals[0]->items[k],
                                 "sgdr_schedule: cosine_kwargs[%d] must be a dict of warmup_cosine_decay_schedule's "
                                 "arguments, or a warmup_cosine_decay_schedule(...) call, got %s",
                                 k, n->kids[k]->kind->name);
    return ETA_OK;
}

static double sgdr_lr(const sched_node *n, double t, double base, int group)
{
    double start = 0;
    int k = 0;
    while (k < n->nkids - 1 && !(t < start + n->kids[k]->v[WC_DECAY]))
        start += n->kids[k++]->v[WC_DECAY];
    return sched_node_lr(n->kids[k], t - start, base, group);
}

/* The cycles' decay_steps, summed. */
static int64_t sgdr_length(const sched_node *n)
{
    double total = 0;
    for (int k = 0; k < n->nkids; k++)
        total += n->kids[k]->v[WC_DECAY];
    return sched_steps(total);
}

const sched_kind sched_optax_sgdr = {"sgdr_schedule", "optax", sgdr_args, NARGS(sgdr_args), sgdr_check, sgdr_lr, NULL,
                                     NULL, NULL, sgdr_length, NULL, 0};

/* ---- linear_onecycle_schedule / cosine_onecycle_schedule ----
 * piecewise_interpolate_schedule from peak/div_factor with the dict
 * linear: {int(pct_start T): div, int(pct_final T): 1/div, T: 1/final_div}
 * cosine: {int(pct_start T): div, int(T): 1/(div final_div)}
 * d[]: the normalized keys, then their scales, then their count. */
enum { OC_T, OC_PEAK, OC_START };
enum { LO_FINAL = 3, LO_DIV, LO_FDIV };
enum { CO_DIV = 3, CO_FDIV };
enum { OC_KEYS = 0, OC_SCALES = 3, OC_COUNT = 6 };
static const sched_arg lo_args[] = {
    REQ_POS("transition_steps"), REQ_ANY("peak_value"), UNIT("pct_start", 0.3), UNIT("pct_final", 0.85),
    SARG_POS("div_factor", 25.0), SARG_POS("final_div_factor", 1e4),
};
static const sched_arg co_args[] = {
    REQ_POS("transition_steps"), REQ_ANY("peak_value"),         UNIT("pct_start", 0.3),
    SARG_POS("div_factor", 25.0), SARG_POS("final_div_factor", 1e4),
};

static int lo_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    double T = n->v[OC_T];
    if (n->v[OC_START] > n->v[LO_FINAL])
        return eta_spec_fail(err, ETA_EINVAL, AT(LO_FINAL),
                             "linear_onecycle_schedule: pct_final (%g) must be >= pct_start (%g)", n->v[LO_FINAL],
                             n->v[OC_START]);
    double *key = &n->d[OC_KEYS], *scale = &n->d[OC_SCALES];
    key[0] = trunc(n->v[OC_START] * T), scale[0] = n->v[LO_DIV];
    key[1] = trunc(n->v[LO_FINAL] * T), scale[1] = 1.0 / n->v[LO_DIV];
    key[2] = T, scale[2] = 1.0 / n->v[LO_FDIV];
    n->d[OC_COUNT] = dict_normalize(key, scale, 3);
    return values_check(n->v[OC_PEAK] / n->v[LO_DIV], key, scale, (int)n->d[OC_COUNT], "linear_onecycle_schedule",
                        call, err);
}

static int co_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    double T = n->v[OC_T], *key = &n->d[OC_KEYS], *scale = &n->d[OC_SCALES];
    key[0] = trunc(n->v[OC_START] * T), scale[0] = n->v[CO_DIV];
    key[1] = trunc(T), scale[1] = 1.0 / (n->v[CO_DIV] * n->v[CO_FDIV]);
    n->d[OC_COUNT] = dict_normalize(key, scale, 2);
    return values_check(n->v[OC_PEAK] / n->v[CO_DIV], key, scale, (int)n->d[OC_COUNT], "cosine_onecycle_schedule",
                        call, err);
}

static double lo_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return interp_value(false, n->v[OC_PEAK] / n->v[LO_DIV], &n->d[OC_KEYS], &n->d[OC_SCALES], (int)n->d[OC_COUNT],
                        t);
}

static double co_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    return interp_value(true, n->v[OC_PEAK] / n->v[CO_DIV], &n->d[OC_KEYS], &n->d[OC_SCALES], (int)n->d[OC_COUNT],
                        t);
}

static int64_t onecycle_length(const sched_node *n)
{
    return sched_steps(n->v[OC_T]);
}

const sched_kind sched_optax_linear_onecycle = {"linear_onecycle_schedule", "optax", lo_args, NARGS(lo_args),
                                                lo_check, lo_lr, NULL, NULL, NULL, onecycle_length, NULL, 0};
const sched_kind sched_optax_cosine_onecycle = {"cosine_onecycle_schedule", "optax", co_args, NARGS(co_args),
                                                co_check, co_lr, NULL, NULL, NULL, onecycle_length, NULL, 0};

/* ---- join_schedules(schedules, boundaries) ----
 * Schedule k+1 takes over at boundaries[k] on its own clock (step -
 * boundary). Any schedule may be joined, PyTorch's and the stateful ones
 * included: momentum and metrics come from the active schedule. */
enum { JN_SCHEDS, JN_BOUNDS };
static const sched_arg join_args[] = {
    {"schedules", SA_SCHEDS, true, NAN, 0, 0, false, false, NULL},
    {"boundaries", SA_REALS, true, NAN, 0, INFINITY, false, true, NULL},
};

static int join_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    int nb = n->vlen[JN_BOUNDS];
    if (nb != n->nkids - 1)
        return eta_spec_fail(err, ETA_EINVAL, AT(JN_BOUNDS),
                             "join_schedules: %d schedules need %d boundaries, got %d", n->nkids, n->nkids - 1, nb);
    for (int k = 0; k < nb; k++) {
        double b = n->vec[JN_BOUNDS][k];
        if (b != floor(b))
            return eta_spec_fail(err, ETA_EINVAL, vals[JN_BOUNDS]->items[k],
                                 "join_schedules: boundaries[%d] must be an integer step, got %g", k, b);
        if (k > 0 && b < n->vec[JN_BOUNDS][k - 1])
            return eta_spec_fail(err, ETA_EINVAL, vals[JN_BOUNDS]->items[k],
                                 "join_schedules: boundaries must not decrease, got %g after %g",
                                 b, n->vec[JN_BOUNDS][k - 1]);
    }
    return ETA_OK;
}

/* The schedule active at t (the last boundary t has reached) and its start. */
static int join_child(const sched_node *n, double t, double *start)
{
    int k = 0;
    *start = 0;
    for (int j = 0; j < n->vlen[JN_BOUNDS]; j++)
        if (!(t < n->vec[JN_BOUNDS][j])) {
            k = j + 1;
            *start = n->vec[JN_BOUNDS][j];
        }
    return k;
}

static double join_lr(const sched_node *n, double t, double base, int group)
{
    double start;
    int k = join_child(n, t, &start);
    return sched_node_lr(n->kids[k], t - start, base, group);
}

/* The active schedule's momentum or, where it sets none, the value an
 * earlier one set last (the optimizer keeps it). */
static double join_momentum(const sched_node *n, double t, int group)
{
    double start;
    int k = join_child(n, t, &start);
    double local = t - start;
    for (int j = k; j >= 0; j--) {
        double m = sched_node_momentum(n->kids[j], local, group);
        if (!isnan(m))
            return m;
        if (j > 0) {
            double prev = j > 1 ? n->vec[JN_BOUNDS][j - 2] : 0;
            local = fmax(n->vec[JN_BOUNDS][j - 1] - 1 - prev, 0);
        }
    }
    return NAN;
}

/* Valid up to the first schedule whose own domain ends inside its turn. */
static int64_t join_last(const sched_node *n)
{
    int nb = n->vlen[JN_BOUNDS];
    for (int k = 0; k < n->nkids; k++) {
        int64_t l = sched_node_last_step(n->kids[k]);
        double s = k ? n->vec[JN_BOUNDS][k - 1] : 0, e = k < nb ? n->vec[JN_BOUNDS][k] : INFINITY;
        if (l == INT64_MAX || e <= s)
            continue;
        double end = s + (double)l;
        if (end < e - 1)
            return end < 9.0e18 ? (int64_t)end : INT64_MAX;
    }
    return INT64_MAX;
}

/* The last boundary plus the last schedule's length, if it has one. */
static int64_t join_length(const sched_node *n)
{
    int64_t l = sched_node_length(n->kids[n->nkids - 1]);
    int nb = n->vlen[JN_BOUNDS];
    return l ? sched_steps((nb ? n->vec[JN_BOUNDS][nb - 1] : 0) + (double)l) : 0;
}

static void join_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups)
{
    double start;
    int k = join_child(n, (double)step, &start);
    sched_node_observe(n->kids[k], step - (int64_t)start, metric, inputs, ngroups);
}

const sched_kind sched_optax_join = {"join_schedules", "optax", join_args, NARGS(join_args), join_check, join_lr,
                                     NULL, join_momentum, join_last, join_length, join_observe, SCHED_COMPOSITE};

_Static_assert(NARGS(poly_args) <= SCHED_MAX_ARGS && NARGS(exp_args) <= SCHED_MAX_ARGS &&
                   NARGS(we_args) <= SCHED_MAX_ARGS && NARGS(lo_args) <= SCHED_MAX_ARGS,
               "argument tables fit in a node");
