/* optim/adam.c - Adam and AdamW (AMSGrad, maximize, L2 or decoupled decay).
 *
 * torch.optim.Adam / AdamW (2.x; AdamW == Adam(decoupled_weight_decay=True)):
 *   g <- -g if maximize
 *   L2: g <- g + wd*p      decoupled: p <- p*(1 - lr*wd)
 *   m <- b1*m + (1-b1)*g;  v <- b2*v + (1-b2)*g*g
 *   AMSGrad: vmax <- max(vmax, v) (the raw v) and v <- vmax below
 *   p <- p - (lr/(1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 * Options where the anchors differ:
 *   eps_mode='keras': p <- p - lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v) + eps)
 *     (epsilon-hat; torch's eps equals Keras' eps/sqrt(1-b2^t)).
 *   amsgrad_mode='optax': vmax <- max(vmax, v/(1-b2^t)), the max of the
 *     bias-corrected v; denominator sqrt(vmax) + eps.
 *   weight_decay_mode='paper': decoupled decay p*(1 - (lr/initial_lr)*wd),
 *     scaled by the schedule multiplier only (Loshchilov & Hutter).
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct adam_k {
    void *p, *g, *m, *v, *vmax;
    double b1, b2, eps, wd, keep;  /* keep: decoupled decay factor (1 - lr*wd) */
    double step_size, bc2_sqrt, bc2;
    bool maximize, l2, keras, optax_ams;
} adam_k;

#define ETA_SELF "adam.c"
#include "optim/instantiate.h"

static void adam_run(const optim_ctx *c, optim_param *p, bool decoupled)
{
    const eta_optim_hparams *hp = c->hp;
    double t = (double)c->step;
    double bc1 = 1 - pow(hp->beta1, t), bc2 = 1 - pow(hp->beta2, t);
    adam_k k = {
        .p = p->data, .g = p->grad, .m = p->state[0], .v = p->state[1], .vmax = p->state[2],
        .b1 = hp->beta1, .b2 = hp->beta2, .eps = hp->eps, .wd = hp->weight_decay,
        .keep = decoupled ? 1 - eta_optim_decay_rate(c) : 1,
        .step_size = hp->lr / bc1, .bc2_sqrt = sqrt(bc2), .bc2 = bc2,
        .maximize = hp->maximize, .l2 = !decoupled && hp->weight_decay != 0,
        .keras = hp->eps_mode == ETA_ANCHOR_KERAS, .optax_ams = hp->amsgrad_mode == ETA_ANCHOR_OPTAX,
    };
    if (k.keras)
        k.step_size = hp->lr * sqrt(bc2) / bc1;
    bool fast = !k.maximize && !k.l2 && !k.keras && !hp->amsgrad;
    eta_chunk_fn fn = c->dtype == ETA_F32 ? (fast ? adam_fast_float : adam_chunk_float)
                                          : (fast ? adam_fast_double : adam_chunk_double);
    eta_parallel_for(p->n, c->threads, fn, &k);
}

static void adam_update(const optim_ctx *c, optim_param *p)
{
    adam_run(c, p, c->hp->decoupled_weight_decay);
}

static void adamw_update(const optim_ctx *c, optim_param *p)
{
    adam_run(c, p, true);
}

static size_t adam_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    return i < 2 || hp->amsgrad ? p->n : 0;
}

static int adam_check(const eta_optim_hparams *hp, eta_err *err)
{
    if (hp->amsgrad && hp->eps_mode == ETA_ANCHOR_KERAS && hp->amsgrad_mode == ETA_ANCHOR_OPTAX)
        return eta_spec_fail(err, ETA_EINVAL, NULL,
                             "eps_mode='keras' takes the max of the raw v: use amsgrad_mode='torch'");
    return ETA_OK;
}

