/* optim/adadelta.c - Adadelta.
 *
 * torch.optim.Adadelta (2.x):
 *   g <- -g if maximize; g <- g + wd*p
 *   v <- rho*v + (1-rho)*g*g
 *   delta = sqrt(u + eps)/sqrt(v + eps) * g;  u <- rho*u + (1-rho)*delta^2
 *   p <- p - lr*delta
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct adadelta_k {
    void *p, *g, *v, *u;
    double rho, eps, wd, lr;
    bool maximize;
} adadelta_k;

#define ETA_SELF "adadelta.c"
#include "optim/instantiate.h"

static void adadelta_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    adadelta_k k = {p->data, p->grad, p->state[0], p->state[1], hp->rho, hp->eps, hp->weight_decay, hp->lr,
                    hp->maximize};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? adadelta_chunk_float : adadelta_chunk_double, &k);
}

static const optim_arg adadelta_args[] = {
    ARG_LR(false),
    {"rho", ARG_REAL, offsetof(eta_optim_hparams, rho), 0, false, false, 0, 1, false, false, 0},
    ARG_NONNEG("eps", eps), ARG_NONNEG("weight_decay", weight_decay), ARG_SWITCH("foreach", false),
    ARG_SWITCH("capturable", true), ARG_FLAG_KW("maximize", maximize), ARG_SWITCH("differentiable", true),
};

const optim_rule eta_rule_adadelta = {
    .kind = ETA_OPTIM_ADADELTA,
    .name = "Adadelta",
    .args = adadelta_args,
    .nargs = sizeof adadelta_args / sizeof adadelta_args[0],
    .defaults = {.lr = 1.0, .rho = 0.9, .eps = 1e-6},
    .state_names = {"square_avg", "acc_delta", NULL},
    .state_len = eta_optim_state_full,
    .update = adadelta_update,
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

static void TF(adadelta_chunk)(void *vk, size_t lo, size_t hi)
{
    const adadelta_k *k = vk;
    T *restrict p = k->p, *restrict v = k->v, *restrict u = k->u;
    const T *restrict g = k->g;
    const T rho = (T)k->rho, one_rho = (T)(1 - k->rho), eps = (T)k->eps, wd = (T)k->wd, neg_lr = (T)(-k->lr);
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->wd != 0)
            d = d + wd * p[i];
        v[i] = v[i] * rho + one_rho * d * d;
        T std = sqrt(v[i] + eps);
        T delta = sqrt(u[i] + eps) / std * d;
        u[i] = u[i] * rho + one_rho * delta * delta;
        p[i] = p[i] + neg_lr * delta;
    }
}

#endif
