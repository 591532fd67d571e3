/* tune/pruner.c - the pruners: a table of named kinds, each a pure decision
 * on a trial after its last report, given every trial of the study. Each
 * follows its anchor's code line by line (read from their sources):
 *
 *   median     optuna.pruners.MedianPruner (n_startup_trials=5,
 *              n_warmup_steps=0, interval_steps=1, n_min_trials=1): prune
 *              when the trial's best value so far is worse than the median
 *              of the completed trials' values at the same step
 *   sh         optuna.pruners.SuccessiveHalvingPruner (min_resource="auto",
 *              reduction_factor=4, min_early_stopping_rate=0,
 *              bootstrap_count=0): rung r at step min_resource * rf^(s + r);
 *              promoted iff within the top floor(n / rf) (at least the best)
 *              of the values recorded at that rung, its own included
 *   hyperband  optuna.pruners.HyperbandPruner (min_resource=1,
 *              max_resource="auto", reduction_factor=3): brackets of
 *              successive halving with s = 0..n-1, a trial's bracket from
 *              crc32("<study>_<number>") over budgets ceil(n rf^s' / (s' + 1))
 *   asha       ray.tune.schedulers.ASHAScheduler (time_attr
 *              training_iteration, grace_period=1, reduction_factor=4,
 *              max_t=100, brackets=1): rungs at grace_period * rf^k < max_t;
 *              stop when the reward is below the (1 - 1/rf) percentile of the
 *              rewards recorded at the highest rung reached
 *
 * Differences: Optuna caches "auto" resources on the pruner object (one per
 * process); here they are computed from the study at each decision, which
 * agrees as long as completed trials share their length.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tune/sweep.h"

static const char *const STATE_NAMES[SWEEP_STATE_COUNT] = {"running", "complete", "pruned", "fail"};

const char *sweep_state_name(sweep_state s)
{
    return (unsigned)s < SWEEP_STATE_COUNT ? STATE_NAMES[s] : "?";
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double sweep_percentile(double *x, int n, double q)
{
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i]))
            x[m++] = x[i];
    if (m == 0)
        return NAN;
    qsort(x, (size_t)m, sizeof *x, cmp_double);
    double pos = q / 100 * (m - 1); /* numpy's "linear": x[lo] + (x[hi] - x[lo]) * frac */
    int lo = (int)floor(pos), hi = lo + 1 < m ? lo + 1 : lo;
    double g = pos - lo;
    /* numpy's _lerp: a + (b - a) * t, and b - (b - a) * (1 - t) when t >= 0.5 */
    double d = x[hi] - x[lo];
    return g >= 0.5 ? x[hi] - d * (1 - g) : x[lo] + d * g;
}

/* ---- successive halving (Optuna) -------------------------------------- */

static bool promotable(double value, double *competing, int n, int64_t rf, bool maximize)
{
    int64_t idx = n / rf - 1;
    if (idx == -1) /* the first rf - 1 values: promoted when the best so far */
        idx = 0;
    qsort(competing, (size_t)n, sizeof *competing, cmp_double);
    return maximize ? value >= competing[n - 1 - idx] : value <= competing[idx];
}

/* Optuna's _estimate_min_resource: max(last step of the completed trials) // 100, at least 1; 0: none. */
static int64_t estimate_min_resource(const sweep_study_view *v, int bracket, const sweep_pruner *p,
                                     int (*member)(const sweep_study_view *, const sweep_pruner *, int, int))
{
    int64_t last = -1;
    for (int i = 0; i < v->ntrials; i++) {
        const sweep_trial_view *t = &v->trials[i];
        if (t->state == SWEEP_COMPLETE && t->nvals > 0 && (!member || member(v, p, i, bracket)))
            last = t->steps[t->nvals - 1] > last ? t->steps[t->nvals - 1] : last;
    }
    if (last < 0)
        return 0;
    return last / 100 > 1 ? last / 100 : 1;
}