#define ADAM_ARGS(...)                                                                    \
    ARG_LR(false), ARG_BETAS, ARG_NONNEG("eps", eps), ARG_NONNEG("weight_decay", weight_decay), \
        ARG_FLAG("amsgrad", amsgrad), ARG_SWITCH("foreach", true), ARG_FLAG_KW("maximize", maximize), \
        ARG_SWITCH("capturable", true), ARG_SWITCH("differentiable", true), ARG_SWITCH("fused", true), \
        __VA_ARGS__ ARG_MODE("eps_mode", eps_mode, TORCH_KERAS), ARG_MODE("amsgrad_mode", amsgrad_mode, TORCH_OPTAX), \
        ARG_MODE("weight_decay_mode", weight_decay_mode, TORCH_PAPER)

static const optim_arg adam_args[] = {ADAM_ARGS(ARG_FLAG_KW("decoupled_weight_decay", decoupled_weight_decay), )};
static const optim_arg adamw_args[] = {ADAM_ARGS()};

const optim_rule eta_rule_adam = {
    .kind = ETA_OPTIM_ADAM,
    .name = "Adam",
    .args = adam_args,
    .nargs = sizeof adam_args / sizeof adam_args[0],
    .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
    .check = adam_check,
    .state_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", NULL},
    .state_len = adam_state_len,
    .update = adam_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

const optim_rule eta_rule_adamw = {
    .kind = ETA_OPTIM_ADAMW,
    .name = "AdamW",
    .args = adamw_args,
    .nargs = sizeof adamw_args / sizeof adamw_args[0],
    .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 1e-2},
    .check = adam_check,
    .state_names = {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", NULL},
    .state_len = adam_state_len,
    .update = adamw_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

#else /* ETA_TYPED_PASS */

/* Every option, in torch's order of operations. */
static void TF(adam_chunk)(void *vk, size_t lo, size_t hi)
{
    const adam_k *k = vk;
    T *restrict p = k->p, *restrict m = k->m, *restrict v = k->v, *restrict vmax = k->vmax;
    const T *restrict g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    const T eps = (T)k->eps, wd = (T)k->wd, keep = (T)k->keep, neg_step = (T)(-k->step_size);
    const T bc2s = (T)k->bc2_sqrt, bc2 = (T)k->bc2;
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->l2)
            d = d + wd * p[i];
        else if (k->keep != 1)
            p[i] = p[i] * keep;
        m[i] = m[i] * b1 + one_b1 * d;
        v[i] = v[i] * b2 + one_b2 * d * d;
        T denom;
        if (vmax && k->optax_ams) {
            T vh = v[i] / bc2;
            vmax[i] = (vh > vmax[i] || vh != vh) ? vh : vmax[i];
            denom = sqrt(vmax[i]) + eps;
        } else {
            T vv = v[i];
            if (vmax) {
                vmax[i] = (vv > vmax[i] || vv != vv) ? vv : vmax[i];
                vv = vmax[i];
            }
            denom = k->keras ? sqrt(vv) + eps : sqrt(vv) / bc2s + eps;
        }
        p[i] = p[i] + neg_step * m[i] / denom;
    }
}

/* The common case (no maximize, no L2, no AMSGrad, torch's eps), branch-free
 * so it vectorises; the same arithmetic as adam_chunk, element by element.
 * The loop takes restrict parameters and `omp simd`, and is compiled per ISA
 * (ETA_SIMD_CLONES, core/parallel.h): before this, gcc -O2 left it scalar
 * (the very cheap cost model refuses the epilogue and the alias check), at
 * about 3.5 ns per float32 element, far above the memory bound. */
ETA_SIMD_CLONES
static void TF(adam_fast_loop)(const adam_k *k, T *restrict p, const T *restrict g, T *restrict m,
                               T *restrict v, size_t n)
{
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    const T eps = (T)k->eps, keep = (T)k->keep, neg_step = (T)(-k->step_size), bc2s = (T)k->bc2_sqrt;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        T d = g[i];
        T pi = p[i] * keep;
        T mi = m[i] * b1 + one_b1 * d;
        T vi = v[i] * b2 + one_b2 * d * d;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi + neg_step * mi / (sqrt(vi) / bc2s + eps);
    }
}

static void TF(adam_fast)(void *vk, size_t lo, size_t hi)
{
    const adam_k *k = vk;
    TF(adam_fast_loop)(k, (T *)k->p + lo, (const T *)k->g + lo, (T *)k->m + lo, (T *)k->v + lo, hi - lo);
}

#endif
