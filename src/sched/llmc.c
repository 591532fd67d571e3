/* sched/llmc.c - llm.c's learning-rate schedulers, and eta's WSD
 * (warmup-stable-decay) with a choice of cooldown.
 *
 *   llmc(train_num_batches, scheduler='cosine', learning_rate=3e-4,
 *        warmup_iterations=0, final_learning_rate_frac=1.0)
 * follows karpathy/llm.c llmc/schedulers.h (read at 4b5fecc8; the
 * LearningRateScheduler fields and get_learning_rate_*), with the defaults
 * of train_gpt2.cu (-l 3e-4, -u 0, -q 1.0, scheduler "cosine"). llm.c's lr_scheduler_init takes (scheduler, learning_rate,
 * warmup_iterations, train_num_batches, final_learning_rate_frac), all
 * required; here train_num_batches, the one without a default, comes first
 * so that the signature is valid Python (keywords read the same). step = eta's step (fractional steps floored), W = warmup_iterations,
 * N = train_num_batches, lr = learning_rate, min = lr * final_learning_rate_frac:
 *   cosine    step < W: lr (step+1)/W (never 0); else
 *             min + (1 + cos(pi (step-W)/(N-W)))/2 (lr - min)
 *   linear    step < W: as cosine; else lr - (step-W)/(N-W) (lr - min)
 *   constant  lr (no warm-up, as llm.c)
 *   wsd       D = (int)(0.8f N); step < W: lr (step+1)/W; step < D: lr;
 *             else min + (1 - sqrt((step-D)/(N-D))) (lr - min)
 * The default final fraction 1.0 makes the cosine flat, as in llm.c. llm.c
 * asserts the decay ratio is in [0, 1], so cosine, linear and wsd end at
 * step N (llm.c runs steps 0..N-1); cosine and linear need W < N.
 *
 *   WSD(lr, warmup_steps, total_steps, decay_frac=0.2, final_lr_frac=0.0,
 *       cooldown='1-sqrt')
 * is llm.c's wsd generalized (family "eta"; MiniCPM,
 * arXiv 2404.06395): the decay starts at D = floor((1 - decay_frac) N) and
 * with r = (step-D)/(N-D) the cooldown shape is 1 - sqrt(r) ('1-sqrt'),
 * 1 - r ('linear') or (1 + cos(pi r))/2 ('cosine'), from lr to lr *
 * final_lr_frac. The warm-up is llm.c's, lr (step+1)/W, so
 * WSD(lr, W, N, final_lr_frac=q) equals llmc(scheduler='wsd', ...) for
 * N < 2^24 (llm.c forms D in float32). Defined for 0 <= step <= N; needs
 * W <= D < N.
 *
 * Differs from llm.c on purpose: llm.c computes in float32, eta in double
 * (D is formed as llm.c does). llm.c's unknown scheduler exits; here it is a
 * located error.
 */
#include <math.h>
#include <stdint.h>

#include "sched/node.h"

int sched_anchor_check_finite(const sched_node *n, const eta_spec *const *vals, eta_err *err); /* anchors.c */

#define PI 3.14159265358979323846
#define NARGS(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define AT(i) (vals[i] ? vals[i] : call)

/* ---- llmc(...) ---- */
enum { LC_N, LC_SCHEDULER, LC_LR, LC_WARMUP, LC_FRAC };
enum { S_COSINE, S_LINEAR, S_CONSTANT, S_WSD };
enum { D_DECAY_POINT };
static const sched_arg lc_args[] = {
    SARG_INT_REQ("train_num_batches", 1),
    SARG_CHOICE("scheduler", "cosine|linear|constant|wsd"),
    SARG_NONNEG("learning_rate", 3e-4),
    SARG_INT("warmup_iterations", 0, 0),
    SARG_NONNEG("final_learning_rate_frac", 1.0),
};

static int lc_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    int s = (int)n->v[LC_SCHEDULER];
    if (!isfinite(n->v[LC_LR] * n->v[LC_FRAC]))
        return eta_spec_fail(err, ETA_EINVAL, AT(LC_FRAC), "llmc: learning_rate * final_learning_rate_frac overflows");
    if ((s == S_COSINE || s == S_LINEAR) && !(n->v[LC_WARMUP] < n->v[LC_N]))
        return eta_spec_fail(err, ETA_EINVAL, AT(LC_WARMUP),
                             "llmc: warmup_iterations (%g) must be < train_num_batches (%g) for scheduler '%s'",
                             n->v[LC_WARMUP], n->v[LC_N], s == S_COSINE ? "cosine" : "linear");
    if (s == S_WSD) {
        if (!(n->v[LC_N] < 16777216.0))
            return eta_spec_fail(err, ETA_EINVAL, AT(LC_N),
                                 "llmc: train_num_batches must be < 2^24 for 'wsd' (llm.c forms 0.8f * N in float32)");
        n->d[D_DECAY_POINT] = (int)(0.8f * (float)n->v[LC_N]); /* llm.c: (int)(0.8f * train_num_batches) */
    }
    return ETA_OK;
}

