/* sched/torch_step.c - PyTorch's multiplicative schedulers
 * (torch/optim/lr_scheduler.py): LambdaLR, MultiplicativeLR, StepLR,
 * MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR, each as a
 * closed form of the step and as PyTorch's chainable get_lr.
 *
 * PyTorch computes these "chainably", multiplying the group's current lr by
 * a ratio each step; for a lone scheduler that equals the closed form used
 * here up to rounding (checked against PyTorch's chainable values in
 * tests/ref/sched_*.txt). Fractional steps are floored. The chainable forms
 * (kind.chain) are get_lr line by line, in its order of operations, for the
 * recursions of ChainedScheduler and SequentialLR (torch_compose.c), where
 * a scheduler multiplies whatever lr the others left.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

#define TORCH_TAIL SARG_IGNORED("last_epoch"), SARG_IGNORED("verbose")

/* LambdaLR(lr_lambda): base * fn(t); MultiplicativeLR: base * prod_{i<=t} fn(i). */
static double lambda_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    return base * n->fn(n->ud, floor(t));
}

static double multiplicative_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    double lr = base;
    for (int64_t i = 1; i <= (int64_t)floor(t); i++)
        lr *= n->fn(n->ud, (double)i);
    return lr;
}

static double multiplicative_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base, (void)group;
    return t > 0 ? lr * n->fn(n->ud, (double)t) : lr;
}

static const sched_arg lambda_args[] = {{"lr_lambda", SA_IGNORED, true, NAN, 0, 0, false, false, NULL}, TORCH_TAIL};

const sched_kind sched_lambda_lr = {"LambdaLR", "torch", lambda_args, 3, NULL, lambda_lr, NULL, NULL, NULL, NULL,
                                    NULL, SCHED_CALLBACK};
const sched_kind sched_multiplicative_lr = {"MultiplicativeLR", "torch", lambda_args, 3, NULL, multiplicative_lr,
                                            multiplicative_chain, NULL, NULL, NULL, NULL, SCHED_CALLBACK};

/* StepLR(step_size, gamma=0.1): base * gamma^floor(t/step_size). */
enum { STEP_SIZE, STEP_GAMMA };
static const sched_arg step_args[] = {SARG_INT_REQ("step_size", 1), SARG_REAL("gamma", 0.1, 0, INFINITY), TORCH_TAIL};

static double step_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    return base * pow(n->v[STEP_GAMMA], floor(floor(t) / n->v[STEP_SIZE]));
}

static double step_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base, (void)group;
    return t == 0 || t % (int64_t)n->v[STEP_SIZE] != 0 ? lr : lr * n->v[STEP_GAMMA];
}

const sched_kind sched_step_lr = {"StepLR", "torch", step_args, 4, NULL, step_lr, step_chain, NULL, NULL, NULL, NULL,
                                  SCHED_TORCH_CLOSED};

/* MultiStepLR(milestones, gamma=0.1): base * gamma^(number of milestones <= t),
 * milestones a multiset: a repeated one applies gamma twice at once. */
enum { MS_MILESTONES, MS_GAMMA };
static const sched_arg multistep_args[] = {
    {"milestones", SA_REALS, true, NAN, 0, INFINITY, false, true, NULL}, SARG_REAL("gamma", 0.1, 0, INFINITY),
    TORCH_TAIL};

static int multistep_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    (void)call;
    for (int i = 0; i < n->vlen[MS_MILESTONES]; i++) {
        double m = n->vec[MS_MILESTONES][i];
        if (m != floor(m))
            return eta_spec_fail(err, ETA_EINVAL, vals[MS_MILESTONES]->items[i], "milestones[%d] must be an integer, got %g",
                                 i, m);
        if (i > 0 && m < n->vec[MS_MILESTONES][i - 1])
            return eta_spec_fail(err, ETA_EINVAL, vals[MS_MILESTONES]->items[i],
                                 "milestones must be in increasing order (repeats allowed), got %g after %g", m,
                                 n->vec[MS_MILESTONES][i - 1]);
    }
    return ETA_OK;
}

static double multistep_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    int k = 0;
    for (int i = 0; i < n->vlen[MS_MILESTONES]; i++)
        k += n->vec[MS_MILESTONES][i] <= floor(t);
    return base * pow(n->v[MS_GAMMA], k);
}

/* gamma ** (how many times t is a milestone) */
static double multistep_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base, (void)group;
    int k = 0;
    for (int i = 0; i < n->vlen[MS_MILESTONES]; i++)
        k += n->vec[MS_MILESTONES][i] == (double)t;
    return k == 0 ? lr : lr * pow(n->v[MS_GAMMA], k);
}

const sched_kind sched_multistep_lr = {"MultiStepLR", "torch", multistep_args, 4, multistep_check, multistep_lr,
                                       multistep_chain, NULL, NULL, NULL, NULL, SCHED_TORCH_CLOSED};

