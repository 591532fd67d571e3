/* sched/anchors.c - the registry of the schedules that are not PyTorch's:
 * Keras 3 (keras.c), Optax (optax.c), fastai (fastai.c), scikit-learn's SGD
 * rates (sklearn.c), darknet (darknet.c), llm.c (llmc.c) and eta's own
 * (WSD in llmc.c, the linear scaling rule in scaling.c), in that order, which
 * is the order `eta schedule --list` shows them in. Also the checks every
 * anchor family shares (finite numbers). The PyTorch kinds are listed in the
 * torch_*.c files; the binding of a spec to a kind's table is in sched.c.
 * Each value cites the framework, version and function it follows.
 */
#include <stdio.h>

#include "sched/node.h"

/* Shared by the family files (each repeats this prototype). */
int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err);

/* keras.c */
extern const sched_kind sched_keras_exponential_decay, sched_keras_piecewise_constant_decay,
    sched_keras_polynomial_decay, sched_keras_inverse_time_decay, sched_keras_cosine_decay,
    sched_keras_cosine_decay_restarts;
/* optax.c */
extern const sched_kind sched_optax_constant, sched_optax_linear, sched_optax_polynomial,
    sched_optax_exponential_decay, sched_optax_cosine_decay, sched_optax_piecewise_constant,
    sched_optax_piecewise_interpolate, sched_optax_warmup_constant, sched_optax_warmup_cosine_decay,
    sched_optax_warmup_exponential_decay, sched_optax_sgdr, sched_optax_linear_onecycle,
    sched_optax_cosine_onecycle, sched_optax_join;
/* fastai.c */
extern const sched_kind sched_fastai_fit_one_cycle, sched_fastai_fit_flat_cos, sched_fastai_fit_sgdr;
/* sklearn.c */
extern const sched_kind sched_sklearn_sgd_classifier, sched_sklearn_sgd_regressor;
/* darknet.c */
extern const sched_kind sched_darknet;
/* llmc.c */
extern const sched_kind sched_llmc, sched_eta_wsd;
/* scaling.c */
extern const sched_kind sched_eta_linear_scaling_warmup;

const sched_kind *const sched_anchor_kinds[] = {
    /* Keras 3: keras.optimizers.schedules */
    &sched_keras_exponential_decay,
    &sched_keras_piecewise_constant_decay,
    &sched_keras_polynomial_decay,
    &sched_keras_inverse_time_decay,
    &sched_keras_cosine_decay,
    &sched_keras_cosine_decay_restarts,
    /* Optax: optax.schedules */
    &sched_optax_constant,
    &sched_optax_linear,
    &sched_optax_polynomial,
    &sched_optax_exponential_decay,
    &sched_optax_cosine_decay,
    &sched_optax_piecewise_constant,
    &sched_optax_piecewise_interpolate,
    &sched_optax_warmup_constant,
    &sched_optax_warmup_cosine_decay,
    &sched_optax_warmup_exponential_decay,
    &sched_optax_sgdr,
    &sched_optax_linear_onecycle,
    &sched_optax_cosine_onecycle,
    &sched_optax_join,
    /* fastai: Learner.fit_* as schedules over steps */
    &sched_fastai_fit_one_cycle,
    &sched_fastai_fit_flat_cos,
    &sched_fastai_fit_sgdr,
    /* scikit-learn: the SGD estimators' learning_rate */
    &sched_sklearn_sgd_classifier,
    &sched_sklearn_sgd_regressor,
    /* darknet: get_current_rate */
    &sched_darknet,
    /* llm.c: llmc/schedulers.h */
    &sched_llmc,
    /* eta: WSD with a choice of cooldown, the linear scaling rule */
    &sched_eta_wsd,
    &sched_eta_linear_scaling_warmup,
    NULL,
};

/* ---- shared checks -------------------------------------------------- */

static int not_finite(const eta_spec *v, const char *name, double x, eta_err *err)
{
    return eta_spec_fail(err, ETA_EINVAL, v, "%s must be finite, got %s", name, x > 0 ? "inf" : "-inf");
}

/* The table ranges reject NaN but let +-inf through where a side is open
 * ended; no anchor schedule takes an infinite number, so every family's
 * check() starts here. Located at the culprit (the list item, the dict
 * key or value). */
int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err)
{
    char name[80];
    for (int i = 0; i < n->kind->nargs; i++) {
        const sched_arg *a = &n->kind->args[i];
        const eta_spec *v = vals[i];
        if (!v)
            continue;
        switch (a->type) {
        case SA_REAL:
        case SA_INT:
        case SA_OPT_REAL:
            if (isinf(n->v[i]))
                return not_finite(v, a->name, n->v[i], err);
            break;
        case SA_REAL_OR_REALS:
        case SA_REALS:
            if (!n->vec[i]) {
                if (isinf(n->v[i]))
                    return not_finite(v, a->name, n->v[i], err);
                break;
            }
            for (int k = 0; k < n->vlen[i]; k++)
                if (isinf(n->vec[i][k])) {
                    snprintf(name, sizeof name, "%s[%d]", a->name, k);
                    return not_finite(v->items[k], name, n->vec[i][k], err);
                }
            break;
        case SA_DICT:
            for (int k = 0; k < n->vlen[i]; k++) {
                if (isinf(n->vec[i][k]) || isnan(n->vec[i][k])) {
                    snprintf(name, sizeof name, "%s key", a->name);
                    if (isnan(n->vec[i][k]))
                        return eta_spec_fail(err, ETA_EINVAL, v->items[2 * k], "%s must be a number, got nan",
                                             name);
                    return not_finite(v->items[2 * k], name, n->vec[i][k], err);
                }
                if (isinf(n->dict_values[k]) || isnan(n->dict_values[k])) {
                    snprintf(name, sizeof name, "%s[%.17g]", a->name, n->vec[i][k]);
                    if (isnan(n->dict_values[k]))
                        return eta_spec_fail(err, ETA_EINVAL, v->items[2 * k + 1], "%s must be a number, got nan",
                                             name);
                    return not_finite(v->items[2 * k + 1], name, n->dict_values[k], err);
                }
            }
            break;
        default:
            break;
        }
    }
    return ETA_OK;
}