/* SuccessiveHalvingPruner.prune over the trials of one bracket (all when member is NULL). */
static sweep_decision successive_halving(sweep_study_view *v, int self, int64_t min_resource, int64_t rf,
                                         int64_t mesr, int64_t bootstrap, const sweep_pruner *p, int bracket,
                                         int (*member)(const sweep_study_view *, const sweep_pruner *, int, int))
{
    sweep_trial_view *me = &v->trials[self];
    if (me->nvals == 0)
        return SWEEP_GO;
    int64_t step = me->steps[me->nvals - 1];
    double value = me->vals[me->nvals - 1];
    int rung = 0;
    while (rung < SWEEP_MAX_RUNGS && !isnan(me->rungs[rung]))
        rung++;
    if (min_resource <= 0 && (min_resource = estimate_min_resource(v, bracket, p, member)) == 0)
        return SWEEP_GO;
    double *competing = malloc(((size_t)v->ntrials + 1) * sizeof *competing);
    if (!competing)
        return SWEEP_GO;
    sweep_decision d = SWEEP_GO;
    for (; rung < SWEEP_MAX_RUNGS; rung++) {
        double promotion = (double)min_resource * pow((double)rf, (double)(mesr + rung));
        if ((double)step < promotion)
            break;
        if (isnan(value)) {
            d = SWEEP_PRUNE;
            break;
        }
        int n = 0;
        for (int i = 0; i < v->ntrials; i++)
            if (i != self && !isnan(v->trials[i].rungs[rung]) && (!member || member(v, p, i, bracket)))
                competing[n++] = v->trials[i].rungs[rung];
        competing[n++] = value;
        me->rungs[rung] = value;
        if (n <= bootstrap || !promotable(value, competing, n, rf, v->maximize)) {
            d = SWEEP_PRUNE;
            break;
        }
    }
    free(competing);
    return d;
}

/* ---- Hyperband (Optuna) ------------------------------------------------- */

/* The brackets: their count (0 while max_resource is unknown) and budgets. */
static int hyperband_brackets(const sweep_study_view *v, const sweep_pruner *p, int64_t budgets[SWEEP_MAX_RUNGS],
                              int64_t *total)
{
    int64_t max_resource = p->max_resource;
    if (max_resource <= 0) { /* "auto": the largest last step of the completed trials, plus one */
        max_resource = -1;
        for (int i = 0; i < v->ntrials; i++) {
            const sweep_trial_view *t = &v->trials[i];
            if (t->state == SWEEP_COMPLETE && t->nvals > 0 && t->steps[t->nvals - 1] + 1 > max_resource)
                max_resource = t->steps[t->nvals - 1] + 1;
        }
        if (max_resource < 0)
            return 0;
    }
    int n = (int)floor(log((double)max_resource / (double)p->min_resource) / log((double)p->reduction_factor)) + 1;
    if (n < 1)
        n = 1;
    if (n > SWEEP_MAX_RUNGS)
        n = SWEEP_MAX_RUNGS;
    *total = 0;
    for (int b = 0; b < n; b++) {
        int s = n - 1 - b;
        budgets[b] = (int64_t)ceil((double)n * pow((double)p->reduction_factor, s) / (s + 1));
        *total += budgets[b];
    }
    return n;
}

static int bracket_of(const sweep_study_view *v, const sweep_pruner *p, int64_t number)
{
    int64_t budgets[SWEEP_MAX_RUNGS], total;
    int n = hyperband_brackets(v, p, budgets, &total);
    char key[300];
    int len = snprintf(key, sizeof key, "%s_%lld", v->name ? v->name : "", (long long)number);
    int64_t r = (int64_t)(eta_crc32(0, key, (size_t)len) % (uint64_t)total);
    for (int b = 0; b < n; b++)
        if ((r -= budgets[b]) < 0)
            return b;
    return n - 1;
}

static int in_bracket(const sweep_study_view *v, const sweep_pruner *p, int i, int bracket)
{
    return bracket_of(v, p, v->trials[i].number) == bracket;
}

