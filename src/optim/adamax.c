/* optim/adamax.c - Adamax, Adam's infinity-norm variant.
 *
 * torch.optim.Adamax (2.x):
 *   g <- -g if maximize; g <- g + wd*p
 *   m <- b1*m + (1-b1)*g;  u <- max(b2*u, |g| + eps)   (eps inside the max)
 *   p <- p - (lr/(1-b1^t)) * m/u
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct adamax_k {
    void *p, *g, *m, *u;
    double b1, b2, eps, wd, clr;
    bool maximize;
} adamax_k;

#define ETA_SELF "adamax.c"
#include "optim/instantiate.h"

static void adamax_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    adamax_k k = {p->data, p->grad, p->state[0], p->state[1], hp->beta1, hp->beta2, hp->eps, hp->weight_decay,
                  hp->lr / (1 - pow(hp->beta1, (double)c->step)), hp->maximize};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? adamax_chunk_float : adamax_chunk_double, &k);
}

static const optim_arg adamax_args[] = {
    ARG_LR(false), ARG_BETAS, ARG_NONNEG("eps", eps), ARG_NONNEG("weight_decay", weight_decay),
    ARG_SWITCH("foreach", false), ARG_FLAG_KW("maximize", maximize), ARG_SWITCH("differentiable", true),
    ARG_SWITCH("capturable", true),
};

const optim_rule eta_rule_adamax = {
    .kind = ETA_OPTIM_ADAMAX,
    .name = "Adamax",
    .args = adamax_args,
    .nargs = sizeof adamax_args / sizeof adamax_args[0],
    .defaults = {.lr = 2e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8},
    .state_names = {"exp_avg", "exp_inf", NULL},
    .state_len = eta_optim_state_full,
    .update = adamax_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

#else /* ETA_TYPED_PASS */

static void TF(adamax_chunk)(void *vk, size_t lo, size_t hi)
{
    const adamax_k *k = vk;
    T *restrict p = k->p, *restrict m = k->m, *restrict u = k->u;
    const T *restrict g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), eps = (T)k->eps, wd = (T)k->wd;
    const T neg_clr = (T)(-k->clr);
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->wd != 0)
            d = d + wd * p[i];
        m[i] = m[i] * b1 + one_b1 * d;
        T a = u[i] * b2, b = fabs(d) + eps;
        u[i] = (a > b || a != a) ? a : b; /* torch.amax: NaN wins */
        p[i] = p[i] + neg_clr * m[i] / u[i];
    }
}

#endif
