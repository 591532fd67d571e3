/* optim/asgd.c - ASGD, averaged stochastic gradient descent (Polyak-Juditsky).
 *
 * torch.optim.ASGD (2.x, single-tensor path):
 *   g <- -g if maximize; g <- g + wd*p
 *   p <- p*(1 - lambd*eta);  p <- p - eta*g
 *   ax <- p if mu == 1 else ax + (p - ax)*mu
 *   eta <- lr/(1 + lambd*lr*t)^alpha;  mu <- 1/max(1, t - t0)
 * eta starts at the group's lr at the parameter's first step and mu at 1;
 * both are kept per parameter in its dtype, as torch keeps them.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct asgd_k {
    void *p, *g, *ax;
    double wd, decay, eta, mu;
    bool maximize;
} asgd_k;

#define ETA_SELF "asgd.c"
#include "optim/instantiate.h"

/* Scalars kept in the parameter's dtype. */
static double get_scalar(const void *s, eta_dtype t)
{
    return t == ETA_F32 ? (double)*(const float *)s : *(const double *)s;
}

static void set_scalar(void *s, eta_dtype t, double v)
{
    if (t == ETA_F32)
        *(float *)s = (float)v;
    else
        *(double *)s = v;
}

static void asgd_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    if (c->step == 1) {
        set_scalar(p->state[0], c->dtype, hp->lr);
        set_scalar(p->state[1], c->dtype, 1.0);
    }
    double eta = get_scalar(p->state[0], c->dtype);
    asgd_k k = {p->data, p->grad, p->state[2], hp->weight_decay, 1 - hp->lambd * eta, eta,
                get_scalar(p->state[1], c->dtype), hp->maximize};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? asgd_chunk_float : asgd_chunk_double, &k);
    double t = (double)c->step;
    set_scalar(p->state[0], c->dtype, hp->lr / pow(1 + hp->lambd * hp->lr * t, hp->alpha));
    set_scalar(p->state[1], c->dtype, 1 / fmax(1.0, t - hp->t0));
}

static size_t asgd_state_len(const eta_optim_hparams *hp, const optim_param *p, int i)
{
    (void)hp;
    return i < 2 ? 1 : p->n;
}

static const optim_arg asgd_args[] = {
    ARG_LR(false),
    {"lambd", ARG_REAL, offsetof(eta_optim_hparams, lambd), 0, false, false, -INFINITY, INFINITY, false, false, 0},
    {"alpha", ARG_REAL, offsetof(eta_optim_hparams, alpha), 0, false, false, -INFINITY, INFINITY, false, false, 0},
    {"t0", ARG_REAL, offsetof(eta_optim_hparams, t0), 0, false, false, -INFINITY, INFINITY, false, false, 0},
    ARG_NONNEG("weight_decay", weight_decay), ARG_SWITCH("foreach", false), ARG_FLAG("maximize", maximize),
    ARG_SWITCH("differentiable", false), ARG_SWITCH("capturable", false),
};

const optim_rule eta_rule_asgd = {
    .kind = ETA_OPTIM_ASGD,
    .name = "ASGD",
    .args = asgd_args,
    .nargs = sizeof asgd_args / sizeof asgd_args[0],
    .defaults = {.lr = 1e-2, .lambd = 1e-4, .alpha = 0.75, .t0 = 1e6},
    .state_names = {"eta", "mu", "ax", NULL},
    .state_len = asgd_state_len,
    .update = asgd_update,
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

static void TF(asgd_chunk)(void *vk, size_t lo, size_t hi)
{
    const asgd_k *k = vk;
    T *restrict p = k->p, *restrict ax = k->ax;
    const T *restrict g = k->g;
    const T wd = (T)k->wd, decay = (T)k->decay, neg_eta = (T)(-k->eta), mu = (T)k->mu;
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        if (k->wd != 0)
            d = d + wd * p[i];
        p[i] = p[i] * decay;
        p[i] = p[i] + neg_eta * d;
        ax[i] = k->mu != 1 ? ax[i] + (p[i] - ax[i]) * mu : p[i];
    }
}

#endif
