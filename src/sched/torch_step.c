/* sched/torch_step.c - PyTorch's multiplicative schedulers as closed forms of
 * the step (torch/optim/lr_scheduler.py): LambdaLR, MultiplicativeLR, StepLR,
 * MultiStepLR, ConstantLR, LinearLR, ExponentialLR, PolynomialLR.
 *
 * PyTorch computes these "chainably", multiplying the group's current lr by
 * a ratio each step; for a lone scheduler that equals the closed form used
 * here up to rounding (checked against PyTorch's chainable values in
 * tests/ref/sched_*.txt). Fractional steps are floored.
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

static const sched_arg lambda_args[] = {{"lr_lambda", SA_IGNORED, true, NAN, 0, 0, false, false, NULL}, TORCH_TAIL};

const sched_kind sched_lambda_lr = {"LambdaLR", "torch", lambda_args, 3, NULL, lambda_lr, NULL, NULL, NULL, NULL,
                                    NULL, SCHED_CALLBACK};
const sched_kind sched_multiplicative_lr = {"MultiplicativeLR", "torch", lambda_args, 3, NULL, multiplicative_lr,
                                            NULL, NULL, NULL, NULL, NULL, SCHED_CALLBACK};

/* StepLR(step_size, gamma=0.1): base * gamma^floor(t/step_size). */
enum { STEP_SIZE, STEP_GAMMA };
static const sched_arg step_args[] = {SARG_INT_REQ("step_size", 1), SARG_REAL("gamma", 0.1, 0, INFINITY), TORCH_TAIL};

static double step_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    return base * pow(n->v[STEP_GAMMA], floor(floor(t) / n->v[STEP_SIZE]));
}

const sched_kind sched_step_lr = {"StepLR", "torch", step_args, 4, NULL, step_lr, NULL, NULL, NULL, NULL, NULL, 0};

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

const sched_kind sched_multistep_lr = {"MultiStepLR", "torch", multistep_args, 4, multistep_check, multistep_lr, NULL,
                                       NULL, NULL, NULL, NULL, 0};

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

const sched_kind sched_constant_lr = {"ConstantLR", "torch", constant_args, 4, NULL, constant_lr, NULL, NULL, NULL,
                                      NULL, NULL, 0};

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

const sched_kind sched_linear_lr = {"LinearLR", "torch", linear_args, 5, NULL, linear_lr, NULL, NULL, NULL, NULL,
                                    NULL, 0};

/* ExponentialLR(gamma): base * gamma^t. */
static const sched_arg exponential_args[] = {SARG_REAL_REQ("gamma", 0, INFINITY), TORCH_TAIL};

static double exponential_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    return base * pow(n->v[0], floor(t));
}

const sched_kind sched_exponential_lr = {"ExponentialLR", "torch", exponential_args, 3, NULL, exponential_lr, NULL,
                                         NULL, NULL, NULL, NULL, 0};

/* PolynomialLR(total_iters=5, power=1.0): base * (1 - min(t, T)/T)^power. */
enum { POLY_ITERS, POLY_POWER };
static const sched_arg poly_args[] = {SARG_INT("total_iters", 5, 1), SARG_NONNEG("power", 1.0), TORCH_TAIL};

static double poly_lr(const sched_node *n, double t, double base, int group)
{
    (void)group;
    double T = n->v[POLY_ITERS];
    return base * pow(1.0 - fmin(floor(t), T) / T, n->v[POLY_POWER]);
}

static int64_t poly_length(const sched_node *n)
{
    return sched_steps(n->v[POLY_ITERS]);
}

const sched_kind sched_polynomial_lr = {"PolynomialLR", "torch", poly_args, 4, NULL, poly_lr, NULL, NULL, NULL,
                                        poly_length, NULL, 0};
