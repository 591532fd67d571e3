/* optim/radam.c - RAdam, Adam with a rectified adaptive learning rate.
 *
 * torch.optim.RAdam (2.x):
 *   g <- -g if maximize; L2: g <- g + wd*p  or decoupled: p <- p*(1 - lr*wd)
 *   m <- b1*m + (1-b1)*g;  v <- b2*v + (1-b2)*g*g;  m_hat = m/(1-b1^t)
 *   rho_inf = 2/(1-b2) - 1;  rho_t = rho_inf - 2t*b2^t/(1-b2^t)
 *   rho_t > 5: r = sqrt((rho_t-4)(rho_t-2)rho_inf/((rho_inf-4)(rho_inf-2)rho_t))
 *              p <- p - m_hat*lr * sqrt(1-b2^t)/(sqrt(v)+eps) * r   (eps-hat)
 *   else:      p <- p - m_hat*lr
 * eps_mode='optax': the rectified step is lr*r*m_hat/(sqrt(v/(1-b2^t)) + eps),
 * epsilon after the bias correction, as optax.scale_by_radam.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct radam_k {
    void *p, *g, *m, *v;
    double b1, b2, eps, wd, keep, bc1, bc2, lr, rect;
    bool maximize, l2, rectified, optax;
} radam_k;

#define ETA_SELF "radam.c"
#include "optim/instantiate.h"

static void radam_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    double t = (double)c->step, b2 = hp->beta2;
    double bc1 = 1 - pow(hp->beta1, t), bc2 = 1 - pow(b2, t);
    double rho_inf = 2 / (1 - b2) - 1;
    double rho_t = rho_inf - 2 * t * pow(b2, t) / bc2;
    bool decoupled = hp->decoupled_weight_decay;
    radam_k k = {p->data, p->grad, p->state[0], p->state[1], hp->beta1, b2, hp->eps, hp->weight_decay,
                 decoupled ? 1 - eta_optim_decay_rate(c) : 1, bc1, bc2, hp->lr, 0,
                 hp->maximize, !decoupled && hp->weight_decay != 0, rho_t > 5.0,
                 hp->eps_mode == ETA_ANCHOR_OPTAX};
    if (k.rectified)
        k.rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t));
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? radam_chunk_float : radam_chunk_double, &k);
}

static const optim_arg radam_args[] = {
    ARG_LR(false), ARG_BETAS, ARG_NONNEG("eps", eps), ARG_NONNEG("weight_decay", weight_decay),
    ARG_FLAG("decoupled_weight_decay", decoupled_weight_decay), ARG_SWITCH("foreach", true),
    ARG_FLAG_KW("maximize", maximize), ARG_SWITCH("capturable", true), ARG_SWITCH("differentiable", true),
    ARG_MODE("eps_mode", eps_mode, TORCH_OPTAX), ARG_MODE("weight_decay_mode", weight_decay_mode, TORCH_PAPER),
};

const optim_rule eta_rule_radam = {
    .kind = ETA_OPTIM_RADAM,
    .name = "RAdam",
    .args = radam_args,
    .nargs = sizeof radam_args / sizeof radam_args[0],
    .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
    .state_names = {"exp_avg", "exp_avg_sq", NULL},
    .state_len = eta_optim_state_full,
    .update = radam_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

#else /* ETA_TYPED_PASS */

static void TF(radam_chunk)(void *vk, size_t lo, size_t hi)
{
    const radam_k *k = vk;
    T *restrict p = k->p, *restrict m = k->m, *restrict v = k->v;
    const T *restrict g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    const T eps = (T)k->eps, wd = (T)k->wd, keep = (T)k->keep, bc1 = (T)k->bc1, bc2 = (T)k->bc2;
    const T lr = (T)k->lr, rect = (T)k->rect, bc2s = (T)sqrt(k->bc2);
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->l2)
            d = d + wd * p[i];
        else
            p[i] = p[i] * keep;
        m[i] = m[i] * b1 + one_b1 * d;
        v[i] = v[i] * b2 + one_b2 * d * d;
        T mhat = m[i] / bc1, step;
        if (!k->rectified)
            step = mhat * lr;
        else if (k->optax)
            step = lr * (rect * mhat / (sqrt(v[i] / bc2) + eps));
        else
            step = mhat * lr * (bc2s / (sqrt(v[i]) + eps)) * rect;
        p[i] = p[i] - step;
    }
}

#endif