static sweep_decision hyperband(sweep_study_view *v, int self, const sweep_pruner *p)
{
    int64_t budgets[SWEEP_MAX_RUNGS], total;
    if (hyperband_brackets(v, p, budgets, &total) == 0)
        return SWEEP_GO;
    int b = bracket_of(v, p, v->trials[self].number);
    return successive_halving(v, self, p->min_resource, p->reduction_factor, b, p->bootstrap_count, p, b, in_bracket);
}

/* ---- median (Optuna's PercentilePruner at 50) ------------------------- */

/* Whether the median rule compares trial self with the others at its last
 * report: false when its own steps settle it (GO: no report, in the warm-up,
 * not the first report of an interval). */
static bool median_compares(const sweep_study_view *v, int self, const sweep_pruner *p)
{
    const sweep_trial_view *me = &v->trials[self];
    if (me->nvals == 0)
        return false;
    int64_t step = me->steps[me->nvals - 1];
    if (step < p->n_warmup_steps)
        return false;
    /* _is_first_in_interval_step: the step before this one is below the last pruning step */
    int64_t lower = (step - p->n_warmup_steps) / p->interval_steps * p->interval_steps + p->n_warmup_steps;
    int64_t second_last = -1;
    for (int i = 0; i < me->nvals; i++)
        if (me->steps[i] > second_last && me->steps[i] != step)
            second_last = me->steps[i];
    return second_last < lower;
}

static sweep_decision median(sweep_study_view *v, int self, const sweep_pruner *p)
{
    const sweep_trial_view *me = &v->trials[self];
    int completed = 0;
    for (int i = 0; i < v->ntrials; i++)
        completed += v->trials[i].state == SWEEP_COMPLETE;
    if (completed == 0 || completed < p->n_startup_trials || !median_compares(v, self, p))
        return SWEEP_GO;
    int64_t step = me->steps[me->nvals - 1];
    double best = NAN;
    for (int i = 0; i < me->nvals; i++)
        if (!isnan(me->vals[i]) && (isnan(best) || (v->maximize ? me->vals[i] > best : me->vals[i] < best)))
            best = me->vals[i];
    if (isnan(best))
        return SWEEP_PRUNE;
    double *at = malloc(((size_t)v->ntrials + 1) * sizeof *at);
    if (!at)
        return SWEEP_GO;
    int n = 0;
    for (int i = 0; i < v->ntrials; i++) {
        const sweep_trial_view *t = &v->trials[i];
        if (t->state != SWEEP_COMPLETE)
            continue;
        for (int j = 0; j < t->nvals; j++)
            if (t->steps[j] == step) {
                at[n++] = t->vals[j];
                break;
            }
    }
    double q = n < p->n_min_trials ? NAN : sweep_percentile(at, n, v->maximize ? 100 - 50.0 : 50.0);
    free(at);
    if (isnan(q))
        return SWEEP_GO;
    return (v->maximize ? best < q : best > q) ? SWEEP_PRUNE : SWEEP_GO;
}

/* ---- ASHA (Ray Tune) ---------------------------------------------------- */

static sweep_decision asha(sweep_study_view *v, int self, const sweep_pruner *p)
{
    sweep_trial_view *me = &v->trials[self];
    int64_t t = me->nvals; /* training_iteration: the reports so far */
    if (t == 0)
        return SWEEP_GO;
    double reward = (v->maximize ? 1 : -1) * me->vals[me->nvals - 1];
    double rf = (double)p->reduction_factor;
    int nrungs = (int)(log((double)p->max_t / (double)p->grace_period) / log(rf) + 1); /* Ray's MAX_RUNGS, s = 0 */
    if (nrungs > SWEEP_MAX_RUNGS)
        nrungs = SWEEP_MAX_RUNGS;
    double *rec = malloc(((size_t)v->ntrials + 1) * sizeof *rec);
    if (!rec)
        return SWEEP_GO;
    sweep_decision d = SWEEP_GO;
    for (int k = nrungs - 1; k >= 0; k--) { /* the milestones from the highest down */
        double milestone = (double)p->grace_period * pow(rf, k);
        if ((double)t < milestone || !isnan(me->rungs[k]))
            continue;
        int n = 0;
        for (int i = 0; i < v->ntrials; i++)
            if (i != self && !isnan(v->trials[i].rungs[k]))
                rec[n++] = v->trials[i].rungs[k];
        double cutoff = n ? sweep_percentile(rec, n, (1 - 1 / rf) * 100) : NAN;
        if (n && reward < cutoff)
            d = SWEEP_PRUNE;
        me->rungs[k] = reward;
        break;
    }
    free(rec);
    /* max_t: on_trial_result stops the trial, on_trial_complete records its result as above */
    return t >= p->max_t ? SWEEP_DONE : d;
}

