/* sched/scaling.c - the linear scaling rule with gradual warm-up (Goyal et
 * al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1 Hour",
 * arXiv 1706.02677, §2.1-2.2), family "eta":
 *     LinearScalingWarmup(batch_size, warmup_steps, base_lr=0.1, base_batch_size=256)
 * When the minibatch grows k = batch_size / base_batch_size times, the rate
 * is k * base_lr ("multiply the learning rate by k"; ResNet-50: 0.1 * kn/256).
 * The gradual warm-up starts from base_lr and adds a constant amount each
 * step to reach k * base_lr at warmup_steps (the paper: 5 epochs):
 *     step < W: base_lr + (k base_lr - base_lr) step / W;  after: k base_lr.
 * Fractional steps are floored. The schedule carries its own rate (the
 * group's initial lr is ignored); compose it with a decay through
 * SequentialLR or join_schedules. k < 1 is allowed (a smaller batch scales
 * the rate down, and the "warm-up" then ramps down to it).
 * darknet applies the same rule to GPUs (learning_rate *= ngpus).
 * Not here: the paper's other advice (no weight decay on BN, momentum
 * correction, loss normalization) belongs to the optimizer and the loss.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err); /* anchors.c */

#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))

enum { LS_BATCH, LS_WARMUP, LS_BASE_LR, LS_BASE_BATCH };
enum { D_TARGET };
static const sched_arg ls_args[] = {
    SARG_INT_REQ("batch_size", 1),
    SARG_INT_REQ("warmup_steps", 0),
    SARG_POS("base_lr", 0.1),
    SARG_INT("base_batch_size", 256, 1),
};

static int ls_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    double k = n->v[LS_BATCH] / n->v[LS_BASE_BATCH];
    n->d[D_TARGET] = k * n->v[LS_BASE_LR];
    if (!isfinite(n->d[D_TARGET] - n->v[LS_BASE_LR]))
        return eta_spec_fail(err, ETA_EINVAL, call,
                             "LinearScalingWarmup: base_lr * batch_size / base_batch_size overflows");
    return ETA_OK;
}

static double ls_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double step = floor(t), lr = n->v[LS_BASE_LR], target = n->d[D_TARGET], W = n->v[LS_WARMUP];
    if (step < W)
        return lr + (target - lr) * step / W;
    return target;
}

const sched_kind sched_eta_linear_scaling_warmup = {"LinearScalingWarmup", "eta", ls_args, NARGS(ls_args), ls_check,
                                                    ls_lr, NULL, NULL, NULL, NULL, NULL, 0};

_Static_assert(NARGS(ls_args) <= SCHED_MAX_ARGS, "argument table fits");
