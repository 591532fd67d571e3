/* optim/adagrad.c - Adagrad.
 *
 * torch.optim.Adagrad (2.x):
 *   g <- -g if maximize; g <- g + wd*p
 *   clr = lr/(1 + (t-1)*lr_decay);  s <- s + g*g  (s starts at initial_accumulator_value)
 *   p <- p - clr * g/(sqrt(s) + eps)
 * eps_mode='optax' (also Keras): eps inside the root, g/sqrt(s + eps).
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct adagrad_k {
    void *p, *g, *s;
    double eps, wd, clr;
    bool maximize, inside;
} adagrad_k;

#define ETA_SELF "adagrad.c"
#include "optim/instantiate.h"

static void adagrad_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    adagrad_k k = {p->data, p->grad, p->state[0], hp->eps, hp->weight_decay,
                   hp->lr / (1 + (double)(c->step - 1) * hp->lr_decay), hp->maximize,
                   hp->eps_mode != ETA_ANCHOR_TORCH};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? adagrad_chunk_float : adagrad_chunk_double, &k);
}

static void adagrad_init(const eta_optim_hparams *hp, optim_param *p, eta_dtype dtype)
{
    for (size_t i = 0; i < p->n; i++) {
        if (dtype == ETA_F32)
            ((float *)p->state[0])[i] = (float)hp->initial_accumulator_value;
        else
            ((double *)p->state[0])[i] = hp->initial_accumulator_value;
    }
}

static const optim_arg adagrad_args[] = {
    ARG_LR(false), ARG_NONNEG("lr_decay", lr_decay), ARG_NONNEG("weight_decay", weight_decay),
    ARG_NONNEG("initial_accumulator_value", initial_accumulator_value), ARG_NONNEG("eps", eps),
    ARG_SWITCH("foreach", false), ARG_FLAG_KW("maximize", maximize), ARG_SWITCH("differentiable", true),
    ARG_SWITCH("fused", true), ARG_MODE("eps_mode", eps_mode, TORCH_KERAS_OPTAX),
};

const optim_rule eta_rule_adagrad = {
    .kind = ETA_OPTIM_ADAGRAD,
    .name = "Adagrad",
    .args = adagrad_args,
    .nargs = sizeof adagrad_args / sizeof adagrad_args[0],
    .defaults = {.lr = 1e-2, .eps = 1e-10},
    .state_names = {"sum", NULL},
    .state_len = eta_optim_state_full,
    .init = adagrad_init,
    .update = adagrad_update,
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

static void TF(adagrad_chunk)(void *vk, size_t lo, size_t hi)
{
    const adagrad_k *k = vk;
    T *restrict p = k->p, *restrict s = k->s;
    const T *restrict g = k->g;
    const T eps = (T)k->eps, wd = (T)k->wd, neg_clr = (T)(-k->clr);
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->wd != 0)
            d = d + wd * p[i];
        s[i] = s[i] + d * d;
        T std = k->inside ? sqrt(s[i] + eps) : sqrt(s[i]) + eps;
        p[i] = p[i] + neg_clr * d / std;
    }
}

#endif