/* ---- the table ---------------------------------------------------------- */

static const char *const PRUNER_NAMES[SWEEP_PRUNER_COUNT] = {"none", "median", "sh", "hyperband", "asha"};

const char *sweep_pruner_name(sweep_pruner_kind k)
{
    return (unsigned)k < SWEEP_PRUNER_COUNT ? PRUNER_NAMES[k] : "?";
}

sweep_decision sweep_pruner_decide(const sweep_pruner *p, sweep_study_view *v, int self)
{
    switch (p->kind) {
    case SWEEP_PRUNER_MEDIAN:
        return median(v, self, p);
    case SWEEP_PRUNER_SH:
        return successive_halving(v, self, p->min_resource, p->reduction_factor, p->min_early_stopping_rate,
                                  p->bootstrap_count, p, 0, NULL);
    case SWEEP_PRUNER_HYPERBAND:
        return hyperband(v, self, p);
    case SWEEP_PRUNER_ASHA:
        return asha(v, self, p);
    default:
        return SWEEP_GO;
    }
}

/* ---- in a one-process sweep's order ------------------------------------ */

enum { ORDERED_MAX_RUNNING = 12 };

int sweep_pruner_decide_ordered(const sweep_pruner *p, sweep_study_view *v, int self, sweep_decision *out)
{
    sweep_trial_view *me = &v->trials[self];
    if (p->kind == SWEEP_PRUNER_NONE || me->nvals == 0 ||
        (p->kind == SWEEP_PRUNER_MEDIAN && (self < p->n_startup_trials || self < p->n_min_trials ||
                                            !median_compares(v, self, p)))) {
        *out = sweep_pruner_decide(p, v, self); /* no other trial read (median: fewer earlier trials than it needs) */
        return 1;
    }
    int64_t step = me->steps[me->nvals - 1];
    int running[ORDERED_MAX_RUNNING], m = 0;
    for (int i = 0; i < self; i++) {
        const sweep_trial_view *t = &v->trials[i];
        if (t->state != SWEEP_RUNNING)
            continue;
        bool passed = p->kind == SWEEP_PRUNER_ASHA ? t->nvals >= me->nvals
                                                   : t->nvals > 0 && t->steps[t->nvals - 1] >= step;
        if (!passed || m == ORDERED_MAX_RUNNING)
            return 0;
        running[m++] = i;
    }
    /* "auto" resources read how long the completed trials ran: unknown until they end */
    if (m > 0 && ((p->kind == SWEEP_PRUNER_SH && p->min_resource <= 0) ||
                  (p->kind == SWEEP_PRUNER_HYPERBAND && p->max_resource <= 0)))
        return 0;
    double rungs[SWEEP_MAX_RUNGS], first[SWEEP_MAX_RUNGS];
    memcpy(rungs, me->rungs, sizeof rungs);
    sweep_decision d0 = SWEEP_GO;
    bool same = true;
    for (unsigned mask = 0; same && mask < 1u << m; mask++) { /* each earlier running trial complete or not */
        for (int j = 0; j < m; j++)
            v->trials[running[j]].state = (mask >> j) & 1 ? SWEEP_COMPLETE : SWEEP_PRUNED;
        memcpy(me->rungs, rungs, sizeof rungs);
        sweep_decision d = sweep_pruner_decide(p, v, self);
        if (mask == 0) {
            d0 = d;
            memcpy(first, me->rungs, sizeof first);
        } else {
            same = d == d0 && !memcmp(first, me->rungs, sizeof first);
        }
    }
    for (int j = 0; j < m; j++)
        v->trials[running[j]].state = SWEEP_RUNNING;
    memcpy(me->rungs, same ? first : rungs, sizeof rungs);
    if (same)
        *out = d0;
    return same;
}

