/* optim/lars.c - LARS, layer-wise adaptive rate scaling (You et al. 2017), as Optax.
 *
 * optax.lars = chain(add_decayed_weights(wd), scale_by_trust_ratio(tc, eps),
 * scale_by_learning_rate(lr), trace(momentum, nesterov)), per parameter tensor:
 *   u = g + wd*p;  r = tc*|p|/(|u| + eps) (1 if |p| or |u| is 0);  u <- -lr*r*u
 *   t <- u + momentum*t;  p <- p + (u + momentum*t if nesterov else t)
 * The momentum trace comes after the learning rate (Keras-style). The
 * buffer ("momentum_buffer") keeps b = -t, lr-scaled steps with the sign of
 * the gradient, as SGD's momentum_mode='keras' does.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct lars_k {
    void *p, *g, *b;
    double wd, mom, lr;
    double ratio; /* the trust ratio, set after the norm pass */
    bool nesterov;
} lars_k;

#define ETA_SELF "lars.c"
#include "optim/instantiate.h"

static void lars_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    lars_k k = {p->data, p->grad, p->state[0], hp->weight_decay, hp->momentum, hp->lr, 1, hp->nesterov};
    bool f32 = c->dtype == ETA_F32;
    double pn = sqrt(f32 ? eta_sumsq_f32(p->data, p->n, c->scratch, c->threads)
                         : eta_sumsq_f64(p->data, p->n, c->scratch, c->threads));
    double un = sqrt(eta_reduce(p->n, c->threads, f32 ? lars_usq_float : lars_usq_double, &k, c->scratch));
    k.ratio = (pn == 0 || un == 0) ? 1.0 : hp->trust_coefficient * pn / (un + hp->eps);
    eta_parallel_for(p->n, c->threads, f32 ? lars_apply_float : lars_apply_double, &k);
}

static const optim_arg lars_args[] = {
    {"learning_rate", ARG_REAL, offsetof(eta_optim_hparams, lr), 0, false, true, 0, INFINITY, false, true, 0},
    ARG_NONNEG("weight_decay", weight_decay), ARG_SWITCH("weight_decay_mask", false),
    ARG_NONNEG("trust_coefficient", trust_coefficient), ARG_NONNEG("eps", eps),
    ARG_SWITCH("trust_ratio_mask", false), ARG_NONNEG("momentum", momentum), ARG_FLAG("nesterov", nesterov),
};

const optim_rule eta_rule_lars = {
    .kind = ETA_OPTIM_LARS,
    .name = "LARS",
    .alias = "lars",
    .args = lars_args,
    .nargs = sizeof lars_args / sizeof lars_args[0],
    .defaults = {.lr = 1e-3, .trust_coefficient = 1e-3, .momentum = 0.9},
    .state_names = {"momentum_buffer", NULL},
    .state_len = eta_optim_state_full,
    .update = lars_update,
    .momentum_field = offsetof(eta_optim_hparams, momentum),
};

#else /* ETA_TYPED_PASS */

static double TF(lars_usq)(void *vk, size_t lo, size_t hi)
{
    const lars_k *k = vk;
    const T *p = k->p, *g = k->g;
    const T wd = (T)k->wd;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        double u = (double)(g[i] + wd * p[i]);
        s += u * u;
    }
    return s;
}

static void TF(lars_apply)(void *vk, size_t lo, size_t hi)
{
    const lars_k *k = vk;
    T *restrict p = k->p, *restrict b = k->b;
    const T *restrict g = k->g;
    const T wd = (T)k->wd, ratio = (T)k->ratio, mom = (T)k->mom, lr = (T)k->lr;
    for (size_t i = lo; i < hi; i++) {
        /* optax: u <- -lr*r*u; t <- u + mu*t; p <- p + t. The buffer keeps
         * b = -t (positive, like SGD's keras mode), exactly negated. */
        T u = (g[i] + wd * p[i]) * ratio * lr;
        b[i] = u + mom * b[i];
        p[i] = p[i] - (k->nesterov ? u + mom * b[i] : b[i]);
    }
}

#endif
