/* optim/nadam.c - NAdam, Adam with Nesterov momentum (Dozat 2016).
 *
 * torch.optim.NAdam (2.x formula):
 *   g <- -g if maximize; L2: g <- g + wd*p  or decoupled: p <- p*(1 - lr*wd)
 *   mu_t = b1*(1 - 0.5*0.96^(t*psi)),  mu_{t+1} likewise,  P_t = P_{t-1}*mu_t
 *   m <- b1*m + (1-b1)*g;  v <- b2*v + (1-b2)*g*g
 *   d = sqrt(v/(1-b2^t)) + eps
 *   p <- p - lr*(1-mu_t)/(1-P_t) * g/d - lr*mu_{t+1}/(1-P_t*mu_{t+1}) * m/d
 * PyTorch 1.13 used P_t*mu_t*mu_{t+1} in the last denominator (an extra
 * mu_t), fixed in 2.x; eta follows 2.x. psi = momentum_decay; 1.0 gives
 * Keras' 0.96^t schedule. P_t ("mu_product") is kept per parameter in the
 * parameter's dtype, as torch keeps it in the default dtype.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct nadam_k {
    void *p, *g, *m, *v;
    double b1, b2, eps, wd, keep, bc2, c_grad, c_avg;
    bool maximize, l2;
} nadam_k;

#define ETA_SELF "nadam.c"
#include "optim/instantiate.h"

static void nadam_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    double t = (double)c->step, psi = hp->momentum_decay;
    double mu = hp->beta1 * (1. - 0.5 * pow(0.96, t * psi));
    double mu_next = hp->beta1 * (1. - 0.5 * pow(0.96, (t + 1) * psi));
    double prod;
    if (c->dtype == ETA_F32) {
        float *mp = p->state[2];
        *mp = *mp * (float)mu;
        prod = *mp;
    } else {
        double *mp = p->state[2];
        *mp = *mp * mu;
        prod = *mp;
    }
    bool decoupled = hp->decoupled_weight_decay;
    nadam_k k = {p->data, p->grad, p->state[0], p->state[1], hp->beta1, hp->beta2, hp->eps,
                 hp->weight_decay,
                 decoupled ? 1 - eta_optim_decay_rate(c) : 1,
                 1 - pow(hp->beta2, t),
                 -hp->lr * (1. - mu) / (1. - prod),
                 (-hp->lr * mu_next) / (1. - prod * mu_next),
                 hp->maximize, !decoupled && hp->weight_decay != 0};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? nadam_chunk_float : nadam_chunk_double, &k);
}

static size_t nadam_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    return i < 2 ? p->n : 1;
}

static void nadam_init(const eta_optim_hparams *hp, optim_param *p, eta_dtype dtype)
{
    (void)hp;
    if (dtype == ETA_F32)
        *(float *)p->state[2] = 1.0f;
    else
        *(double *)p->state[2] = 1.0;
}

static const optim_arg nadam_args[] = {
    ARG_LR(false), ARG_BETAS, ARG_NONNEG("eps", eps), ARG_NONNEG("weight_decay", weight_decay),
    ARG_NONNEG("momentum_decay", momentum_decay), ARG_FLAG("decoupled_weight_decay", decoupled_weight_decay),
    ARG_SWITCH("foreach", true), ARG_FLAG_KW("maximize", maximize), ARG_SWITCH("capturable", true),
    ARG_SWITCH("differentiable", true), ARG_MODE("weight_decay_mode", weight_decay_mode, TORCH_PAPER),
};

const optim_rule eta_rule_nadam = {
    .kind = ETA_OPTIM_NADAM,
    .name = "NAdam",
    .args = nadam_args,
    .nargs = sizeof nadam_args / sizeof nadam_args[0],
    .defaults = {.lr = 2e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .momentum_decay = 4e-3},
    .state_names = {"exp_avg", "exp_avg_sq", "mu_product", NULL},
    .state_len = nadam_state_len,
    .init = nadam_init,
    .update = nadam_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

#else /* ETA_TYPED_PASS */

static void TF(nadam_chunk)(void *vk, size_t lo, size_t hi)
{
    const nadam_k *k = vk;
    T *restrict p = k->p, *restrict m = k->m, *restrict v = k->v;
    const T *restrict g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    const T eps = (T)k->eps, wd = (T)k->wd, keep = (T)k->keep, bc2 = (T)k->bc2;
    const T c_grad = (T)k->c_grad, c_avg = (T)k->c_avg;
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->l2)
            d = d + wd * p[i];
        else
            p[i] = p[i] * keep;
        m[i] = m[i] * b1 + one_b1 * d;
        v[i] = v[i] * b2 + one_b2 * d * d;
        T denom = sqrt(v[i] / bc2) + eps;
        p[i] = p[i] + c_grad * d / denom;
        p[i] = p[i] + c_avg * m[i] / denom;
    }
}

#endif
