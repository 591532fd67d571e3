/* sched/sklearn.c - scikit-learn's SGD learning rates, written as the
 * estimator's constructor so it pastes in:
 *     SGDRegressor(learning_rate='invscaling', eta0=0.01, power_t=0.25)
 *     SGDClassifier(learning_rate='optimal', alpha=0.0001)
 * with 'constant', 'optimal', 'invscaling' and the stateful 'adaptive'.
 *
 * Follows scikit-learn sklearn/linear_model/_sgd_fast.pyx.tp (_plain_sgd,
 * read at 01110719) and _stochastic_gradient.py (defaults and validation).
 * scikit-learn's t counts samples from 1 across epochs;
 * eta's step t (0-based) is sklearn's t+1 (each eta step is one sklearn
 * sample update; fractional steps are floored):
 *   constant    eta0
 *   optimal     1 / (alpha (t0 + t)), t0 = 1/(eta0' alpha), eta0' = typw /
 *               max(1, dloss(1, -typw)), typw = sqrt(1/sqrt(alpha)); every
 *               loss sklearn has gives dloss(1, -typw) <= 0, so eta0' = typw
 *               and `loss` does not change the rate (it is still checked)
 *   invscaling  eta0 / (t+1)^power_t
 *   adaptive    eta0, divided by 5 each time n_iter_no_change observations
 *               in a row bring no improvement, while eta > 1e-6.
 * 'adaptive' observes one metric per epoch (eta_sched_observe): the epoch's
 * mean training loss (sklearn's sumloss / n_samples), no improvement when
 * loss > best_loss - tol; with early_stopping=True, the validation score
 * (higher is better), no improvement when score < best_score + tol.
 * tol=None never counts a miss. Where sklearn would stop training (no
 * improvement again with eta <= 1e-6) the rate stays; stopping is the
 * training loop's business. Its state (eta, best, misses) is n->st[],
 * saved and restored with the schedule. Only 'adaptive' needs metrics:
 * check() points such a node at a twin row that has observe().
 *
 * The other constructor arguments that matter are checked with sklearn's
 * rules (eta0 > 0 unless 'optimal', alpha > 0 for 'optimal'); the rest
 * (penalty, l1_ratio, fit_intercept, max_iter, shuffle, verbose, epsilon or
 * n_jobs, random_state) are accepted and ignored. A node holds 16 arguments,
 * so validation_fraction, warm_start, average (and the classifier's epsilon
 * and class_weight) are not accepted: they do not change the rate.
 * SGDClassifier's eta0 defaults to 0.01, the current scikit-learn default
 * (0.0 up to 1.7; only 'optimal', the default rate, ignores it).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "sched/node.h"

int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err); /* anchors.c */

#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define AT(i) (vals[i] ? vals[i] : call)

/* Both estimators share the positions; slot 9 is epsilon (regressor) or n_jobs (classifier). */
enum {
    SK_LOSS, SK_PENALTY, SK_ALPHA, SK_L1_RATIO, SK_FIT_INTERCEPT, SK_MAX_ITER, SK_TOL, SK_SHUFFLE,
    SK_VERBOSE, SK_EPSILON_OR_JOBS, SK_RANDOM_STATE, SK_RATE, SK_ETA0, SK_POWER_T, SK_EARLY, SK_NO_CHANGE,
};
enum { RATE_CONSTANT, RATE_OPTIMAL, RATE_INVSCALING, RATE_ADAPTIVE };
enum { D_RATE, D_OPTIMAL_INIT };
enum { ST_ETA, ST_BEST, ST_MISSES };

#define SK_COMMON(rates, eta0, power_t, slot9)                                                              \
    SARG_IGNORED("penalty"), SARG_NONNEG("alpha", 0.0001), SARG_IGNORED("l1_ratio"),                       \
        SARG_IGNORED("fit_intercept"), SARG_IGNORED("max_iter"),                                           \
        {"tol", SA_OPT_REAL, false, 1e-3, 0, INFINITY, false, true, NULL}, SARG_IGNORED("shuffle"),       \
        SARG_IGNORED("verbose"), SARG_IGNORED(slot9), SARG_IGNORED("random_state"),                        \
        SARG_CHOICE("learning_rate", rates), SARG_NONNEG("eta0", eta0),                                    \
        SARG_REAL("power_t", power_t, -INFINITY, INFINITY), SARG_BOOL("early_stopping", 0),                \
        SARG_INT("n_iter_no_change", 5, 1)

static const sched_arg regressor_args[] = {
    SARG_CHOICE("loss", "squared_error|huber|epsilon_insensitive|squared_epsilon_insensitive"),
    SK_COMMON("invscaling|constant|optimal|adaptive", 0.01, 0.25, "epsilon"),
};
static const sched_arg classifier_args[] = {
    SARG_CHOICE("loss", "hinge|log_loss|modified_huber|squared_hinge|perceptron|squared_error|huber|"
                        "epsilon_insensitive|squared_epsilon_insensitive"),
    SK_COMMON("optimal|constant|invscaling|adaptive", 0.01, 0.5, "n_jobs"),
};

static const char *const rate_names[] = {"constant", "optimal", "invscaling", "adaptive"};