/* The arguments each pruner takes, with their defaults, and where they go. */
typedef struct arg_row {
    sweep_pruner_kind kind;
    const char *name;
    int64_t def, lo;
    size_t off;
} arg_row;

#define ARG(k, n, d, lo) {SWEEP_PRUNER_##k, #n, d, lo, offsetof(sweep_pruner, n)}
static const arg_row ARGS[] = {
    ARG(MEDIAN, n_startup_trials, 5, 0), ARG(MEDIAN, n_warmup_steps, 0, 0), ARG(MEDIAN, interval_steps, 1, 1),
    ARG(MEDIAN, n_min_trials, 1, 1),
    ARG(SH, min_resource, 0, 0), ARG(SH, reduction_factor, 4, 2), ARG(SH, min_early_stopping_rate, 0, 0),
    ARG(SH, bootstrap_count, 0, 0),
    ARG(HYPERBAND, min_resource, 1, 1), ARG(HYPERBAND, max_resource, 0, 0), ARG(HYPERBAND, reduction_factor, 3, 2),
    ARG(HYPERBAND, bootstrap_count, 0, 0),
    ARG(ASHA, grace_period, 1, 1), ARG(ASHA, reduction_factor, 4, 2), ARG(ASHA, max_t, 100, 1),
};
#define NARGS ((int)(sizeof ARGS / sizeof ARGS[0]))

int sweep_pruner_parse(const char *text, sweep_pruner *out, eta_err *err)
{
    eta_spec *v;
    int rc = eta_spec_parse(&v, text, err);
    if (rc)
        return ETA_EINVAL;
    memset(out, 0, sizeof *out);
    const char *name = v->kind == ETA_SPEC_NAME || v->kind == ETA_SPEC_CALL ? v->str : "";
    int kind = -1;
    for (int i = 0; i < SWEEP_PRUNER_COUNT; i++)
        if (!strcmp(name, PRUNER_NAMES[i]))
            kind = i;
    if (kind < 0) {
        rc = eta_spec_fail(err, ETA_EINVAL, v, "unknown pruner '%s'%s (none, median, sh, hyperband, asha)", name,
                           *name ? "" : " (a name or a call)");
        eta_spec_free(v);
        return rc;
    }
    out->kind = (sweep_pruner_kind)kind;
    eta_spec_param sig[8];
    int idx[8], nsig = 0;
    for (int i = 0; i < NARGS; i++)
        if ((int)ARGS[i].kind == kind) {
            *(int64_t *)((char *)out + ARGS[i].off) = ARGS[i].def;
            sig[nsig] = (eta_spec_param){ARGS[i].name, false, true};
            idx[nsig++] = i;
        }
    if (v->kind == ETA_SPEC_CALL) {
        const eta_spec *got[8];
        if ((rc = eta_spec_bind(v, sig, nsig, got, err))) {
            eta_spec_free(v);
            return ETA_EINVAL;
        }
        for (int j = 0; j < nsig && !rc; j++) {
            int64_t x;
            if (!got[j])
                continue;
            if ((rc = eta_spec_get_int(got[j], sig[j].name, &x, err)) ||
                (rc = eta_spec_check_range(got[j], sig[j].name, (double)x, (double)ARGS[idx[j]].lo, false, INFINITY,
                                           false, err)))
                break;
            *(int64_t *)((char *)out + ARGS[idx[j]].off) = x;
        }
    }
    if (!rc && kind == SWEEP_PRUNER_ASHA && out->grace_period > out->max_t)
        rc = eta_spec_fail(err, ETA_EINVAL, v, "asha: grace_period must be at most max_t");
    eta_spec_free(v);
    return rc ? ETA_EINVAL : ETA_OK;
}
