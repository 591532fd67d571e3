/* optim/lion.c - Lion, evolved sign momentum (Chen et al. 2023), as Optax.
 *
 * optax.lion = chain(scale_by_lion(b1, b2), add_decayed_weights(wd),
 * scale_by_learning_rate(lr)):
 *   c = (1-b1)*g + b1*m;  m <- (1-b2)*g + b2*m   (the update uses the old m)
 *   p <- p + (-lr)*(sign(c) + wd*p)
 * Optax's argument names; `lr` is accepted for learning_rate.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct lion_k {
    void *p, *g, *m;
    double b1, b2, wd, lr;
} lion_k;

#define ETA_SELF "lion.c"
#include "optim/instantiate.h"

static void lion_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    lion_k k = {p->data, p->grad, p->state[0], hp->beta1, hp->beta2, hp->weight_decay, hp->lr};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? lion_chunk_float : lion_chunk_double, &k);
}

#define ARG_UNIT(nm, field) \
    {nm, ARG_REAL, offsetof(eta_optim_hparams, field), 0, false, false, 0, 1, false, false, 0}

static const optim_arg lion_args[] = {
    {"learning_rate", ARG_REAL, offsetof(eta_optim_hparams, lr), 0, false, true, 0, INFINITY, false, true, 0},
    ARG_UNIT("b1", beta1), ARG_UNIT("b2", beta2), ARG_SWITCH("mu_dtype", false),
    ARG_NONNEG("weight_decay", weight_decay), ARG_SWITCH("mask", false),
};

const optim_rule eta_rule_lion = {
    .kind = ETA_OPTIM_LION,
    .name = "Lion",
    .alias = "lion",
    .args = lion_args,
    .nargs = sizeof lion_args / sizeof lion_args[0],
    .defaults = {.lr = 1e-4, .beta1 = 0.9, .beta2 = 0.99, .weight_decay = 1e-3},
    .state_names = {"exp_avg", NULL},
    .state_len = eta_optim_state_full,
    .update = lion_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

#else /* ETA_TYPED_PASS */

static void TF(lion_chunk)(void *vk, size_t lo, size_t hi)
{
    const lion_k *k = vk;
    T *restrict p = k->p, *restrict m = k->m;
    const T *restrict g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    const T wd = (T)k->wd, neg_lr = (T)(-k->lr);
    for (size_t i = lo; i < hi; i++) {
        T c = one_b1 * g[i] + b1 * m[i];
        T s = c > 0 ? (T)1 : c < 0 ? (T)-1 : c; /* jnp.sign: 0 and NaN stay */
        m[i] = one_b2 * g[i] + b2 * m[i];
        T u = s + wd * p[i];
        p[i] = p[i] + neg_lr * u;
    }
}

#endif
