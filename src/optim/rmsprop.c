/* optim/rmsprop.c - RMSprop (centered, momentum).
 *
 * torch.optim.RMSprop (2.x):
 *   g <- -g if maximize; g <- g + wd*p
 *   v <- alpha*v + (1-alpha)*g*g
 *   centered: a <- alpha*a + (1-alpha)*g;  d = sqrt(v - a*a) + eps;  else d = sqrt(v) + eps
 *   momentum > 0: b <- mu*b + g/d;  p <- p - lr*b;  else p <- p - lr*g/d
 * eps_mode='optax' (also Keras): eps inside the root, sqrt(v + eps).
 * momentum_mode='keras' (also Optax, which scales by lr before its trace):
 *   b <- mu*b + lr*g/d;  p <- p - b.
 * No bias correction: the first step is about lr/sqrt(1-alpha) = 10*lr.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct rmsprop_k {
    void *p, *g, *v, *b, *a;
    double alpha, eps, wd, mom, lr;
    bool maximize, inside, keras;
} rmsprop_k;

#define ETA_SELF "rmsprop.c"
#include "optim/instantiate.h"

static void rmsprop_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    rmsprop_k k = {p->data, p->grad, p->state[0], p->state[1], p->state[2], hp->alpha, hp->eps,
                   hp->weight_decay, hp->momentum, hp->lr, hp->maximize, hp->eps_mode != ETA_ANCHOR_TORCH,
                   hp->momentum_mode == ETA_ANCHOR_KERAS};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? rmsprop_chunk_float : rmsprop_chunk_double, &k);
}

static size_t rmsprop_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    if (i == 1)
        return hp->momentum > 0 ? p->n : 0;
    if (i == 2)
        return hp->centered ? p->n : 0;
    return p->n;
}

static const optim_arg rmsprop_args[] = {
    ARG_LR(false), ARG_NONNEG("alpha", alpha), ARG_NONNEG("eps", eps), ARG_NONNEG("weight_decay", weight_decay),
    ARG_NONNEG("momentum", momentum), ARG_FLAG("centered", centered), ARG_SWITCH("capturable", false),
    ARG_SWITCH("foreach", false), ARG_FLAG("maximize", maximize), ARG_SWITCH("differentiable", false),
    ARG_MODE("eps_mode", eps_mode, TORCH_KERAS_OPTAX), ARG_MODE("momentum_mode", momentum_mode, TORCH_KERAS),
};

const optim_rule eta_rule_rmsprop = {
    .kind = ETA_OPTIM_RMSPROP,
    .name = "RMSprop",
    .args = rmsprop_args,
    .nargs = sizeof rmsprop_args / sizeof rmsprop_args[0],
    .defaults = {.lr = 1e-2, .alpha = 0.99, .eps = 1e-8},
    .state_names = {"square_avg", "momentum_buffer", "grad_avg", NULL},
    .state_len = rmsprop_state_len,
    .update = rmsprop_update,
    .momentum_field = offsetof(eta_optim_hparams, momentum),
};

#else /* ETA_TYPED_PASS */

static void TF(rmsprop_chunk)(void *vk, size_t lo, size_t hi)
{
    const rmsprop_k *k = vk;
    T *restrict p = k->p, *restrict v = k->v, *restrict b = k->b, *restrict a = k->a;
    const T *restrict g = k->g;
    const T alpha = (T)k->alpha, one_alpha = (T)(1 - k->alpha), eps = (T)k->eps, wd = (T)k->wd;
    const T mom = (T)k->mom, lr = (T)k->lr, neg_lr = (T)(-k->lr);
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->wd != 0)
            d = d + wd * p[i];
        v[i] = v[i] * alpha + one_alpha * d * d;
        T var = v[i];
        if (a) {
            a[i] = a[i] * alpha + one_alpha * d;
            var = var + (T)(-1) * a[i] * a[i];
        }
        T denom = k->inside ? sqrt(var + eps) : sqrt(var) + eps;
        if (!b) {
            p[i] = p[i] + neg_lr * d / denom;
        } else if (k->keras) {
            b[i] = b[i] * mom + lr * d / denom;
            p[i] = p[i] - b[i];
        } else {
            b[i] = b[i] * mom + d / denom;
            p[i] = p[i] + neg_lr * b[i];
        }
    }
}

#endif
