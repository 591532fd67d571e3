/* optim/lamb.c - LAMB, layer-wise adaptive moments (You et al. 2019), as Optax.
 *
 * optax.lamb = chain(scale_by_adam(b1, b2, eps, eps_root), add_decayed_weights(wd),
 * scale_by_trust_ratio(), -lr), per parameter tensor:
 *   m <- (1-b1)*g + b1*m;  v <- (1-b2)*g^2 + b2*v
 *   u = (m/(1-b1^t)) / (sqrt(v/(1-b2^t) + eps_root) + eps) + wd*p
 *   r = |p|/|u| (1 if either norm is 0);  p <- p - lr*r*u
 * Three passes: moments, the norm of u, the update (u recomputed, so no
 * scratch array). Norms are fixed-order double sums (parallel.h).
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct lamb_k {
    void *p, *g, *m, *v;
    double b1, b2, eps, eps_root, wd, bc1, bc2;
    double ratio, lr; /* the trust ratio, set after the norm pass */
} lamb_k;

#define ETA_SELF "lamb.c"
#include "optim/instantiate.h"

static void lamb_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    double t = (double)c->step;
    lamb_k k = {p->data, p->grad, p->state[0], p->state[1], hp->beta1, hp->beta2, hp->eps, hp->eps_root,
                hp->weight_decay, 1 - pow(hp->beta1, t), 1 - pow(hp->beta2, t), 1, hp->lr};
    bool f32 = c->dtype == ETA_F32;
    double pn = sqrt(f32 ? eta_sumsq_f32(p->data, p->n, c->scratch, c->threads)
                         : eta_sumsq_f64(p->data, p->n, c->scratch, c->threads));
    eta_parallel_for(p->n, c->threads, f32 ? lamb_moments_float : lamb_moments_double, &k);
    double un = sqrt(eta_reduce(p->n, c->threads, f32 ? lamb_usq_float : lamb_usq_double, &k, c->scratch));
    k.ratio = (pn == 0 || un == 0) ? 1.0 : pn / un;
    eta_parallel_for(p->n, c->threads, f32 ? lamb_apply_float : lamb_apply_double, &k);
}

static const optim_arg lamb_args[] = {
    {"learning_rate", ARG_REAL, offsetof(eta_optim_hparams, lr), 0, false, true, 0, INFINITY, false, true, 0},
    {"b1", ARG_REAL, offsetof(eta_optim_hparams, beta1), 0, false, false, 0, 1, false, true, 0},
    {"b2", ARG_REAL, offsetof(eta_optim_hparams, beta2), 0, false, false, 0, 1, false, true, 0},
    ARG_NONNEG("eps", eps), ARG_NONNEG("eps_root", eps_root), ARG_NONNEG("weight_decay", weight_decay),
    ARG_SWITCH("mask", false),
};

const optim_rule eta_rule_lamb = {
    .kind = ETA_OPTIM_LAMB,
    .name = "LAMB",
    .alias = "lamb",
    .args = lamb_args,
    .nargs = sizeof lamb_args / sizeof lamb_args[0],
    .defaults = {.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-6},
    .state_names = {"exp_avg", "exp_avg_sq", NULL},
    .state_len = eta_optim_state_full,
    .update = lamb_update,
    .momentum_field = offsetof(eta_optim_hparams, beta1),
};

#else /* ETA_TYPED_PASS */

static void TF(lamb_moments)(void *vk, size_t lo, size_t hi)
{
    const lamb_k *k = vk;
    T *restrict m = k->m, *restrict v = k->v;
    const T *restrict g = k->g;
    const T b1 = (T)k->b1, b2 = (T)k->b2, one_b1 = (T)(1 - k->b1), one_b2 = (T)(1 - k->b2);
    for (size_t i = lo; i < hi; i++) {
        m[i] = one_b1 * g[i] + b1 * m[i];
        v[i] = one_b2 * (g[i] * g[i]) + b2 * v[i];
    }
}

/* The Adam direction plus decay at element i. */
static T TF(lamb_u)(const lamb_k *k, size_t i)
{
    const T *p = k->p, *m = k->m, *v = k->v;
    T mh = m[i] / (T)k->bc1, vh = v[i] / (T)k->bc2;
    return mh / (sqrt(vh + (T)k->eps_root) + (T)k->eps) + (T)k->wd * p[i];
}

static double TF(lamb_usq)(void *vk, size_t lo, size_t hi)
{
    const lamb_k *k = vk;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        double u = (double)TF(lamb_u)(k, i);
        s += u * u;
    }
    return s;
}

static void TF(lamb_apply)(void *vk, size_t lo, size_t hi)
{
    const lamb_k *k = vk;
    T *p = k->p;
    const T ratio = (T)k->ratio, neg_lr = (T)(-k->lr);
    for (size_t i = lo; i < hi; i++) {
        T u = TF(lamb_u)(k, i) * ratio; /* u*ratio, then *(-lr), as optax's chain */
        p[i] = p[i] + u * neg_lr;
    }
}

#endif