/* The rate named by choice `idx` of the kind's learning_rate. */
static int rate_of(const sched_kind *k, int idx)
{
    const char *c = k->args[SK_RATE].choices;
    for (; idx > 0; idx--)
        c = strchr(c, '|') + 1;
    size_t len = strcspn(c, "|");
    for (int r = 0; r < 4; r++)
        if (strlen(rate_names[r]) == len && !strncmp(rate_names[r], c, len))
            return r;
    return RATE_CONSTANT; /* not reached: the choices are the four names */
}

extern const sched_kind sched_sklearn_sgd_classifier, sched_sklearn_sgd_classifier_adaptive,
    sched_sklearn_sgd_regressor_adaptive;

static int sgd_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    int rate = rate_of(n->kind, (int)n->v[SK_RATE]);
    double alpha = n->v[SK_ALPHA];
    if (rate != RATE_OPTIMAL && !(n->v[SK_ETA0] > 0))
        return eta_spec_fail(err, ETA_EINVAL, AT(SK_ETA0), "%s: eta0 must be > 0 for learning_rate '%s', got %g",
                             n->kind->name, rate_names[rate], n->v[SK_ETA0]);
    if (rate == RATE_OPTIMAL && !(alpha > 0))
        return eta_spec_fail(err, ETA_EINVAL, AT(SK_ALPHA),
                             "%s: alpha must be > 0 since learning_rate is 'optimal'. alpha is used to compute the "
                             "optimal learning rate.",
                             n->kind->name);
    n->d[D_RATE] = rate;
    if (rate == RATE_OPTIMAL) {
        /* sklearn: initial_eta0 = typw / max(1.0, loss.dloss(1.0, -typw)), = typw (dloss <= 0) */
        double typw = sqrt(1.0 / sqrt(alpha)), initial_eta0 = typw;
        n->d[D_OPTIMAL_INIT] = 1.0 / (initial_eta0 * alpha);
    }
    if (rate == RATE_ADAPTIVE) {
        n->kind = n->kind == &sched_sklearn_sgd_classifier ? &sched_sklearn_sgd_classifier_adaptive
                                                            : &sched_sklearn_sgd_regressor_adaptive;
        n->st[ST_ETA] = n->v[SK_ETA0];
        n->st[ST_BEST] = n->v[SK_EARLY] != 0 ? -INFINITY : INFINITY;
        n->st[ST_MISSES] = 0;
    }
    return ETA_OK;
}

static double sgd_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double T = floor(t) + 1; /* sklearn's t, from 1 */
    switch ((int)n->d[D_RATE]) {
    case RATE_OPTIMAL:
        return 1.0 / (n->v[SK_ALPHA] * (n->d[D_OPTIMAL_INIT] + T - 1));
    case RATE_INVSCALING:
        return n->v[SK_ETA0] / pow(T, n->v[SK_POWER_T]);
    case RATE_ADAPTIVE:
        return n->st[ST_ETA];
    default:
        return n->v[SK_ETA0];
    }
}

/* _plain_sgd's end-of-epoch rule, on the epoch's mean loss (or validation score). */
static void sgd_observe(sched_node *n, int64_t step, double metric, const double *inputs, int ngroups)
{
    (void)step, (void)inputs, (void)ngroups;
    double tol = n->v[SK_TOL]; /* NaN: None, sklearn's -inf */
    double *st = n->st;
    if (n->v[SK_EARLY] != 0) {
        st[ST_MISSES] = !isnan(tol) && metric < st[ST_BEST] + tol ? st[ST_MISSES] + 1 : 0;
        if (metric > st[ST_BEST])
            st[ST_BEST] = metric;
    } else {
        st[ST_MISSES] = !isnan(tol) && metric > st[ST_BEST] - tol ? st[ST_MISSES] + 1 : 0;
        if (metric < st[ST_BEST])
            st[ST_BEST] = metric;
    }
    if (st[ST_MISSES] >= n->v[SK_NO_CHANGE] && st[ST_ETA] > 1e-6) {
        st[ST_ETA] /= 5;
        st[ST_MISSES] = 0;
    }
}

const sched_kind sched_sklearn_sgd_regressor = {"SGDRegressor", "sklearn", regressor_args, NARGS(regressor_args),
                                                sgd_check, sgd_lr, NULL, NULL, NULL, NULL, NULL, 0};
const sched_kind sched_sklearn_sgd_classifier = {"SGDClassifier", "sklearn", classifier_args, NARGS(classifier_args),
                                                 sgd_check, sgd_lr, NULL, NULL, NULL, NULL, NULL, 0};
/* The same rows with observe(), for learning_rate='adaptive' (not listed). */
const sched_kind sched_sklearn_sgd_regressor_adaptive = {"SGDRegressor", "sklearn", regressor_args,
                                                         NARGS(regressor_args), sgd_check, sgd_lr, NULL, NULL, NULL,
                                                         NULL, sgd_observe, 0};
const sched_kind sched_sklearn_sgd_classifier_adaptive = {"SGDClassifier", "sklearn", classifier_args,
                                                          NARGS(classifier_args), sgd_check, sgd_lr, NULL, NULL, NULL,
                                                          NULL, sgd_observe, 0};

_Static_assert(NARGS(regressor_args) <= SCHED_MAX_ARGS && NARGS(classifier_args) <= SCHED_MAX_ARGS,
               "argument tables fit in a node");