static double lc_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double step = floor(t), lr = n->v[LC_LR], W = n->v[LC_WARMUP], N = n->v[LC_N];
    double min_lr = lr * n->v[LC_FRAC];
    switch ((int)n->v[LC_SCHEDULER]) {
    case S_COSINE:
    case S_LINEAR: {
        if (step < W)
            return lr * (step + 1) / W;
        double ratio = (step - W) / (N - W);
        if ((int)n->v[LC_SCHEDULER] == S_LINEAR)
            return lr - ratio * (lr - min_lr);
        double coeff = 0.5 * (1.0 + cos(PI * ratio));
        return min_lr + coeff * (lr - min_lr);
    }
    case S_WSD: {
        double D = n->d[D_DECAY_POINT];
        if (step < W)
            return lr * ((step + 1) / W);
        if (step < D)
            return lr;
        double ratio = (step - D) / (N - D);
        return min_lr + (1.0 - sqrt(ratio)) * (lr - min_lr);
    }
    default:
        return lr;
    }
}

static int64_t lc_last(const sched_node *n)
{
    return (int)n->v[LC_SCHEDULER] == S_CONSTANT ? INT64_MAX : (int64_t)n->v[LC_N];
}

static int64_t lc_length(const sched_node *n)
{
    return sched_steps(n->v[LC_N]);
}

const sched_kind sched_llmc = {"llmc", "llm.c", lc_args, NARGS(lc_args), lc_check, lc_lr, NULL, NULL, lc_last,
                               lc_length, NULL, 0};

/* ---- WSD(...) ---- */
enum { WS_LR, WS_WARMUP, WS_N, WS_DECAY_FRAC, WS_FINAL_FRAC, WS_COOLDOWN };
enum { C_SQRT, C_LINEAR, C_COSINE };
static const sched_arg wsd_args[] = {
    SARG_REAL_REQ("lr", 0, INFINITY),
    SARG_INT_REQ("warmup_steps", 0),
    SARG_INT_REQ("total_steps", 1),
    {"decay_frac", SA_REAL, false, 0.2, 0, 1, true, false, NULL},
    SARG_NONNEG("final_lr_frac", 0.0),
    SARG_CHOICE("cooldown", "1-sqrt|linear|cosine"),
};

static int wsd_check(sched_node *n, const eta_spec *call, const eta_spec *const *vals, eta_err *err)
{
    int rc = sched_anchor_check_finite(n, vals, err);
    if (rc)
        return rc;
    if (!isfinite(n->v[WS_LR] * n->v[WS_FINAL_FRAC]))
        return eta_spec_fail(err, ETA_EINVAL, AT(WS_FINAL_FRAC), "WSD: lr * final_lr_frac overflows");
    double N = n->v[WS_N], D = floor((1.0 - n->v[WS_DECAY_FRAC]) * N);
    if (!(D < N))
        return eta_spec_fail(err, ETA_EINVAL, AT(WS_DECAY_FRAC),
                             "WSD: decay_frac (%g) of total_steps (%g) leaves no decay step", n->v[WS_DECAY_FRAC], N);
    if (n->v[WS_WARMUP] > D)
        return eta_spec_fail(err, ETA_EINVAL, AT(WS_WARMUP),
                             "WSD: warmup_steps (%g) must be <= the start of the decay, floor((1 - decay_frac) * "
                             "total_steps) = %g",
                             n->v[WS_WARMUP], D);
    n->d[D_DECAY_POINT] = D;
    return ETA_OK;
}

static double wsd_lr(const sched_node *n, double t, double base, int group)
{
    (void)base, (void)group;
    double step = floor(t), lr = n->v[WS_LR], W = n->v[WS_WARMUP], N = n->v[WS_N], D = n->d[D_DECAY_POINT];
    if (step < W)
        return lr * ((step + 1) / W);
    if (step < D)
        return lr;
    double min_lr = lr * n->v[WS_FINAL_FRAC], r = (step - D) / (N - D), shape;
    switch ((int)n->v[WS_COOLDOWN]) {
    case C_LINEAR:
        shape = 1.0 - r;
        break;
    case C_COSINE:
        shape = 0.5 * (1.0 + cos(PI * r));
        break;
    default:
        shape = 1.0 - sqrt(r);
        break;
    }
    return min_lr + shape * (lr - min_lr);
}

static int64_t wsd_last(const sched_node *n)
{
    return (int64_t)n->v[WS_N];
}

const sched_kind sched_eta_wsd = {"WSD", "eta", wsd_args, NARGS(wsd_args), wsd_check, wsd_lr, NULL, NULL, wsd_last,
                                  wsd_last, NULL, 0};

_Static_assert(NARGS(lc_args) <= SCHED_MAX_ARGS && NARGS(wsd_args) <= SCHED_MAX_ARGS, "argument tables fit");
