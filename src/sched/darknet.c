/* sched/darknet.c - darknet's learning-rate policy, get_current_rate, as one
 * kind whose arguments are the [net] section's keys:
 *     darknet(policy='steps', learning_rate=0.001, burn_in=1000, power=4,
 *             steps=[400000, 450000], scales=[.1, .1], max_batches=500200)
 *
 * Follows pjreddie/darknet src/network.c get_current_rate and src/parser.c
 * parse_net_options (defaults; read at 004c8b6d / f6afaabc). With b = eta's step (fractional steps floored):
 *   b < burn_in  learning_rate * (b/burn_in)^power        (starts at 0)
 *   constant     learning_rate
 *   step         learning_rate * scale^floor(b/step)
 *   steps        learning_rate * prod of scales[i] over steps[i] <= b,
 *                scanning steps in order and stopping at the first > b
 *   exp          learning_rate * gamma^b
 *   poly         learning_rate * (1 - b/max_batches)^power, for b <= max_batches
 *   sigmoid      learning_rate / (1 + exp(gamma (b - step)))
 * Defaults as parse_net_options: policy 'constant', learning_rate 0.001,
 * burn_in 0, power 4, step 1, scale 1, gamma 1, max_batches 0.
 *
 * b is the argument of get_current_rate. darknet's own loop adds the batch
 * to `seen` before update_network, so its k-th update (from 0) is computed
 * at b = k+1: to replay a darknet run exactly, evaluate eta at step+1.
 *
 * Differs from darknet on purpose: darknet computes in float32, eta in
 * double. darknet ignores keys its policy does not read, falls back to
 * 'constant' on an unknown policy and crashes on steps/scales of different
 * lengths; eta reports each as a located error. 'random' (lr * U(0,1)^power)
 * is not offered: a schedule here is a pure function of the step. 'poly'
 * needs max_batches > 0 and ends there (past it darknet's base goes
 * negative).
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err); /* anchors.c */

#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define AT(i) (vals[i] ? vals[i] : call)

enum { DN_POLICY, DN_LR, DN_BURN_IN, DN_POWER, DN_STEP, DN_SCALE, DN_STEPS, DN_SCALES, DN_GAMMA, DN_MAX_BATCHES };
enum { P_CONSTANT, P_STEP, P_STEPS, P_EXP, P_POLY, P_SIGMOID };
static const char *const policy_names[] = {"constant", "step", "steps", "exp", "poly", "sigmoid"};

static const sched_arg dn_args[] = {
    SARG_CHOICE("policy", "constant|step|steps|exp|poly|sigmoid"),
    SARG_NONNEG("learning_rate", 0.001),
    SARG_INT("burn_in", 0, 0),
    SARG_NONNEG("power", 4),
    SARG_INT("step", 1, 1),
    SARG_NONNEG("scale", 1),
    {"steps", SA_REALS, false, NAN, 0, INFINITY, false, true, NULL},
    {"scales", SA_REALS, false, NAN, 0, INFINITY, false, true, NULL},
    SARG_REAL("gamma", 1, -INFINITY, INFINITY),
    SARG_INT("max_batches", 0, 0),
};

/* Which policies read each argument (bit p: policy p); burn_in, power
 * (burn-in), learning_rate and max_batches (training length) apply to all. */
#define ALL 0x3f
static const unsigned reads[] = {
    [DN_POLICY] = ALL,          [DN_LR] = ALL,
    [DN_BURN_IN] = ALL,         [DN_POWER] = ALL,
    [DN_STEP] = 1u << P_STEP | 1u << P_SIGMOID,
    [DN_SCALE] = 1u << P_STEP,  [DN_STEPS] = 1u << P_STEPS,
    [DN_SCALES] = 1u << P_STEPS, [DN_GAMMA] = 1u << P_EXP | 1u << P_SIGMOID,
    [DN_MAX_BATCHES] = ALL,
};

static int dn_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    int p = (int)n->v[DN_POLICY];
    for (int i = 0; i < NARGS(dn_args); i++)
        if (vals[i] && !(reads[i] & 1u << p))
            return eta_spec_fail(err, ETA_EINVAL, vals[i], "darknet: %s is not used by policy '%s'",
                                 dn_args[i].name, policy_names[p]);
    if (p == P_STEPS) {
        if (!n->vec[DN_STEPS] || !n->vec[DN_SCALES])
            return eta_spec_fail(err, ETA_EINVAL, call, "darknet: policy 'steps' must have steps and scales");
        if (n->vlen[DN_STEPS] != n->vlen[DN_SCALES])
            return eta_spec_fail(err, ETA_EINVAL, vals[DN_SCALES],
                                 "darknet: steps and scales must have the same length, got %d and %d",
                                 n->vlen[DN_STEPS], n->vlen[DN_SCALES]);
        for (int i = 0; i < n->vlen[DN_STEPS]; i++)
            if (n->vec[DN_STEPS][i] != floor(n->vec[DN_STEPS][i]))
                return eta_spec_fail(err, ETA_EINVAL, vals[DN_STEPS]->items[i],
                                     "darknet: steps[%d] must be an integer batch, got %g", i, n->vec[DN_STEPS][i]);
    }
    if (p == P_EXP && n->v[DN_GAMMA] < 0)
        return eta_spec_fail(err, ETA_EINVAL, AT(DN_GAMMA), "darknet: gamma must be >= 0 for policy 'exp', got %g",
                             n->v[DN_GAMMA]);
    if (p == P_POLY && !(n->v[DN_MAX_BATCHES] > 0))
        return eta_spec_fail(err, ETA_EINVAL, AT(DN_MAX_BATCHES),
                             "darknet: policy 'poly' needs max_batches > 0, got %g", n->v[DN_MAX_BATCHES]);
    return ETA_OK;
}

static double dn_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double b = floor(t), lr = n->v[DN_LR];
    if (b < n->v[DN_BURN_IN])
        return lr * pow(b / n->v[DN_BURN_IN], n->v[DN_POWER]);
    switch ((int)n->v[DN_POLICY]) {
    case P_STEP:
        return lr == 0 ? 0 : lr * pow(n->v[DN_SCALE], floor(b / n->v[DN_STEP])); /* 0, not 0 * inf */
    case P_STEPS:
        for (int i = 0; i < n->vlen[DN_STEPS]; i++) {
            if (n->vec[DN_STEPS][i] > b)
                return lr;
            lr *= n->vec[DN_SCALES][i];
        }
        return lr;
    case P_EXP:
        return lr == 0 ? 0 : lr * pow(n->v[DN_GAMMA], b);
    case P_POLY:
        return lr * pow(1 - b / n->v[DN_MAX_BATCHES], n->v[DN_POWER]);
    case P_SIGMOID:
        return lr * (1. / (1. + exp(n->v[DN_GAMMA] * (b - n->v[DN_STEP]))));
    default:
        return lr;
    }
}

static int64_t dn_last(const sched_node *n)
{
    return (int)n->v[DN_POLICY] == P_POLY ? (int64_t)n->v[DN_MAX_BATCHES] : INT64_MAX;
}

/* max_batches, darknet's training length, whatever the policy. */
static int64_t dn_length(const sched_node *n)
{
    return sched_steps(n->v[DN_MAX_BATCHES]);
}

const sched_kind sched_darknet = {"darknet", "darknet", dn_args, NARGS(dn_args), dn_check, dn_lr, NULL, NULL, dn_last,
                                  dn_length, NULL, 0};

_Static_assert(NARGS(dn_args) <= SCHED_MAX_ARGS && NARGS(reads) == NARGS(dn_args), "argument tables fit");
