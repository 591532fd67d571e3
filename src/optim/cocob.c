/* optim/cocob.c - COCOB-Backprop, continuous coin betting (Orabona & Tommasi
 * 2017, "Training Deep Networks without Learning Rates Through Coin
 * Betting", Algorithm 2), as Optax's contrib.cocob.
 *
 * optax.contrib.cocob = chain(add_decayed_weights(wd),
 * scale_by_learning_rate(lr, flip_sign=False), scale_by_cocob(alpha, eps)):
 *   c = lr*(g + wd*p)
 *   L <- max(L, |c|);  G <- G + |c|;  R <- max(R - c*(p - p0), 0);  C <- C - c
 *   u = -p + (p0 + C/(L*max(G + L, alpha*L)) * (L + R));  p <- p + u
 * with L starting at eps and G, R, C at zero. Optax takes p0 (its
 * init_particles) when the state is created; eta takes it at the parameter's
 * first step, so weights loaded after eta_optim_add_param count. lr scales
 * the gradient (1 by default), it is no step size. Optax's argument names;
 * `lr` is accepted for learning_rate.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>
#include <string.h>

#include "optim/rule.h"

typedef struct cocob_k {
    void *p, *g, *p0, *C, *L, *G, *R;
    double lr, wd, alpha;
} cocob_k;

#define ETA_SELF "cocob.c"
#include "optim/instantiate.h"

static void cocob_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    if (c->step == 1)
        memcpy(p->state[0], p->data, p->n * eta_dtype_size(c->dtype));
    cocob_k k = {p->data, p->grad, p->state[0], p->state[1], p->state[2], p->state[3], p->state[4],
                 hp->lr, hp->weight_decay, hp->alpha};
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? cocob_chunk_float : cocob_chunk_double, &k);
}

/* scale starts at eps (Optax's init_fn: ones * eps), in the dtype. */
static void cocob_init(const eta_optim_hparams *hp, optim_param *p, eta_dtype dtype)
{
    for (size_t i = 0; i < p->n; i++) {
        if (dtype == ETA_F32)
            ((float *)p->state[2])[i] = (float)hp->eps;
        else
            ((double *)p->state[2])[i] = hp->eps;
    }
}

static const optim_arg cocob_args[] = {
    {"learning_rate", ARG_REAL, offsetof(eta_optim_hparams, lr), 0, false, false, 0, INFINITY, false, true, 0},
    /* Optax checks neither; alpha <= 0 or eps = 0 would divide 0 by 0 where a
     * gradient element is 0 on the first step. */
    {"alpha", ARG_REAL, offsetof(eta_optim_hparams, alpha), 0, false, false, 0, INFINITY, true, true, 0},
    {"eps", ARG_REAL, offsetof(eta_optim_hparams, eps), 0, false, false, 0, INFINITY, true, true, 0},
    ARG_NONNEG("weight_decay", weight_decay), ARG_SWITCH("mask", false),
};

const optim_rule eta_rule_cocob = {
    .kind = ETA_OPTIM_COCOB,
    .name = "COCOB",
    .alias = "cocob",
    .args = cocob_args,
    .nargs = sizeof cocob_args / sizeof cocob_args[0],
    .defaults = {.lr = 1.0, .alpha = 100.0, .eps = 1e-8},
    .state_names = {"init_particles", "cumulative_gradients", "scale", "subgradients", "reward", NULL},
    .state_len = eta_optim_state_full,
    .init = cocob_init,
    .update = cocob_update,
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

/* jnp.maximum: NaN propagates. */
#define NAN_MAX(a, b) ((a) > (b) || (a) != (a) ? (a) : (b))

/* Optax's operations in its order, in the dtype. */
static void TF(cocob_chunk)(void *vk, size_t lo, size_t hi)
{
    const cocob_k *k = vk;
    T *restrict p = k->p, *restrict C = k->C, *restrict L = k->L, *restrict G = k->G, *restrict R = k->R;
    const T *restrict g = k->g, *restrict p0 = k->p0;
    const T lr = (T)k->lr, wd = (T)k->wd, alpha = (T)k->alpha;
    for (size_t i = lo; i < hi; i++) {
        T c = lr * (g[i] + wd * p[i]);
        T ac = fabs(c);
        L[i] = NAN_MAX(L[i], ac);
        G[i] = G[i] + ac;
        T r = R[i] - c * (p[i] - p0[i]);
        R[i] = NAN_MAX(r, (T)0);
        C[i] = C[i] - c;
        T den = L[i] * NAN_MAX(G[i] + L[i], alpha * L[i]);
        T u = -p[i] + (p0[i] + C[i] / den * (L[i] + R[i]));
        p[i] = p[i] + u;
    }
}

#undef NAN_MAX

#endif
