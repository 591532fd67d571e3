/* optim/adabelief.c - AdaBelief (Zhuang et al. 2020), as Optax.
 *
 * optax.adabelief = chain(scale_by_belief(b1, b2, eps, eps_root), -lr):
 *   m <- (1-b1)*g + b1*m;  s <- (1-b2)*(g - m)^2 + b2*s + eps_root   (the new m)
 *   p <- p - lr * (m/(1-b1^t)) / (sqrt(s/(1-b2^t)) + eps)
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct adabelief_k {
    void *p, *g, *m, *s;
    double b1, b2, eps, eps_root, bc1, bc2, lr;
} adabelief_k;

#define ETA_SELF "adabelief.c"
#include "optim/instantiate.h"

static void adabelief_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    double t = (double)c->step;
    adabelief_k k = {p->data, p->grad, p->state[0], p->state[1], hp->beta1, hp->beta2, hp->eps, hp->eps_root,
                     1 - pow(hp->beta1, t), 1 - pow(hp->beta2, t), hp->lr};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? adabelief_chunk_float : adabelief_chunk_double, &k);
}

static const optim_arg adabelief_args[] = {
    {"learning_rate", ARG_REAL, offsetof(eta_optim_hparams, lr), 0, false, true, 0, INFINITY, false, true, 0},
    {"b1", ARG_REAL, offsetof(eta_optim_hparams, beta1), 0, false, false, 0, 1, false, true, 0},
    {"b2", ARG_REAL, offsetof(eta_optim_hparams, beta2), 0, false, false, 0, 1, false, true, 0},
    ARG_NONNEG("eps", eps), ARG_NONNEG("eps_root", eps_root),
};

const optim_rule eta_rule_adabelief = {
    .kind = ETA_OPTIM_ADABELIEF,
    .name = "AdaBelief",
    .alias = "adabelief",
    .args = adabelief_args,
    .nargs = sizeof adabelief_args / sizeof adabelief_args[0],
    .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-16, .eps_root = 1e-16},
    .state_names = {"exp_avg", "exp_avg_var", NULL},
    .state_len = eta_optim_state_full,
    .update = adabelief_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

#else /* ETA_TYPED_PASS */

static void TF(adabelief_chunk)(void *vk, size_t lo, size_t hi)
{
    const adabelief_k *k = vk;
    T *restrict p = k->p, *restrict m = k->m, *restrict s = k->s;
    const T *restrict g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    const T eps = (T)k->eps, eps_root = (T)k->eps_root, bc1 = (T)k->bc1, bc2 = (T)k->bc2, neg_lr = (T)(-k->lr);
    for (size_t i = lo; i < hi; i++) {
        m[i] = one_b1 * g[i] + b1 * m[i];
        T e = g[i] - m[i];
        s[i] = one_b2 * (e * e) + b2 * s[i];
        s[i] = s[i] + eps_root;
        T u = (m[i] / bc1) / (sqrt(s[i] / bc2) + eps);
        p[i] = p[i] + neg_lr * u;
    }
}

#endif