/* ConstantLR(factor=1/3, total_iters=5): base * factor while t < total_iters.
 * total_iters=0 keeps the factor for ever, as PyTorch's chainable form does
 * (it applies the factor at step 0 and waits for a step equal to 0 to lift it). */
enum { CONST_FACTOR, CONST_ITERS };
static const sched_arg constant_args[] = {SARG_REAL("factor", 1.0 / 3, 0, 1), SARG_INT("total_iters", 5, 0),
                                          TORCH_TAIL};

static double constant_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    return floor(t) < n->v[CONST_ITERS] || n->v[CONST_ITERS] == 0 ? base * n->v[CONST_FACTOR] : base;
}

/* factor 0 divides by zero at total_iters, as in PyTorch (ZeroDivisionError):
 * the composites refuse it in their recursion (torch_compose.c). */
static double constant_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base, (void)group;
    if (t == 0)
        return lr * n->v[CONST_FACTOR];
    if ((double)t != n->v[CONST_ITERS])
        return lr;
    return lr * (1.0 / n->v[CONST_FACTOR]);
}

/* PyTorch's _get_closed_form_lr at epoch 0, where SequentialLR restarts a
 * later child: base * (factor + (0 >= total_iters) * (1 - factor)), which
 * for total_iters = 0 is the base (the lone scheduler keeps the factor). */
double sched_constant_epoch0(const sched_node *n, double base);
double sched_constant_epoch0(const sched_node *n, double base)
{
    double f = n->v[CONST_FACTOR];
    return n->v[CONST_ITERS] == 0 ? base * (f + (1 - f)) : base * f;
}

const sched_kind sched_constant_lr = {"ConstantLR", "torch", constant_args, 4, NULL, constant_lr, constant_chain,
                                      NULL, NULL, NULL, NULL, SCHED_TORCH_CLOSED};

/* LinearLR(start_factor=1/3, end_factor=1.0, total_iters=5):
 * base * (start + (end - start) * min(t, T)/T). */
enum { LIN_START, LIN_END, LIN_ITERS };
static const sched_arg linear_args[] = {
    {"start_factor", SA_REAL, false, 1.0 / 3, 0, 1, true, false, NULL}, SARG_REAL("end_factor", 1.0, 0, 1),
    SARG_INT("total_iters", 5, 1), TORCH_TAIL};

static double linear_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    double s = n->v[LIN_START], e = n->v[LIN_END], T = n->v[LIN_ITERS];
    return base * (s + (e - s) * fmin(floor(t), T) / T);
}

static double linear_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base, (void)group;
    double s = n->v[LIN_START], e = n->v[LIN_END], T = n->v[LIN_ITERS];
    if (t == 0)
        return lr * s;
    if ((double)t > T)
        return lr;
    return lr * (1. + (e - s) / (T * s + (double)(t - 1) * (e - s)));
}

const sched_kind sched_linear_lr = {"LinearLR", "torch", linear_args, 5, NULL, linear_lr, linear_chain, NULL, NULL,
                                    NULL, NULL, SCHED_TORCH_CLOSED};

/* ExponentialLR(gamma): base * gamma^t. */
static const sched_arg exponential_args[] = {SARG_REAL_REQ("gamma", 0, INFINITY), TORCH_TAIL};

static double exponential_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    return base * pow(n->v[0], floor(t));
}

static double exponential_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base, (void)group;
    return t == 0 ? lr : lr * n->v[0];
}

const sched_kind sched_exponential_lr = {"ExponentialLR", "torch", exponential_args, 3, NULL, exponential_lr,
                                         exponential_chain, NULL, NULL, NULL, NULL, SCHED_TORCH_CLOSED};

/* PolynomialLR(total_iters=5, power=1.0): base * (1 - min(t, T)/T)^power. */
enum { POLY_ITERS, POLY_POWER };
static const sched_arg poly_args[] = {SARG_INT("total_iters", 5, 1), SARG_NONNEG("power", 1.0), TORCH_TAIL};

static double poly_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    double T = n->v[POLY_ITERS];
    return base * pow(1.0 - fmin(floor(t), T) / T, n->v[POLY_POWER]);
}

static double poly_chain(const sched_node *n, int64_t t, double lr, double base, int group)
{
    (void)base, (void)group;
    double T = n->v[POLY_ITERS], x = (double)t;
    if (t == 0 || x > T)
        return lr;
    double decay_factor = pow((1.0 - x / T) / (1.0 - (x - 1) / T), n->v[POLY_POWER]);
    return lr * decay_factor;
}

static int64_t poly_length(const sched_node *n)
{
    return sched_steps(n->v[POLY_ITERS]);
}

const sched_kind sched_polynomial_lr = {"PolynomialLR", "torch", poly_args, 4, NULL, poly_lr, poly_chain, NULL, NULL,
                                        poly_length, NULL, SCHED_TORCH_CLOSED};
