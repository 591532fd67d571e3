/* optim/rprop.c - Rprop, resilient backpropagation (full-batch).
 *
 * torch.optim.Rprop (2.x):
 *   g <- -g if maximize;  s = sign(g*prev)
 *   step <- clamp(step * (etaplus if s > 0, etaminus if s < 0, 1 if s == 0), min, max)
 *   where s < 0: g <- 0
 *   p <- p - sign(g)*step;  prev <- g
 * Step sizes start at the group's lr at the parameter's first step.
 */
#ifndef ETA_TYPED_PASS
#include <math.h>
#include <stddef.h>

#include "optim/rule.h"

typedef struct rprop_k {
    void *p, *g, *prev, *step;
    double eminus, eplus, smin, smax;
    bool maximize;
} rprop_k;

#define ETA_SELF "rprop.c"
#include "optim/instantiate.h"

static void rprop_update(const optim_ctx *c, optim_param *p)
{
    const eta_optim_hparams *hp = c->hp;
    rprop_k k = {p->data, p->grad, p->state[0], p->state[1], hp->etas[0], hp->etas[1], hp->step_sizes[0],
                 hp->step_sizes[1], hp->maximize};
    if (c->step == 1) {
        for (size_t i = 0; i < p->n; i++) {
            if (c->dtype == ETA_F32)
                ((float *)p->state[1])[i] = (float)hp->lr;
            else
                ((double *)p->state[1])[i] = hp->lr;
        }
    }
    eta_parallel_for(p->n, c->threads, c->dtype == ETA_F32 ? rprop_chunk_float : rprop_chunk_double, &k);
}

static int rprop_check(const eta_optim_hparams *hp, eta_err *err)
{
    if (!(0 < hp->etas[0] && hp->etas[0] < 1 && 1 < hp->etas[1]))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "etas must satisfy 0 < etaminus < 1 < etaplus, got (%g, %g)",
                             hp->etas[0], hp->etas[1]);
    if (!(hp->step_sizes[0] <= hp->step_sizes[1]))
        return eta_spec_fail(err, ETA_EINVAL, NULL, "step_sizes must satisfy min <= max, got (%g, %g)",
                             hp->step_sizes[0], hp->step_sizes[1]);
    return ETA_OK;
}

static const optim_arg rprop_args[] = {
    ARG_LR(false),
    {"etas", ARG_PAIR, offsetof(eta_optim_hparams, etas), offsetof(eta_optim_hparams, etas) + sizeof(double),
     false, false, 0, INFINITY, true, true, 0},
    {"step_sizes", ARG_PAIR, offsetof(eta_optim_hparams, step_sizes),
     offsetof(eta_optim_hparams, step_sizes) + sizeof(double), false, false, 0, INFINITY, false, true, 0},
    ARG_SWITCH("capturable", true), ARG_SWITCH("foreach", true), ARG_FLAG_KW("maximize", maximize),
    ARG_SWITCH("differentiable", true),
};

const optim_rule eta_rule_rprop = {
    .kind = ETA_OPTIM_RPROP,
    .name = "Rprop",
    .args = rprop_args,
    .nargs = sizeof rprop_args / sizeof rprop_args[0],
    .defaults = {.lr = 1e-2, .etas = {0.5, 1.2}, .step_sizes = {1e-6, 50}},
    .check = rprop_check,
    .state_names = {"prev", "step_size", NULL},
    .state_len = eta_optim_state_full,
    .update = rprop_update,
    .momentum_field = (size_t)-1,
};

#else /* ETA_TYPED_PASS */

static void TF(rprop_chunk)(void *vk, size_t lo, size_t hi)
{
    const rprop_k *k = vk;
    T *restrict p = k->p, *restrict prev = k->prev, *restrict st = k->step;
    const T *restrict g = k->g;
    const T eminus = (T)k->eminus, eplus = (T)k->eplus, smin = (T)k->smin, smax = (T)k->smax;
    for (size_t i = lo; i < hi; i++) {
        T d = k->maximize ? -g[i] : g[i];
        T s = d * prev[i];
        T f = s > 0 ? eplus : s < 0 ? eminus : s == 0 ? (T)1 : s; /* NaN stays NaN */
        T z = st[i] * f;
        z = z != z ? z : z < smin ? smin : z > smax ? smax : z;
        st[i] = z;
        if (s < 0)
            d = 0;
        T sg = d > 0 ? (T)1 : d < 0 ? (T)-1 : d == 0 ? (T)0 : d;
        p[i] = p[i] + (T)(-1) * sg * z;
        prev[i] = d;
    }
}

#endif
